"""The benchmark's server-settings scenario: the cost of per-server settings on every command.

One bot, one simulated server, two settings services, each on a real SQLite database of its own:
one with no server stored, one with 10,000 servers' settings stored and read into memory (as a
shard's servers are when they become available). The bot's service is swapped between blocks of
commands, so both meet the same conditions in the same run:

- ``!add 1 2`` with none stored, and with 10,000 stored;
- ``!catfact`` with the server's language English, then German (a pool of its own);
- the database statements sent while the commands ran (after the server's first command).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import random
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import discord.ext.test as dpytest
import sqlalchemy as sa
from sqlalchemy import event

from bot.core import CatFactBot
from bot.database import Database, parse_database_url, schema
from bot.guild_settings import Defaults, GuildSettingsService

STORED_SERVERS = 10_000
AT = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

Drive = Callable[[str, str, int], Awaitable[None]]
"""Sends a command ``count`` times, noting its latencies under a label."""


@dataclasses.dataclass
class ServerSettingsResults:
    stored: int = 0
    """Servers whose settings the full service held in memory."""
    statements: int = 0
    """Database statements sent while the measured commands ran."""


@contextlib.contextmanager
def counting(*databases: Database) -> Iterator[list[str]]:
    """Every statement the databases are sent inside the block."""
    sent: list[str] = []

    def record(connection: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(statement)

    for database in databases:
        event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        for database in databases:
            event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def stored_service(path: Path, guild_id: int, defaults: Defaults) -> GuildSettingsService:
    """A service on a database holding ``STORED_SERVERS`` servers (``guild_id`` among them),
    every one of them read into memory."""
    service = GuildSettingsService(Database(parse_database_url(f"sqlite:///{path}")), defaults)
    await service.start()
    assert service.database is not None
    rng = random.Random(7)  # noqa: S311  # made-up servers, not secrets
    others = rng.sample(range(10**17, 10**18), STORED_SERVERS - 1)
    rows = [
        {
            "guild_id": gid,
            "prefix": rng.choice(["?", "$", "%", None]),
            "language": rng.choice(["ger-de", "fra-fr", None]),
            "cooldown": rng.choice([0, 10, None]),
            "changed_by": 1,
            "changed_at": AT,
        }
        for gid in others
    ]
    blank = {"prefix": None, "language": None, "cooldown": None}
    rows.append({"guild_id": guild_id, **blank, "changed_by": 1, "changed_at": AT})
    async with service.database.engine.begin() as connection:
        await connection.execute(sa.insert(schema.guild_settings), rows)
    service.prefetch([*others, guild_id])
    await service.ensure(guild_id)  # waits for the batches in flight
    while len(service) < STORED_SERVERS:  # batches still queued behind the one awaited
        await service.ensure(others[-1])
    return service


async def server_settings(bot: CatFactBot, drive: Drive, commands: int) -> ServerSettingsResults:
    """Alternating blocks of each scenario; ``commands`` of each in all."""
    results = ServerSettingsResults()
    guild_id = dpytest.get_config().guilds[0].id
    empty = bot.guild_settings
    defaults = empty.defaults
    with tempfile.TemporaryDirectory() as directory:
        full = await stored_service(Path(directory) / "stored.db", guild_id, defaults)
        try:
            results.stored = len(full)
            await empty.ensure(guild_id)  # the server's first command has been and gone
            block = 500
            rounds = max(1, commands // block)
            databases = [d for d in (empty.database, full.database) if d is not None]
            # Warm-up: both services, and the German pool's first fill.
            for service in (empty, full):
                bot.guild_settings = service
                await drive("warm-up", "!add 1 2", 100)
            await full.change(guild_id, {"language": "ger-de"}, by=1, at=AT)
            bot.guild_settings = full
            await drive("warm-up", "!catfact", 100)
            with counting(*databases) as sent:
                for _ in range(rounds):
                    bot.guild_settings = empty
                    await drive("!add 1 2, no server stored", "!add 1 2", block)
                    bot.guild_settings = full
                    await drive(f"!add 1 2, {STORED_SERVERS:,} stored", "!add 1 2", block)
                    # A change is a write, once, not a cost of each command: it is not counted.
                    await full.change(guild_id, {"language": "eng-us"}, by=1, at=AT)
                    await drive("!catfact in English", "!catfact", block)
                    await full.change(guild_id, {"language": "ger-de"}, by=1, at=AT)
                    await drive("!catfact in German", "!catfact", block)
                # The language changes' upserts are writes; any read would be a command waiting.
                results.statements = sum(s.lstrip().startswith("SELECT") for s in sent)
        finally:
            bot.guild_settings = empty
            await full.aclose()
            assert full.database is not None
            await full.database.close()
    return results
