"""Migrations on real SQLite and real PostgreSQL: from nothing, from the first schema with data
in it, by several processes at once, and from the command line."""

from __future__ import annotations

import asyncio
import datetime
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.database import Database, core, head_revision, parse_database_url, schema
from tests.project import REPO

pytestmark = pytest.mark.real_time  # the database answers from another thread or process

FIRST = "0001"


async def columns(database: Database, table: str) -> dict[str, tuple[str, bool]]:
    """Each column of ``table`` as the database reports it: its type's name and nullability."""

    def inspect(connection: sa.Connection) -> dict[str, tuple[str, bool]]:
        return {
            column["name"]: (type(column["type"]).__name__.upper(), column["nullable"])
            for column in sa.inspect(connection).get_columns(table)
        }

    async with database.engine.connect() as connection:
        return await connection.run_sync(inspect)


async def test_an_empty_database_is_migrated_to_the_latest_revision(database_url: str) -> None:
    database = Database(parse_database_url(database_url))
    try:
        assert await database.revision() is None
        assert await database.migrate() == head_revision()
        assert await database.migrate() == head_revision()  # again: nothing to do
        assert await database.revision() == head_revision()
    finally:
        await database.close()


@pytest.mark.parametrize(
    "table", [schema.guild_settings, schema.daily_subscriptions, schema.daily_posts]
)
async def test_the_migrated_schema_is_the_one_the_queries_use(
    database_url: str, table: sa.Table
) -> None:
    database = Database(parse_database_url(database_url))
    try:
        await database.migrate()
        found = await columns(database, table.name)
    finally:
        await database.close()
    assert list(found) == [column.name for column in table.columns]
    for column in table.columns:
        assert found[column.name][1] == column.nullable, column.name


async def test_the_first_schema_with_data_in_it_migrates_to_the_latest(database_url: str) -> None:
    database = Database(parse_database_url(database_url))
    first = sa.table(
        "guild_settings",
        sa.column("guild_id"),
        sa.column("prefix"),
        sa.column("language"),
        sa.column("cooldown"),
    )
    rows: list[dict[str, Any]] = [
        {"guild_id": 2**62 + 1, "prefix": "?", "language": "ger-de", "cooldown": 10},
        {"guild_id": 5, "prefix": None, "language": None, "cooldown": 0},
    ]
    try:
        assert await database.migrate(FIRST) == FIRST
        assert "changed_by" not in await columns(database, "guild_settings")
        async with database.engine.begin() as connection:
            await connection.execute(first.insert(), rows)
        assert await database.migrate() == head_revision() != FIRST
        table = schema.guild_settings
        async with database.engine.connect() as connection:
            result = await connection.execute(sa.select(table).order_by(table.c.guild_id))
            kept = [row._asdict() for row in result]
    finally:
        await database.close()
    assert kept == [
        {**row, "changed_by": None, "changed_at": None}
        for row in sorted(rows, key=lambda row: row["guild_id"])
    ]


async def test_processes_migrating_at_once_take_turns(database_url: str) -> None:
    """Each Database has its own engine and connections, as separate processes would."""
    databases = [Database(parse_database_url(database_url)) for _ in range(4)]
    try:
        revisions = await asyncio.gather(*(database.migrate() for database in databases))
        async with databases[0].engine.connect() as connection:
            result = await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            versions = list(result.scalars())
    finally:
        await asyncio.gather(*(database.close() for database in databases))
    assert revisions == [head_revision()] * 4
    assert versions == [head_revision()]


async def insert_twice(database: Database, stamp: datetime.datetime) -> None:
    """One transaction: a row, then the same key again, which fails."""
    table = schema.guild_settings
    async with database.engine.begin() as connection:
        await connection.execute(table.insert().values(guild_id=1, changed_at=stamp))
        await connection.execute(table.insert().values(guild_id=1))


async def test_a_change_is_all_or_nothing(database_url: str) -> None:
    """A transaction that fails half-way leaves nothing of itself behind, on both engines."""
    database = Database(parse_database_url(database_url))
    table = schema.guild_settings
    stamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    try:
        await database.migrate()
        with pytest.raises(sa.exc.IntegrityError):
            await insert_twice(database, stamp)
        async with database.engine.connect() as connection:
            count = (await connection.execute(sa.select(sa.func.count()).select_from(table))).one()
    finally:
        await database.close()
    assert count == (0,)


def run_migrate(database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": database_url, "DISCORD_TOKEN": ""}
    return subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_python_m_bot_migrate_applies_the_migrations_and_says_where(database_url: str) -> None:
    done = run_migrate(database_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f"is at revision {head_revision()} (the latest)\n")
    again = run_migrate(database_url)
    assert again.returncode == 0, again.stderr


def test_python_m_bot_migrate_fails_in_one_line_when_the_database_is_down(
    unused_tcp_port: int,
) -> None:
    done = run_migrate(f"postgresql://bot:hunter2@127.0.0.1:{unused_tcp_port}/catfact")
    assert done.returncode == 8
    [line] = done.stderr.splitlines()
    assert line.startswith("error: could not migrate postgresql+asyncpg://bot:***@127.0.0.1:")
    assert "hunter2" not in done.stderr


async def create_a_table_then_fail(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(sa.text("CREATE TABLE scratch (n INTEGER)"))
        raise RuntimeError("undo")


async def test_sqlite_runs_in_wal_mode_with_transactions_that_hold_schema_changes(
    tmp_path: Path,
) -> None:
    """Python's sqlite3 would run CREATE TABLE outside any transaction; here it is undone."""
    database = Database(parse_database_url(f"sqlite:///{tmp_path}/x.db"))
    try:
        await database.migrate()
        with pytest.raises(RuntimeError, match="undo"):
            await create_a_table_then_fail(database)
        async with database.engine.connect() as connection:
            mode = (await connection.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
            tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    finally:
        await database.close()
    assert mode == "wal"
    assert "scratch" not in tables


async def test_only_migrations_take_sqlites_write_lock_at_once(tmp_path: Path) -> None:
    """An ordinary transaction begins deferred: another process may still start writing."""
    path = tmp_path / "x.db"
    database = Database(parse_database_url(f"sqlite:///{path}"))
    try:
        await database.migrate()
        async with database.engine.begin() as connection:
            await connection.execute(sa.select(schema.guild_settings))
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # would fail at once if the bot held the lock
                other.execute("ROLLBACK")
            finally:
                other.close()
    finally:
        await database.close()


async def test_a_sqlite_file_in_folders_not_there_yet_is_created_with_them(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "catfact.db"
    database = Database(parse_database_url(f"sqlite:///{path}"))
    try:
        assert await database.migrate() == head_revision()
    finally:
        await database.close()
    assert path.is_file()


def test_the_bots_engine_pools_a_few_connections_and_migrations_use_their_own() -> None:
    url = parse_database_url("postgresql://bot@127.0.0.1:9/catfact")
    bot_engine, migrations = core._create_engine(url), core._create_engine(url, migrating=True)
    assert isinstance(bot_engine.pool, sa.AsyncAdaptedQueuePool)
    assert bot_engine.pool.size() == core.POOL_SIZE == 2
    assert bot_engine.pool._max_overflow == core.POOL_OVERFLOW == 1
    assert bot_engine.pool._pre_ping
    assert isinstance(migrations.pool, sa.NullPool)
