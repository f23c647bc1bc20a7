"""The number parser and exact arithmetic, by example and by property (hypothesis).

The oracle is :class:`fractions.Fraction`, which shares no code with the ``Decimal`` path.
"""

from __future__ import annotations

import decimal
import re
from fractions import Fraction

import discord
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.error_handler import describe_operand_error
from bot.operands import (
    MAX_OPERAND_LENGTH,
    MAX_OPERANDS,
    OperandError,
    Problem,
    add,
    format_number,
    parse_number,
    parse_operands,
    subtract,
)

# Numbers as people type them: optional sign, digits, optional fraction.
plain_numbers = st.from_regex(
    r"[+-]?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})", fullmatch=True
)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("abc", Problem.NOT_A_NUMBER),
        ("1e3", Problem.EXPONENT),
        ("", Problem.NOT_A_NUMBER),
        ("-", Problem.NOT_A_NUMBER),
        (".", Problem.NOT_A_NUMBER),
        ("1.2.3", Problem.NOT_A_NUMBER),
        ("NaN", Problem.NOT_FINITE),
        ("-inf", Problem.NOT_FINITE),
        ("sNaN", Problem.NOT_FINITE),
        ("Infinity", Problem.NOT_FINITE),
        ("1" * (MAX_OPERAND_LENGTH + 1), Problem.TOO_LONG),
    ],
)
def test_parse_number_names_the_problem(token: str, problem: Problem) -> None:
    with pytest.raises(OperandError) as caught:
        parse_number(token)
    assert caught.value.problem is problem
    assert caught.value.token == token


def test_the_longest_allowed_number_parses() -> None:
    assert parse_number("9" * MAX_OPERAND_LENGTH) == decimal.Decimal("9" * MAX_OPERAND_LENGTH)


def test_operand_count_is_bounded_before_any_conversion() -> None:
    with pytest.raises(OperandError) as caught:
        parse_operands(" ".join(["x"] * (MAX_OPERANDS + 1)))  # too many wins over "not a number"
    assert caught.value.problem is Problem.TOO_MANY
    assert caught.value.token == ""  # no one number is to blame


@pytest.mark.parametrize("text", ["", "   ", "7", " 7 "])
def test_fewer_than_two_numbers_are_refused(text: str) -> None:
    with pytest.raises(OperandError) as caught:
        parse_operands(text)
    assert caught.value.problem is Problem.TOO_FEW
    assert caught.value.token == text.strip()  # what was typed, for whoever handles the error


@pytest.mark.parametrize(
    ("problem", "token", "text"),
    [
        (Problem.NOT_A_NUMBER, "two", "not a number: 'two'"),
        (Problem.TOO_LONG, "9" * 60, f"too long: '{'9' * MAX_OPERAND_LENGTH}'"),
        (Problem.TOO_MANY, "", "too many numbers: ''"),
    ],
)
def test_an_operand_error_reads_clearly_in_a_traceback(
    problem: Problem, token: str, text: str
) -> None:
    # Built in the test, not in the parameters: code that runs at collection is not under test.
    assert str(OperandError(problem, token)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0.30", "0.3"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("100", "100"),
        ("1.000001", "1.000001"),
        ("-12.50", "-12.5"),
        ("0.0000001", "0.0000001"),  # Decimal's own str() would say 1E-7
        ("-0.00000010", "-0.0000001"),
    ],
)
def test_format_number_is_plain_and_short(value: str, text: str) -> None:
    assert format_number(decimal.Decimal(value)) == text


def test_subtract_takes_everything_from_the_first() -> None:
    numbers = [decimal.Decimal(x) for x in ("10", "1", "2")]
    assert subtract(numbers) == 7


def assert_exact(tokens: list[str]) -> None:
    """The sum and difference of ``tokens`` agree with ``fractions.Fraction``, the oracle."""
    numbers = parse_operands(" ".join(tokens))
    fractions = [Fraction(token) for token in tokens]
    assert Fraction(format_number(add(numbers))) == sum(fractions)
    assert Fraction(format_number(subtract(numbers))) == fractions[0] - sum(fractions[1:])


@given(st.lists(plain_numbers, min_size=2, max_size=MAX_OPERANDS))
def test_sum_and_difference_are_exact(tokens: list[str]) -> None:
    assert_exact(tokens)


# The longest numbers allowed: exactly 50 characters, the point anywhere inside.
longest_numbers = st.integers(min_value=1, max_value=MAX_OPERAND_LENGTH - 2).flatmap(
    lambda whole: st.builds(
        lambda a, b: f"{a}.{b}",
        st.text(alphabet="0123456789", min_size=whole, max_size=whole),
        st.text(
            alphabet="0123456789",
            min_size=MAX_OPERAND_LENGTH - 1 - whole,
            max_size=MAX_OPERAND_LENGTH - 1 - whole,
        ),
    )
)


@settings(max_examples=50)  # each example is 25 numbers of 50 digits
@given(st.lists(longest_numbers, min_size=MAX_OPERANDS, max_size=MAX_OPERANDS))
@example(["9" * MAX_OPERAND_LENGTH] * (MAX_OPERANDS - 1) + ["." + "9" * (MAX_OPERAND_LENGTH - 1)])
@example(["9" * (MAX_OPERAND_LENGTH - 2) + ".9", "0." + "0" * 47 + "1"] * 12 + ["1"])
def test_the_largest_inputs_stay_exact(tokens: list[str]) -> None:
    assert_exact(tokens)


@given(st.text(max_size=300))
@example("@everyone 1")
@example("1 2 <@123456789012345678>")
@example("9**9**9 1")
@example("1e999999999 1")
@example("\N{ARABIC-INDIC DIGIT ONE} 2")
@example("\N{MINUS SIGN}1 2")
def test_any_text_gives_an_exact_result_or_an_operand_error(text: str) -> None:
    error: OperandError | None = None
    try:
        numbers = parse_operands(text)
    except OperandError as caught:  # the one exception allowed
        error = caught
    if error is not None:  # ... and it points at the culprit
        tokens = text.split()
        if error.problem in {
            Problem.NOT_A_NUMBER,
            Problem.NOT_FINITE,
            Problem.EXPONENT,
            Problem.TOO_LONG,
        }:
            assert error.token in tokens
        elif error.problem is Problem.TOO_FEW:
            assert len(tokens) < 2
        else:
            assert len(tokens) > MAX_OPERANDS
        return
    tokens = [token.replace("\N{MINUS SIGN}", "-") for token in text.split()]
    assert all(re.fullmatch(r"[+-]?[0-9.]+", token) for token in tokens)
    assert Fraction(format_number(add(numbers))) == sum(Fraction(token) for token in tokens)


@given(plain_numbers)
def test_formatting_round_trips(token: str) -> None:
    text = format_number(parse_number(token))
    assert Fraction(text) == Fraction(token)
    assert "e" not in text.lower()
    assert text == "0" or not text.endswith(("0", ".")) or "." not in text


@given(st.text(max_size=300))
@example("@everyone 1")
@example("<@123456789012345678> 2")
def test_no_reply_to_bad_numbers_can_mention_anyone(text: str) -> None:
    try:
        parse_operands(text)
    except OperandError as error:
        reply = describe_operand_error(error)
        assert discord.utils.escape_mentions(reply) == reply
        assert "<@" not in reply


@pytest.mark.parametrize(
    ("token", "plain"),
    [
        ("1e49", "1" + "0" * 49),  # exactly the longest number accepted
        ("1.5e2", "150"),
        ("1.2345678901234567890123456789012345678901234e-9", None),  # 54 characters written out
        ("1e50", None),
        ("1e-49", None),
    ],
)
def test_an_exponent_is_shown_written_out_when_that_would_be_accepted(
    token: str, plain: str | None
) -> None:
    with pytest.raises(OperandError) as caught:
        parse_number(token)
    assert caught.value.problem is Problem.EXPONENT
    assert caught.value.plain == plain
    if plain is not None:
        assert parse_number(plain) == decimal.Decimal(token)
