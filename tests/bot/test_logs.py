"""Secrets are masked by the log formatter itself, whatever shape they have."""

from __future__ import annotations

import logging

from bot.logs import MASK, MaskingFormatter, mask


def formatted(formatter: logging.Formatter, message: str) -> str:
    record = logging.LogRecord("bot.test", logging.INFO, __file__, 1, message, None, None)
    return formatter.format(record)


def test_a_configured_secret_is_masked_even_if_it_does_not_look_like_a_token() -> None:
    formatter = MaskingFormatter(logging.Formatter("%(message)s"), ["hunter2"])
    assert formatted(formatter, "password is hunter2") == f"password is {MASK}"


def test_a_secret_inside_a_longer_one_does_not_leave_the_rest_of_it_readable() -> None:
    secrets = ["pass", "mypassword", "ord", ""]
    formatter = MaskingFormatter(logging.Formatter("%(message)s"), secrets)
    assert formatted(formatter, "login mypassword, then pass") == f"login {MASK}, then {MASK}"


def test_mask_leaves_ordinary_text_alone() -> None:
    text = "discord.ext.commands.bot loaded extension cogs.catfact in 0.12 s"
    assert mask(text, ["s3cr3t"]) == text
    assert mask("a s3cr3t b", ["s3cr3t"]) == f"a {MASK} b"
