"""Settings read from the environment, validated once at start-up.

Every setting is an environment variable (documented in ``.env.example``). Every variable is
checked, and :class:`SettingsError` lists *all* the bad ones at once, one line each naming the
variable and the fix, so the operator fixes a configuration in one go and never reads a
traceback to find a typo.

The checks are a dozen small functions rather than a settings library: each variable needs a
rule of its own (a token's shape, a provider list, shard ranges) and a message that says how to
fix it, which is all a library would leave to us; what it would add is a dependency, and messages
to reword.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yarl

from bot.database import DatabaseURL, parse_database_url
from bot.facts import PROVIDERS
from bot.guild_settings import rules
from bot.sharding import ShardPlan, parse_shard_plan
from bot.text import TOKEN_CHARACTERS, TOKEN_PART_LENGTHS, shown

DEFAULT_PREFIX = "!"
DEFAULT_CATFACT_API_URL = PROVIDERS["meowfacts"].default_url
DEFAULT_CATFACT_TIMEOUT = 3.0
CATFACT_TIMEOUT_RANGE = (0.1, 30.0)
DEFAULT_CATFACT_PROVIDERS: tuple[tuple[str, str | None], ...] = tuple(
    (name, None) for name in PROVIDERS
)
DEFAULT_CATFACT_REFRESH = 3600.0
CATFACT_REFRESH_RANGE = (60.0, 86400.0)
DEFAULT_CATFACT_COOLDOWN = 3.0
DEFAULT_DAILY_GRACE = 6.0
DAILY_GRACE_RANGE = (0.0, 23.0)
"""Hours a daily post may come late (the bot was down when it was due); below a day, so that
a late post can never be the next day's too."""
CATFACT_COOLDOWN_RANGE = (float(rules.COOLDOWN_RANGE[0]), float(rules.COOLDOWN_RANGE[1]))
NO_PROVIDERS = "none"

RETIRED_VARIABLES = {
    "CATFACT_BATCH_SIZE": (
        "it no longer has any effect: the bot now keeps each provider's whole collection in "
        "memory (see CATFACT_REFRESH); remove it from your configuration"
    ),
}
"""Variables earlier versions read, with why they are ignored now. A configuration that still sets
one starts as before, and the operator is told once, at start-up."""

MAX_PREFIX_LENGTH = rules.MAX_PREFIX_LENGTH
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

TOKEN_PART_NAMES = ("first", "second", "third")
PORTAL = "copy it again from the Bot page of your application in the Discord Developer Portal"


class SettingsError(Exception):
    """One or more settings are missing or invalid. Each problem is one line an operator can act
    on (:attr:`problems`); the message is those lines."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class _Checks:
    """Runs every check, keeping each value, and each problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.problems: list[str] = []

    def __call__(self, field: str, check: Callable[[], object]) -> None:
        try:
            self.values[field] = check()
        except ValueError as exc:
            self.problems.append(str(exc))


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated configuration of one bot process."""

    discord_token: str | None = field(default=None, repr=False)
    command_prefix: str = DEFAULT_PREFIX
    catfact_api_url: str = DEFAULT_CATFACT_API_URL
    """Where the ``meowfacts`` provider is, unless ``CATFACT_PROVIDERS`` names a URL for it."""
    catfact_timeout: float = DEFAULT_CATFACT_TIMEOUT
    """The longest a user waits on the network before an offline fact answers."""
    catfact_providers: tuple[tuple[str, str | None], ...] = DEFAULT_CATFACT_PROVIDERS
    """``(name, url)`` in failover order; a None URL means the provider's usual address."""
    catfact_refresh: float = DEFAULT_CATFACT_REFRESH
    """Seconds between two fetches of each provider's whole collection."""
    catfact_cooldown: float = DEFAULT_CATFACT_COOLDOWN
    """Seconds a user waits between two ``!catfact``; 0 turns the cooldown off."""
    daily_grace: float = DEFAULT_DAILY_GRACE
    """Hours after its time a daily post missed while the bot was down is still made."""
    log_level: str | None = None
    shards: ShardPlan = field(default_factory=ShardPlan)
    """Which shards this process runs (``SHARD_COUNT``, ``SHARD_IDS``); unsharded by default."""
    database: DatabaseURL | None = None
    """Where servers' settings are kept (``DATABASE_URL``). From the environment there is always
    one (a SQLite file by default); None keeps them in memory only, for tests of everything else."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping (``os.environ`` in production).

        Empty values count as unset, so a blank line copied from ``.env.example`` means "default",
        except ``COMMAND_PREFIX``: the operator who empties it may have meant "no prefix", which
        would be a bot answering every message, so it is refused rather than silently replaced.
        Raises :class:`SettingsError` naming every bad value.
        """

        def get(name: str) -> str | None:
            value = environ.get(name, "").strip()
            return value or None

        check = _Checks()
        check("discord_token", lambda: _check_token(get("DISCORD_TOKEN")))
        check("command_prefix", lambda: _check_prefix(environ.get("COMMAND_PREFIX")))
        check(
            "catfact_api_url", lambda: _check_url(get("CATFACT_API_URL") or DEFAULT_CATFACT_API_URL)
        )
        check("catfact_timeout", lambda: _check_timeout(get("CATFACT_TIMEOUT")))
        check("catfact_providers", lambda: _check_providers(get("CATFACT_PROVIDERS")))
        check("catfact_refresh", lambda: _check_refresh(get("CATFACT_REFRESH")))
        check("catfact_cooldown", lambda: _check_cooldown(get("CATFACT_COOLDOWN")))
        check("daily_grace", lambda: _check_grace(get("DAILY_GRACE")))
        check("log_level", lambda: _check_log_level(get("LOG_LEVEL")))
        check("shards", lambda: parse_shard_plan(get("SHARD_COUNT"), get("SHARD_IDS")))
        check("database", lambda: parse_database_url(get("DATABASE_URL")))
        if check.problems:
            raise SettingsError(check.problems)
        return cls(**check.values)

    def provider_urls(self) -> list[tuple[str, str]]:
        """Each configured provider's name and URL, in failover order."""
        defaults = {name: kind.default_url for name, kind in PROVIDERS.items()}
        defaults["meowfacts"] = self.catfact_api_url
        return [(name, url or defaults[name]) for name, url in self.catfact_providers]

    def log_level_number_for(self, *, console: bool = False) -> int:
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


def retired_settings(environ: Mapping[str, str]) -> list[str]:
    """One line for each retired variable that ``environ`` still sets, for the log."""
    return [
        f"{name} is set, but {why}"
        for name, why in RETIRED_VARIABLES.items()
        if environ.get(name, "").strip()
    ]


def deployment_warnings(environ: Mapping[str, str], settings: Settings) -> list[str]:
    """One line for each setting that works here but would lose data where the bot runs."""
    warnings = []
    if environ.get("DYNO") and settings.database is not None and settings.database.is_sqlite:
        warnings.append(
            "DATABASE_URL is a SQLite file on a Heroku dyno, whose disk is wiped at every "
            "restart: every server's settings will be lost. Add Heroku Postgres (heroku addons:"
            "create heroku-postgresql), which sets DATABASE_URL"
        )
    return warnings


def _check_token(token: str | None) -> str | None:
    if token is None:
        return None
    problem = token_problem(token)
    if problem is not None:
        raise ValueError(f"DISCORD_TOKEN {problem}")
    return token


def token_problem(token: str) -> str | None:
    """What is wrong with ``token``, said without repeating it (it may be a real secret), or
    ``None`` when it has a bot token's shape. ``token`` is stripped and not empty."""
    if token.lower().startswith("bot "):
        return "must be the bare token, without the 'Bot ' prefix"
    if token[0] in "'\"" or token[-1] in "'\"":
        return "is wrapped in quotes: set it without them"
    if any(char.isspace() for char in token):
        return f"contains a space or a line break, which a bot token never has: {PORTAL}"
    parts = token.split(".")
    if len(parts) == 1:
        return (
            "has no dots, so it is not a bot token (the application's client secret or public "
            f"key, perhaps, which look similar): {PORTAL}"
        )
    if len(parts) != len(TOKEN_PART_LENGTHS):
        wanted = len(TOKEN_PART_LENGTHS)
        return f"has {len(parts)} dot-separated parts, but a bot token has {wanted}: {PORTAL}"
    if re.search(f"[^.{TOKEN_CHARACTERS}]", token):
        return (
            "contains characters a bot token never has (only letters, digits, - and _ between "
            f"the dots): {PORTAL}"
        )
    # Equivalent mutants: the number of parts was checked just above, so the lengths match
    pairs = zip(parts, TOKEN_PART_NAMES, TOKEN_PART_LENGTHS, strict=True)  # pragma: no mutate
    for part, which, shortest in pairs:
        if len(part) < shortest:
            return (
                f"looks cut short: its {which} part has {len(part)} characters, but a bot "
                f"token's has at least {shortest}; {PORTAL}"
            )
    return None


def _check_prefix(prefix: str | None) -> str:
    if prefix is None:
        return DEFAULT_PREFIX
    prefix = prefix.strip()
    if not prefix:
        raise ValueError(
            f"COMMAND_PREFIX is empty: set it to 1 to {MAX_PREFIX_LENGTH} characters such as "
            f"{DEFAULT_PREFIX}, or delete the line for the default {DEFAULT_PREFIX}"
        )
    if len(prefix) > MAX_PREFIX_LENGTH or any(char.isspace() for char in prefix):
        raise ValueError(
            f"COMMAND_PREFIX must be 1 to {MAX_PREFIX_LENGTH} characters without spaces, "
            f"got {shown(prefix)}"
        )
    try:
        return rules.parse_prefix(prefix)  # the rules a server's own prefix keeps to
    except rules.InvalidSetting as refused:
        raise ValueError(f"COMMAND_PREFIX {shown(prefix)} is refused: {refused}") from None


def _check_url(url: str, *, variable: str = "CATFACT_API_URL") -> str:
    try:
        parsed = yarl.URL(url)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{variable} must be an http(s) URL, got {shown(url, 80)}")
    return url


def _check_seconds(
    name: str, raw: str | None, default: float, limits: tuple[float, float]
) -> float:
    if raw is None:
        return default
    low, high = limits
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not low <= seconds <= high:  # also rejects NaN
        raise ValueError(
            f"{name} must be a number of seconds from {low:g} to {high:g}, got {shown(raw)}"
        )
    return seconds


def _check_timeout(raw: str | None) -> float:
    return _check_seconds("CATFACT_TIMEOUT", raw, DEFAULT_CATFACT_TIMEOUT, CATFACT_TIMEOUT_RANGE)


def _check_cooldown(raw: str | None) -> float:
    return _check_seconds("CATFACT_COOLDOWN", raw, DEFAULT_CATFACT_COOLDOWN, CATFACT_COOLDOWN_RANGE)


def _check_refresh(raw: str | None) -> float:
    return _check_seconds("CATFACT_REFRESH", raw, DEFAULT_CATFACT_REFRESH, CATFACT_REFRESH_RANGE)


def _check_grace(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_DAILY_GRACE
    low, high = DAILY_GRACE_RANGE
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not low <= hours <= high:  # also rejects NaN
        raise ValueError(
            f"DAILY_GRACE must be a number of hours from {low:g} to {high:g}, got {shown(raw)}"
        )
    return hours


def _check_providers(raw: str | None) -> tuple[tuple[str, str | None], ...]:
    """``meowfacts,catfact.ninja`` or ``name=url`` items, in failover order; ``none`` for none."""
    if raw is None:
        return DEFAULT_CATFACT_PROVIDERS
    if raw.lower() == NO_PROVIDERS:
        return ()
    providers: dict[str, str | None] = {}
    for item in raw.split(","):
        name, _, url = (part.strip() for part in item.partition("="))
        if name not in PROVIDERS:
            known = ", ".join(PROVIDERS)
            raise ValueError(
                f"CATFACT_PROVIDERS: unknown provider {shown(name)}; use a comma-separated list "
                f"of {known} (each optionally =URL), or {NO_PROVIDERS}"
            )
        if name in providers:
            raise ValueError(f"CATFACT_PROVIDERS names {name} twice")
        if url:
            _check_url(url, variable=f"CATFACT_PROVIDERS ({name})")
        providers[name] = url or None
    return tuple(providers.items())


def _check_log_level(level: str | None) -> str | None:
    if level is None:
        return None
    upper = level.upper()
    if upper not in LOG_LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {shown(level)}")
    return upper


__all__ = [
    "RETIRED_VARIABLES",
    "Settings",
    "SettingsError",
    "deployment_warnings",
    "retired_settings",
    "token_problem",
]
