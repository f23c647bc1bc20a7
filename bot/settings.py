"""Settings read from the environment, validated once at start-up.

Every setting is an environment variable (documented in ``.env.example``). A bad value raises
:class:`SettingsError` whose message is one line naming the variable and the fix, so the operator
never has to read a traceback to find a typo.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yarl

DEFAULT_PREFIX = "!"
DEFAULT_CATFACT_API_URL = "https://meowfacts.herokuapp.com/"
DEFAULT_CATFACT_TIMEOUT = 4.0
CATFACT_TIMEOUT_RANGE = (0.1, 30.0)

MAX_PREFIX_LENGTH = 5
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# A bot token is three base64url segments joined by dots. Checking the shape catches the usual
# copy-paste mistakes ("Bot " prefix, quotes, a client secret) before Discord is contacted.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line an operator can act on."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration of one bot process."""

    discord_token: str | None = field(default=None, repr=False)
    command_prefix: str = DEFAULT_PREFIX
    catfact_api_url: str = DEFAULT_CATFACT_API_URL
    catfact_timeout: float = DEFAULT_CATFACT_TIMEOUT
    log_level: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping (``os.environ`` in production).

        Empty values count as unset, so a blank line copied from ``.env.example`` means "default".
        """

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        return cls(
            discord_token=_check_token(get("DISCORD_TOKEN")),
            command_prefix=_check_prefix(get("COMMAND_PREFIX") or DEFAULT_PREFIX),
            catfact_api_url=_check_url(get("CATFACT_API_URL") or DEFAULT_CATFACT_API_URL),
            catfact_timeout=_check_timeout(get("CATFACT_TIMEOUT")),
            log_level=_check_log_level(get("LOG_LEVEL")),
        )

    def log_level_number_for(self, *, console: bool) -> int:
        """The logging level: :attr:`log_level` if set, else INFO, or ERROR in the console.

        The console keeps stderr quiet by default so that a person sees the conversation.
        """
        if self.log_level is not None:
            return logging.getLevelNamesMapping()[self.log_level]
        return logging.ERROR if console else logging.INFO

    def require_token(self) -> str:
        """Return the token, or explain how to get one."""
        if self.discord_token is None:
            raise SettingsError(
                "DISCORD_TOKEN is not set: copy .env.example to .env and paste your bot token "
                "there (or try the bot offline with: python -m bot --console)"
            )
        return self.discord_token


def _check_token(token: str | None) -> str | None:
    if token is None:
        return None
    if token.lower().startswith("bot "):
        raise SettingsError("DISCORD_TOKEN must be the bare token, without the 'Bot ' prefix")
    if not _TOKEN_SHAPE.fullmatch(token):
        raise SettingsError(
            "DISCORD_TOKEN does not look like a bot token (three dot-separated parts): copy it "
            "again from the Bot page of your application in the Discord Developer Portal"
        )
    return token


def _check_prefix(prefix: str) -> str:
    if len(prefix) > MAX_PREFIX_LENGTH or any(char.isspace() for char in prefix):
        raise SettingsError(
            f"COMMAND_PREFIX must be 1 to {MAX_PREFIX_LENGTH} characters without spaces, "
            f"got {prefix!r}"
        )
    return prefix


def _check_url(url: str) -> str:
    try:
        parsed = yarl.URL(url)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise SettingsError(f"CATFACT_API_URL must be an http(s) URL, got {url!r}")
    return url


def _check_timeout(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_CATFACT_TIMEOUT
    low, high = CATFACT_TIMEOUT_RANGE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:  # also rejects NaN
        raise SettingsError(
            f"CATFACT_TIMEOUT must be a number of seconds from {low:g} to {high:g}, got {raw!r}"
        )
    return seconds


def _check_log_level(level: str | None) -> str | None:
    if level is None:
        return None
    upper = level.upper()
    if upper not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    return upper
