"""``DATABASE_URL``: which database the bot keeps its memory in, as SQLAlchemy needs to hear it.

Operators write URLs the way their host hands them out, and SQLAlchemy wants them with a driver:

- ``sqlite:///data/catfact.db`` (the default: a file, relative to the working directory) becomes
  ``sqlite+aiosqlite:///data/catfact.db``;
- ``postgres://`` (what Heroku Postgres gives, and cannot be changed) and ``postgresql://`` become
  ``postgresql+asyncpg://``. Heroku's servers insist on TLS, so a ``postgres://`` URL asks for it;
  libpq's ``?sslmode=...``, ``connect_timeout`` and ``application_name`` (which asyncpg does not
  take as a query) become asyncpg's own arguments; any other option is refused, naming it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.text import shown, whole_number

DEFAULT_DATABASE_URL = "sqlite:///data/catfact.db"
"""A file under the working directory (the repository, for ``make run``); git ignores ``data/``."""

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
_SCHEMES = {
    "sqlite": SQLITE_DRIVER,
    SQLITE_DRIVER: SQLITE_DRIVER,
    "postgres": POSTGRES_DRIVER,
    "postgresql": POSTGRES_DRIVER,
    POSTGRES_DRIVER: POSTGRES_DRIVER,
}
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
"""libpq's ``sslmode`` values, which asyncpg takes as its ``ssl`` argument."""
HEROKU_SSL_MODE = "require"
POSTGRES_OPTIONS = ("sslmode", "connect_timeout", "application_name")
"""The libpq options a PostgreSQL URL may carry, each given to asyncpg in its own terms."""
MAX_CONNECT_TIMEOUT = 300


@dataclasses.dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A checked ``DATABASE_URL``: the URL SQLAlchemy connects with, and the driver's extras."""

    url: URL
    connect_args: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite file, or None for PostgreSQL and for an in-memory SQLite."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            return None
        return self.url.database

    def describe(self) -> str:
        """The URL for logs and ``!status``, its password hidden."""
        return self.url.render_as_string(hide_password=True)


def parse_database_url(raw: str | None) -> DatabaseURL:
    """Check ``raw`` (``DATABASE_URL``; the default when None) and give it its driver.

    Raises ValueError with a message for the operator.
    """
    text = DEFAULT_DATABASE_URL if raw is None else raw.strip()
    try:
        url = make_url(text)
    except ArgumentError:
        url = None
    driver = _SCHEMES.get(url.drivername) if url is not None else None
    if url is None or driver is None:
        raise ValueError(
            "DATABASE_URL must be a sqlite:///path/to/file.db or a postgresql://user:password@"
            f"host/database URL (Heroku's postgres:// is fine too), got {shown(_hidden(text), 60)}"
        )
    connect_args: dict[str, Any] = {}
    if driver == POSTGRES_DRIVER:
        if not url.host:
            raise ValueError(
                "DATABASE_URL names no host: write postgresql://user:password@host:5432/database"
            )
        query = {
            key: value[-1] if isinstance(value, tuple) else value
            for key, value in url.query.items()
        }
        unknown = sorted(set(query) - set(POSTGRES_OPTIONS))
        if unknown:
            raise ValueError(
                f"DATABASE_URL: the option {shown(unknown[0])} is not one the bot reads; it "
                f"reads {', '.join(POSTGRES_OPTIONS)}"
            )
        mode = query.pop("sslmode", None)
        if (timeout := query.pop("connect_timeout", None)) is not None:
            seconds = whole_number(timeout, MAX_CONNECT_TIMEOUT)
            if seconds is None or not 1 <= seconds <= MAX_CONNECT_TIMEOUT:
                raise ValueError(
                    f"DATABASE_URL: connect_timeout must be whole seconds from 1 to "
                    f"{MAX_CONNECT_TIMEOUT}, got {shown(timeout)}"
                )
            connect_args["timeout"] = float(seconds)
        if (name := query.pop("application_name", None)) is not None:
            connect_args["server_settings"] = {"application_name": name}
        if mode is None and url.drivername == "postgres":
            mode = HEROKU_SSL_MODE
        if mode is not None:
            if mode not in SSL_MODES:
                modes = ", ".join(SSL_MODES)
                raise ValueError(f"DATABASE_URL: sslmode must be one of {modes}, got {shown(mode)}")
            connect_args["ssl"] = mode
        url = url.set(query=query)
    elif url.database in (None, ""):
        raise ValueError(
            "DATABASE_URL names no SQLite file: write sqlite:///data/catfact.db (three slashes "
            "and a relative path, or four for an absolute one)"
        )
    return DatabaseURL(url.set(drivername=driver), connect_args)


def _hidden(text: str) -> str:
    """``text`` with any password in it hidden, for an error message."""
    try:
        return make_url(text).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return text[text.rfind("@") + 1 :]  # all of it when there is no "@"


__all__ = ["DEFAULT_DATABASE_URL", "DatabaseURL", "parse_database_url"]
