"""The text helpers: echoed input, cleaned facts, quoted settings, whole numbers."""

from __future__ import annotations

import discord
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.text import MAX_FACT_LENGTH, SHOWN_LENGTH, clean_fact, echo, shown, whole_number


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


@pytest.mark.parametrize(
    ("token", "echoed"),
    [
        ("abc", "`abc`"),
        ("a`b", "`a'b`"),
        ("x" * 21, f"`{'x' * 20}…`"),
        ("x" * 20, f"`{'x' * 20}`"),
    ],
)
def test_echo_quotes_and_shortens_user_input(token: str, echoed: str) -> None:
    assert echo(token) == echoed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Cats purr.\n", "Cats purr."),
        ("Line one\n# Heading", "Line one # Heading"),  # no longer at a line start
        ("# Heading", r"\# Heading"),
        ("> quote", r"\> quote"),
        ("1. Cats are great", r"1\. Cats are great"),
        ("12. and 3. more", r"12\. and 3. more"),  # only at the start is it a list
        ("[link](https://example.org)", r"\[link](https://example.org)"),
        (
            "**bold** _it_ `code` ~~x~~ ||spoiler||",
            r"\*\*bold\*\* \_it\_ \`code\` \~\~x\~\~ \|\|spoiler\|\|",
        ),
        ("Hi @everyone and @here", "Hi @\u200beveryone and @\u200bhere"),
        ("<@123456789012345678> and <@&123456789012345678>", None),
        ("<#123456789012345678> <:cat:123456789012345678> <t:1700000000>", None),
        ("", None),
        (" \n\t ", None),
    ],
)
def test_clean_fact(raw: str, expected: str | None) -> None:
    cleaned = clean_fact(raw)
    if expected is not None or not raw.strip():
        assert cleaned == expected
    else:
        assert cleaned is not None
        assert "<@" not in cleaned
        assert "<#" not in cleaned
        assert "<:" not in cleaned
        assert "<t:" not in cleaned


def test_a_long_fact_is_capped_without_a_dangling_escape() -> None:
    cleaned = clean_fact("a" * (MAX_FACT_LENGTH - 2) + "*" * 10)
    assert cleaned is not None
    assert len(cleaned) <= MAX_FACT_LENGTH
    assert cleaned.endswith("a…")


@given(st.text(max_size=300))
def test_cleaned_text_never_pings_and_always_fits(raw: str) -> None:
    cleaned = clean_fact(raw)
    if cleaned is None:
        assert not raw.split()
        return
    assert 0 < len(cleaned) <= MAX_FACT_LENGTH
    assert "\n" not in cleaned
    assert cleaned == discord.utils.escape_mentions(cleaned)
    assert "<@" not in cleaned
