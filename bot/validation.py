"""Pieces shared by the modules that validate configuration (``settings.py``, ``sharding.py``)."""

from __future__ import annotations

SHOWN_LENGTH = 40
"""How much of a bad value an error message repeats; an environment variable can be huge."""


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line an operator can act on."""


def shown(text: str, limit: int = SHOWN_LENGTH) -> str:
    """``text`` quoted for an error message, cut to a bounded length, always on one line."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def whole_number(text: str, limit: int) -> int | None:
    """``text`` as a whole number if it is ASCII digits only, else ``None``.

    Anything above ``limit`` comes back as ``limit + 1`` without ever building a huge int (which
    ``int()`` refuses past 4,300 digits, and which would be pointless to expand into a range).
    """
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(limit)):
        return limit + 1
    return min(int(significant), limit + 1)


__all__ = ["SHOWN_LENGTH", "SettingsError", "shown", "whole_number"]
