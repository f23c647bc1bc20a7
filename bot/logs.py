"""Logging: discord.py's format on stderr, with secrets masked in everything that is written.

Masking happens in the *formatter*, after the message, its arguments, any traceback and any stack
have been turned into text, so a token cannot slip through a log argument, an exception message
or a third-party library's debug output. Anything shaped like a Discord bot token is masked too,
not only the configured one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TextIO

import discord

from bot.text import TOKEN_SHAPE

MASK = "[secret]"


class MaskingFormatter(logging.Formatter):
    """Formats with ``inner``, then replaces every secret in the result with :data:`MASK`."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return mask(self.inner.format(record), self.secrets)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each of ``secrets``, and anything token-shaped, replaced by :data:`MASK`."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return TOKEN_SHAPE.sub(MASK, text)


def configure_logging(
    level: int, *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """discord.py's log format on ``stream`` (stderr by default), with ``secrets`` masked.

    ``Bot.start()`` does not set up logging itself. Returns the handler added to the root
    logger, so a caller (a test) can remove it again.
    """
    handler = logging.StreamHandler(stream)
    discord.utils.setup_logging(handler=handler, level=level)  # on the root logger
    handler.setFormatter(MaskingFormatter(handler.formatter or logging.Formatter(), secrets))
    return handler


__all__ = ["MASK", "MaskingFormatter", "configure_logging", "mask"]
