"""The database engine: connecting, SQLite's settings, and migrations under a lock.

One :class:`Database` per process holds SQLAlchemy's async engine. SQLite (the default) runs in
WAL mode, with SQLite's own transactions made real: Python's sqlite3 module would otherwise leave
DDL outside any transaction, and a migration half-applied by a crash could not be finished. So a
change, and a migration, is all or nothing on both engines.

Migrations (Alembic, in ``migrations/``) run at start-up and from ``python -m bot migrate``.
Processes that start together take turns: on PostgreSQL under a transaction-scoped advisory lock,
on SQLite under the database's write lock (``BEGIN IMMEDIATE``); the second one then finds the
schema current and does nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import alembic.command
import alembic.config
import alembic.script
import alembic.util.exc
import asyncpg
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.database.url import DatabaseURL

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")

POOL_SIZE = 2
POOL_OVERFLOW = 1
"""Connections a process may hold: 2, and 1 more at a peak. The database is off the command path
(settings are served from memory), so this is plenty, and 6 processes together stay within the
20 connections of Heroku Postgres' smallest plans."""

CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 10.0
"""Seconds before PostgreSQL's driver gives up on connecting, and on one statement."""

SQLITE_BUSY_MS = 5000
"""How long SQLite waits for another process's write lock before it fails."""

MIGRATION_LOCK = 0x_CA7_FAC7
"""The PostgreSQL advisory lock key migrations are run under (any constant the bot owns)."""

_IMMEDIATE = "catfact_begin_immediate"

UNAVAILABLE = (
    SQLAlchemyError,
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    alembic.util.exc.CommandError,
)
"""What a database that is down, restarting, full, misconfigured or ahead of this code raises:
SQLAlchemy's errors, the network's, and those asyncpg raises itself while connecting (a server
starting up, too many connections, a wrong password), which SQLAlchemy leaves unwrapped."""


class Database:
    """The engine for ``url`` and what the bot does with it as a whole: migrate, report, close."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.engine = _create_engine(url)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def migrate(self, to: str = "head") -> str | None:
        """Bring the schema to the revision ``to`` (the latest by default) under the lock; the
        revision it is at afterwards."""
        if self.url.sqlite_path is not None:  # the first connection creates the file
            Path(self.url.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        # Its own engine: a migration may take longer than a statement of the bot may.
        engine = _create_engine(self.url, migrating=True)
        try:
            return await self._migrate(engine, to)
        finally:
            await engine.dispose()

    async def _migrate(self, engine: AsyncEngine, to: str) -> str | None:
        async with engine.connect() as connection:
            if self.url.is_sqlite:
                await connection.execution_options(**{_IMMEDIATE: True})
            async with connection.begin():
                if self.dialect == "postgresql":
                    await connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                    )
                return await connection.run_sync(_upgrade, to)

    async def revision(self) -> str | None:
        """The revision the schema is at; None for an empty database."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(_current_revision)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def head_revision() -> str | None:
    """The latest revision among the migrations."""
    return alembic.script.ScriptDirectory.from_config(_config()).get_current_head()


def _config(connection: Connection | None = None) -> alembic.config.Config:
    config = alembic.config.Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, to: str) -> str | None:
    alembic.command.upgrade(_config(connection), to)
    return _current_revision(connection)


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _create_engine(url: DatabaseURL, *, migrating: bool = False) -> AsyncEngine:
    """The bot's engine; ``migrating``: one connection, used once, and no statement timeout."""
    pool: dict[str, Any] = {"poolclass": NullPool} if migrating else {}
    if not url.is_sqlite:
        if not migrating:
            pool = {
                "pool_size": POOL_SIZE,
                "max_overflow": POOL_OVERFLOW,
                "pool_timeout": CONNECT_TIMEOUT,
                # A connection the server dropped (a restart, a failover) is replaced, not used.
                "pool_pre_ping": True,
            }
        timeouts = {"timeout": CONNECT_TIMEOUT}
        if not migrating:
            timeouts["command_timeout"] = STATEMENT_TIMEOUT
        return create_async_engine(url.url, connect_args={**timeouts, **url.connect_args}, **pool)
    engine = create_async_engine(url.url, connect_args=url.connect_args, **pool)
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, record: object) -> None:
    # Let SQLAlchemy, not the sqlite3 module, say where a transaction begins (see _on_sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")  # first: WAL may have to wait
        # Equivalent mutants: SQLite reads its statements in any letter case
        cursor.execute("PRAGMA journal_mode=WAL")  # pragma: no mutate
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE)
    # Equivalent mutants: SQLite reads its statements in any letter case
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"  # pragma: no mutate
    connection.exec_driver_sql(begin)


__all__ = ["MIGRATIONS", "POOL_OVERFLOW", "POOL_SIZE", "UNAVAILABLE", "Database", "head_revision"]
