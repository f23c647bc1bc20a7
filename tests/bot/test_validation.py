"""How configuration errors repeat a bad value, and how whole numbers are read, huge ones too."""

from __future__ import annotations

import pytest

from bot.validation import SHOWN_LENGTH, shown, whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", "'abc'"),
        ("x" * SHOWN_LENGTH, repr("x" * SHOWN_LENGTH)),
        ("x" * (SHOWN_LENGTH + 1), repr("x" * SHOWN_LENGTH) + "..."),
        ("a\nb", "'a\\nb'"),
    ],
)
def test_a_bad_value_is_quoted_on_one_line_and_cut_with_an_ellipsis_past_the_limit(
    text: str, expected: str
) -> None:
    assert shown(text) == expected


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("007", 7),
        ("00001", 1),  # leading zeros do not make a number long
        ("100", 100),
        ("101", 101),
        ("150", 101),
        ("1000", 101),
        ("1" * 5000, 101),  # past int()'s 4,300-digit limit, without building the number
        ("-1", None),
        ("1.5", None),
        ("\N{ARABIC-INDIC DIGIT THREE}", None),
    ],
)
def test_a_whole_number_above_the_limit_reads_as_one_past_it(text: str, value: int | None) -> None:
    assert whole_number(text, 100) == value
