"""Making untrusted text safe to show in a Discord message."""

from __future__ import annotations

import re

import discord

# Mentions and other <...> tokens (channels, emoji, timestamps) are neutralised by a zero-width
# space after the "<", which Discord then shows as plain text.
_ANGLE_TOKEN = re.compile(r"<(?=[@#:at/])")


def neutralise_mentions(text: str) -> str:
    """``text`` with ``@everyone``, ``@here``, user, role and channel mentions made inert.

    The bot also sends every message with mentions disabled; this makes the text itself harmless
    wherever it ends up, and shows it as typed rather than as a resolved name.
    """
    text = discord.utils.escape_mentions(text)
    return _ANGLE_TOKEN.sub("<\N{ZERO WIDTH SPACE}", text)


__all__ = ["neutralise_mentions"]
