"""What each server setting may be, and the reply to each mistake: hostile values included."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.facts import LANGUAGES
from bot.guild_settings import InvalidSetting, check_name, parse
from bot.guild_settings.rules import parse_cooldown, parse_language, parse_prefix


@pytest.mark.parametrize("prefix", ["?", "!!", "$$$$$", "cat.", "ç", "🐱", ">"])
def test_a_prefix_of_one_to_five_visible_characters_is_taken(prefix: str) -> None:
    assert parse_prefix(prefix) == prefix


@pytest.mark.parametrize(
    ("prefix", "reply"),
    [
        ("", "A prefix needs 1 to 5 characters, such as `?`."),
        ("x" * 5000, "`xxxxxxxxxx…` is too long: a prefix has at most 5 characters."),
        ("a b", "A prefix can't contain spaces."),
        ("a\tb", "A prefix can't contain spaces."),
        ("@", "A prefix can't contain `@`: it could ping people."),
        ("<@1>", "A prefix can't contain `@`: it could ping people."),
        ("`", "A prefix can't contain a backtick: it would break how commands are shown."),
        ("\\", "A prefix can't contain `\\`: Discord reads it as an escape."),
        ("a\x00", "A prefix can only hold characters you can see: letters, digits or symbols."),
        ("\u200b!", "A prefix can only hold characters you can see: letters, digits or symbols."),
        ("!\u202e", "A prefix can only hold characters you can see: letters, digits or symbols."),
    ],
)
def test_a_bad_prefix_gets_a_reply_naming_the_problem(prefix: str, reply: str) -> None:
    with pytest.raises(InvalidSetting) as caught:
        parse_prefix(prefix)
    assert str(caught.value) == reply


def test_an_everyone_mention_as_a_prefix_is_refused_without_pinging() -> None:
    with pytest.raises(InvalidSetting) as caught:
        parse("prefix", "@everyone")
    # The reply repeats it inertly: a zero-width space keeps "@everyone" from being a mention.
    assert str(caught.value) == (
        "`@\u200beveryone` is too long: a prefix has at most 5 characters."
    )


@pytest.mark.parametrize(
    "text", ["ger", "ger-de", "German", "german", "Deutsch", " DEUTSCH ", "de", "DE"]
)
def test_a_language_is_found_by_code_or_name(text: str) -> None:
    assert parse_language(text).code == "ger-de"
    assert parse("language", text) == {"language": "ger-de"}


def test_every_language_is_found_by_each_of_its_names_and_locales() -> None:
    for language in LANGUAGES:
        for text in (language.code, language.english, language.native, *language.locales):
            assert parse_language(text) == language


def test_an_unknown_language_gets_the_list_of_valid_ones() -> None:
    with pytest.raises(InvalidSetting) as caught:
        parse_language("Klingon")
    reply = str(caught.value)
    assert reply.startswith("I don't know the language `Klingon`. I can speak: English (`eng`), ")
    assert "German (`ger`)" in reply
    assert "Spanish (Mexico) (`esp-mx`)" in reply
    assert len(reply) < 2000  # one Discord message


def test_markdown_and_mentions_in_a_language_are_echoed_inertly() -> None:
    with pytest.raises(InvalidSetting) as caught:
        parse_language("**@everyone** `x`")
    reply = str(caught.value)
    assert "@everyone" not in reply  # neutralised with a zero-width space
    assert reply.count("`") % 2 == 0  # the echo cannot break out of its code span


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("10", 10), ("3600", 3600), ("5s", 5)])
def test_a_cooldown_is_whole_seconds_up_to_an_hour(text: str, seconds: int) -> None:
    assert parse_cooldown(text) == seconds
    assert parse("cooldown", text) == {"cooldown": seconds}


@pytest.mark.parametrize(
    "text", ["-1", "3601", "1.5", "ten", "", "\uff11\uff10", "1e3", "99999999999999", "9" * 5000]
)
def test_a_bad_cooldown_says_what_is_allowed(text: str) -> None:
    with pytest.raises(
        InvalidSetting, match=r"^The cooldown is a whole number of seconds from 0 to"
    ):
        parse_cooldown(text)


@pytest.mark.parametrize("name", ["prefix", "PREFIX", " Language", "cooldown"])
def test_setting_names_are_read_in_any_case(name: str) -> None:
    assert check_name(name) == name.strip().lower()


def test_an_unknown_setting_names_the_real_ones() -> None:
    with pytest.raises(InvalidSetting) as caught:
        check_name("colour")
    assert str(caught.value) == (
        "There is no setting called `colour`. The settings: `prefix`, `language`, `cooldown`."
    )


@given(st.text(max_size=50))
def test_any_prefix_is_taken_or_refused_in_words_and_never_pings(text: str) -> None:
    try:
        assert parse_prefix(text) == text
    except InvalidSetting as refused:
        reply = str(refused)
        assert len(reply) < 200
        assert "@everyone" not in reply
        assert "@here" not in reply
    else:
        assert "@" not in text
        assert 1 <= len(text) <= 5
