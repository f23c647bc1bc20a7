"""Text helpers: making untrusted text safe to show, and reading what people type.

Everything the bot shows that it did not write itself passes through here: user input echoed in
a reply (:func:`echo`), third-party cat facts (:func:`clean_fact`) and configuration values quoted
in an error (:func:`shown`). :data:`TOKEN_SHAPE` is what a Discord bot token looks like, for the
settings check and for masking tokens in logs.
"""

from __future__ import annotations

import re

import discord

# Mentions and other <...> tokens (channels, emoji, timestamps) are neutralised by a zero-width
# space after the "<", which Discord then shows as plain text.
_ANGLE_TOKEN = re.compile(r"<(?=[@#:at/])")

ECHO_LENGTH = 20
"""How much of a user's input a reply repeats."""

SHOWN_LENGTH = 40
"""How much of a bad setting an error message repeats; an environment variable can be huge."""

MAX_FACT_LENGTH = 4096
"""Discord refuses an embed description longer than this; a cleaned fact always fits."""

TOKEN_PART_LENGTHS = (20, 4, 20)
"""The shortest each dot-separated part of a bot token is (the bot's id, a timestamp, a
signature, each base64url)."""
TOKEN_CHARACTERS = "A-Za-z0-9_-"  # noqa: S105  # a character class, not a secret
"""What a part of a bot token is written with, as a regex character class's contents."""
TOKEN_SHAPE = re.compile(r"\.".join(f"[{TOKEN_CHARACTERS}]{{{n},}}" for n in TOKEN_PART_LENGTHS))
"""A bot token: its three parts joined by dots."""

_ORDERED_LIST = re.compile(r"^(\d+)\.(?= )")


def neutralise_mentions(text: str) -> str:
    """``text`` with ``@everyone``, ``@here``, user, role and channel mentions made inert.

    The bot also sends every message with mentions disabled; this makes the text itself harmless
    wherever it ends up, and shows it as typed rather than as a resolved name.
    """
    text = discord.utils.escape_mentions(text)
    return _ANGLE_TOKEN.sub("<\N{ZERO WIDTH SPACE}", text)


def echo(token: str, limit: int = ECHO_LENGTH) -> str:
    """Show a piece of user input inside inline code, safely shortened and unable to mention."""
    text = token.replace("`", "'")
    if len(text) > limit:
        text = text[:limit] + "…"
    return f"`{neutralise_mentions(text)}`"


def shown(text: str, limit: int = SHOWN_LENGTH) -> str:
    """``text`` quoted for an error message, cut to a bounded length, always on one line."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def clean_fact(raw: str) -> str | None:
    """Make third-party text safe to show: one line, no markup, no mentions, bounded length.

    Returns None when nothing is left. Markdown is escaped rather than removed, so the words stay
    as written; runs of whitespace (newlines included, which could start a heading or a quote)
    become single spaces.
    """
    text = " ".join(raw.split())
    if not text:
        return None
    text = neutralise_mentions(discord.utils.escape_markdown(text))
    text = _ORDERED_LIST.sub(r"\1\\.", text)  # "1. Cats..." would render as a list
    if len(text) > MAX_FACT_LENGTH:
        # Never end on half of an escape sequence: a lone backslash would escape the ellipsis.
        text = text[: MAX_FACT_LENGTH - 1].rstrip("\\") + "…"
    return text


def whole_number(text: str, limit: int) -> int | None:
    """``text`` as a whole number if it is ASCII digits only, else ``None``.

    Anything above ``limit`` comes back as ``limit + 1`` without ever building a huge int (which
    ``int()`` refuses past 4,300 digits, and which would be pointless to expand into a range).
    """
    if not (text.isascii() and text.isdigit()):
        return None
    # Equivalent mutants: the text is ASCII digits, so a set with X strips what {0} does
    significant = text.lstrip("0")  # pragma: no mutate
    significant = significant or "0"
    if len(significant) > len(str(limit)):
        return limit + 1
    return min(int(significant), limit + 1)


__all__ = [
    "ECHO_LENGTH",
    "MAX_FACT_LENGTH",
    "SHOWN_LENGTH",
    "TOKEN_CHARACTERS",
    "TOKEN_PART_LENGTHS",
    "TOKEN_SHAPE",
    "clean_fact",
    "echo",
    "neutralise_mentions",
    "shown",
    "whole_number",
]
