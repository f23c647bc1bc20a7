"""The language table: every language meowfacts has, the names people type for it, the Discord
locales that map to it, the providers that serve it, and the page that documents it."""

from __future__ import annotations

import itertools
from pathlib import Path

import discord
import pytest

from bot.facts import (
    ENGLISH,
    LANGUAGES,
    Language,
    by_code,
    find_language,
    language_for_locale,
)
from bot.facts.providers import CatFactNinja, Meowfacts

MEOWFACTS = {
    "ben-in": "30",
    "ces-cz": "87",
    "eng-us": "91",
    "esp-es": "90",
    "esp-mx": "89",
    "fil-tl": "90",
    "fra-fr": "87",
    "ger-de": "100 (94 different)",
    "ita-it": "90",
    "kor-ko": "89",
    "por-br": "90",
    "rus-ru": "90",
    "ukr-ua": "90",
    "urd-ud": "80",
    "zho-tw": "90",
}
"""meowfacts' languages and how many facts each holds (its source, 2024-10)."""

LOCALES = {
    "de": "ger-de",
    "fr": "fra-fr",
    "es-ES": "esp-es",
    "es-419": "esp-mx",
    "it": "ita-it",
    "pt-BR": "por-br",
    "ru": "rus-ru",
    "uk": "ukr-ua",
    "ko": "kor-ko",
    "zh-TW": "zho-tw",
    "cs": "ces-cz",
    "en-US": "eng-us",
    "en-GB": "eng-us",
}
"""Every Discord locale with a meowfacts language."""

FACTS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "facts.md"


def ids(language: Language) -> str:
    return language.code


def test_every_meowfacts_language_is_there_once() -> None:
    assert sorted(language.code for language in LANGUAGES) == sorted(MEOWFACTS)


def test_english_comes_first_and_the_rest_by_english_name() -> None:
    assert LANGUAGES[0] is ENGLISH
    assert ENGLISH.code == "eng-us"
    names = [language.english for language in LANGUAGES[1:]]
    assert names == sorted(names)


def test_a_short_code_is_the_full_code_s_first_part_where_meowfacts_takes_it() -> None:
    for language in LANGUAGES:
        assert language.short in (language.code.split("-")[0], None)
    shorts = [language.short for language in LANGUAGES if language.short is not None]
    assert len(shorts) == len(set(shorts)) == len(LANGUAGES) - 1
    assert by_code("esp-mx").short is None  # "esp" means esp-es


@pytest.mark.parametrize("language", LANGUAGES, ids=ids)
def test_a_language_is_found_by_each_of_its_names(language: Language) -> None:
    names = [language.code, language.short, language.english, language.native]
    for name in filter(None, names):
        for form in (name, name.upper(), name.lower(), f"  {name}\t"):
            assert find_language(form) is language, form


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("espanol (mexico)", "esp-mx"),
        ("ESPAÑOL-MÉXICO", "esp-mx"),
        ("Spanish Mexico", "esp-mx"),
        ("esp", "esp-es"),
        ("Francais", "fra-fr"),
        ("cestina", "ces-cz"),
        ("portugues  brasil", "por-br"),
        ("中文(台灣)", "zho-tw"),
        ("DEUTSCH", "ger-de"),
        ("русский", "rus-ru"),
    ],
)
def test_a_name_is_found_without_its_accents_or_brackets(text: str, code: str) -> None:
    assert find_language(text) == by_code(code)


@pytest.mark.parametrize("text", ["", "  ", "klingon", "es", "ja", "ger-at", "eng-us-x"])
def test_anything_else_names_no_language(text: str) -> None:
    assert find_language(text) is None


def test_a_stored_code_is_looked_up_exactly() -> None:
    for language in LANGUAGES:
        assert by_code(language.code) is language
    for code in ("ger", "GER-DE", "xx-yy"):
        with pytest.raises(KeyError):
            by_code(code)


@pytest.mark.parametrize(("locale", "code"), sorted(LOCALES.items()))
def test_a_discord_locale_maps_to_its_language(locale: str, code: str) -> None:
    assert language_for_locale(locale) is by_code(code)
    assert language_for_locale(discord.Locale(locale)) is by_code(code)


def test_the_table_lists_exactly_those_locales_and_discord_knows_them_all() -> None:
    listed = {locale: language.code for language in LANGUAGES for locale in language.locales}
    assert listed == LOCALES
    known = {locale.value for locale in discord.Locale}
    assert set(listed) <= known


@pytest.mark.parametrize("locale", [None, "ja", "zh-CN", "pt-PT", "DE", "", discord.Locale.hindi])
def test_any_other_locale_means_english(locale: str | discord.Locale | None) -> None:
    assert language_for_locale(locale) is ENGLISH


def test_meowfacts_serves_every_language_and_catfact_ninja_english_only() -> None:
    meowfacts, ninja = Meowfacts("http://x.invalid/"), CatFactNinja("http://x.invalid/")
    assert all(meowfacts.serves(language.code) for language in LANGUAGES)
    assert [language for language in LANGUAGES if ninja.serves(language.code)] == [ENGLISH]
    assert not meowfacts.serves("ger")  # a short code is not what providers are asked for


def test_the_facts_page_lists_every_language_as_the_table_has_it() -> None:
    section = FACTS_PAGE.read_text().split("\n## Languages\n", 1)[1].splitlines()
    table = itertools.takewhile(bool, itertools.dropwhile(lambda line: line[:1] != "|", section))
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in list(table)[2:]]

    def codes(values: tuple[str, ...]) -> str:
        return ", ".join(f"`{value}`" for value in values) or "none"

    expected = [
        [
            language.english,
            language.native,
            f"`{language.code}`",
            f"`{language.short}`" if language.short else rows[index][3],
            codes(language.locales),
            MEOWFACTS[language.code],
        ]
        for index, language in enumerate(LANGUAGES)
    ]
    assert rows == expected
    assert rows[LANGUAGES.index(by_code("esp-mx"))][3].startswith("none")
