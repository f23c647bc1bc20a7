"""What each server setting may be, read from what an admin typed, with a reply for each mistake.

Every value comes from a chat message, so every rule has a short reply that names the problem,
and nothing a reply repeats can ping anyone (:func:`~bot.text.echo`).
"""

from __future__ import annotations

import unicodedata

from discord.ext import commands

from bot.facts import LANGUAGES, Language, find_language
from bot.text import echo, whole_number

MAX_PREFIX_LENGTH = 5
COOLDOWN_RANGE = (0, 3600)
FORBIDDEN_IN_PREFIX = {
    "@": "it could ping people",
    "`": "it would break how commands are shown",
    "\\": "Discord reads it as an escape",
}
_INVISIBLE = ("C", "Z")
"""Unicode categories of control, format, unassigned and separator characters."""


class InvalidSetting(commands.BadArgument):
    """A setting's name or value that the bot refuses; the message is the reply."""


NAMES = ("prefix", "language", "cooldown")
"""The settings a server can change, in the order ``!settings`` lists them."""


def check_name(name: str) -> str:
    """The setting ``name`` refers to (any case)."""
    lowered = name.strip().lower()
    if lowered not in NAMES:
        known = ", ".join(f"`{known}`" for known in NAMES)
        raise InvalidSetting(f"There is no setting called {echo(name)}. The settings: {known}.")
    return lowered


def parse_prefix(text: str) -> str:
    """1 to 5 visible characters, none of which could ping or break a reply."""
    if not text:
        raise InvalidSetting(f"A prefix needs 1 to {MAX_PREFIX_LENGTH} characters, such as `?`.")
    if len(text) > MAX_PREFIX_LENGTH:
        raise InvalidSetting(
            f"{echo(text, 10)} is too long: a prefix has at most {MAX_PREFIX_LENGTH} characters."
        )
    if any(char.isspace() for char in text):
        raise InvalidSetting("A prefix can't contain spaces.")
    invisible = any(unicodedata.category(char).startswith(_INVISIBLE) for char in text)
    if invisible or unicodedata.combining(text[0]):  # a mark on nothing shows as nothing
        raise InvalidSetting(
            "A prefix can only hold characters you can see: letters, digits or symbols."
        )
    for char, why in FORBIDDEN_IN_PREFIX.items():
        if char in text:
            shown = "a backtick" if char == "`" else f"`{char}`"
            raise InvalidSetting(f"A prefix can't contain {shown}: {why}.")
    return text


def parse_language(text: str) -> Language:
    """A meowfacts language, by its code or its name in English or in itself."""
    found = find_language(text)
    if found is None:
        names = ", ".join(
            f"{language.english} (`{language.short or language.code}`)" for language in LANGUAGES
        )
        raise InvalidSetting(f"I don't know the language {echo(text)}. I can speak: {names}.")
    return found


def parse_cooldown(text: str) -> int:
    """Whole seconds from 0 to 3600; 0 turns the cooldown off."""
    low, high = COOLDOWN_RANGE
    seconds = whole_number(text.strip().removesuffix("s").strip(), high)
    if seconds is None or not low <= seconds <= high:
        raise InvalidSetting(
            f"The cooldown is a whole number of seconds from {low} to {high} (0 turns it off), "
            f"not {echo(text)}."
        )
    return seconds


def parse(name: str, value: str) -> dict[str, str | int]:
    """The column ``name`` sets and the value ``value`` gives it, checked."""
    match check_name(name):
        case "prefix":
            return {"prefix": parse_prefix(value.strip())}
        case "language":
            return {"language": parse_language(value).code}
        case _:
            return {"cooldown": parse_cooldown(value)}


__all__ = [
    "COOLDOWN_RANGE",
    "MAX_PREFIX_LENGTH",
    "NAMES",
    "InvalidSetting",
    "check_name",
    "parse",
    "parse_cooldown",
    "parse_language",
    "parse_prefix",
]
