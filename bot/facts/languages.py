"""The languages cat facts come in: meowfacts' fifteen, how people name them, and Discord's locales.

A :class:`Language` is known by meowfacts' full code (``ger-de``): the value a server's choice is
stored as and the one sent as ``lang=``. :func:`find_language` reads what a person types (a code,
a short code, the English or the native name, in any case, with or without accents);
:func:`language_for_locale` maps a Discord locale to its language, English when there is none;
:func:`by_code` looks up a stored code.
"""

from __future__ import annotations

import dataclasses
import unicodedata

import discord


@dataclasses.dataclass(frozen=True, slots=True)
class Language:
    """One language meowfacts has facts in."""

    code: str
    """meowfacts' full code (``ger-de``): what is stored, and sent as ``lang=``."""
    short: str | None
    """The 3-letter code meowfacts also accepts for it (``ger``); None where that code means
    another variant (``esp`` is esp-es, so esp-mx has none)."""
    english: str
    """Its name in English (``German``)."""
    native: str
    """Its name in itself (``Deutsch``)."""
    locales: tuple[str, ...] = ()
    """The Discord locales (:class:`discord.Locale` values) whose users read it."""


ENGLISH = Language("eng-us", "eng", "English", "English", ("en-US", "en-GB"))
"""meowfacts' default, and the language of every fact when nothing else is known."""

LANGUAGES: tuple[Language, ...] = (
    ENGLISH,
    Language("ben-in", "ben", "Bengali", "বাংলা"),
    # Chinese text takes full-width brackets.
    Language("zho-tw", "zho", "Chinese (Taiwan)", "中文（台灣）", ("zh-TW",)),  # noqa: RUF001
    Language("ces-cz", "ces", "Czech", "Čeština", ("cs",)),
    Language("fil-tl", "fil", "Filipino", "Filipino"),
    Language("fra-fr", "fra", "French", "Français", ("fr",)),
    Language("ger-de", "ger", "German", "Deutsch", ("de",)),
    Language("ita-it", "ita", "Italian", "Italiano", ("it",)),
    Language("kor-ko", "kor", "Korean", "한국어", ("ko",)),
    Language("por-br", "por", "Portuguese (Brazil)", "Português (Brasil)", ("pt-BR",)),
    Language("rus-ru", "rus", "Russian", "Русский", ("ru",)),
    Language("esp-es", "esp", "Spanish", "Español", ("es-ES",)),
    Language("esp-mx", None, "Spanish (Mexico)", "Español (México)", ("es-419",)),
    Language("ukr-ua", "ukr", "Ukrainian", "Українська", ("uk",)),
    Language("urd-ud", "urd", "Urdu", "اردو"),
)
"""Every language meowfacts has, in display order: English, then by English name."""


_SEPARATING = frozenset("PZS")
"""Unicode categories (their first letter) read as a space in a name: punctuation, separators
and symbols."""


def _key(text: str) -> str:
    """What a name is compared by: case folded, accents dropped, punctuation and runs of spaces
    made one space (so ``Espanol (mexico)``, ``español méxico`` and ``ESPAÑOL-MÉXICO`` agree)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = unicodedata.normalize(
        "NFC", "".join(char for char in decomposed if not unicodedata.combining(char))
    )
    spaced = "".join(" " if unicodedata.category(char)[0] in _SEPARATING else char for char in bare)
    return " ".join(spaced.split())


_BY_KEY: dict[str, Language] = {
    _key(name): language
    for language in LANGUAGES
    for name in (language.code, language.short, language.english, language.native)
    if name is not None
}
_BY_CODE: dict[str, Language] = {language.code: language for language in LANGUAGES}
_BY_LOCALE: dict[str, Language] = {
    locale: language for language in LANGUAGES for locale in language.locales
}


def find_language(text: str) -> Language | None:
    """The language ``text`` names: its full or short code, its English or native name (in any
    case, with or without accents), or a Discord locale of its speakers (``de``, ``pt-BR``).
    None when it names none of them."""
    return _BY_KEY.get(_key(text)) or _BY_LOCALE_KEY.get(text.strip().casefold())


_BY_LOCALE_KEY: dict[str, Language] = {
    locale.casefold(): language for locale, language in _BY_LOCALE.items()
}


def by_code(code: str) -> Language:
    """The language whose full code is ``code`` exactly (a stored value); KeyError otherwise."""
    return _BY_CODE[code]


def language_for_locale(locale: str | discord.Locale | None) -> Language:
    """The language of users of Discord ``locale`` (``de`` → German); English when meowfacts
    has none for it (or there is no locale)."""
    if locale is None:
        return ENGLISH
    return _BY_LOCALE.get(str(locale), ENGLISH)


__all__ = ["ENGLISH", "LANGUAGES", "Language", "by_code", "find_language", "language_for_locale"]
