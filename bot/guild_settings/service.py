"""Each server's settings, served from memory and kept in the database.

The prefix is read for every message and the settings for every command, so they come from a
dict in memory; the database is read once per server (in batches, as servers become available
to this process), and written when an admin changes something. A change is one statement (an
upsert that returns the row), so it is all or nothing, and the next command sees it at once.

When the database can't be reached, at start-up or later, commands go on with the settings
last read (or the defaults), changes are refused with :class:`NotSavedError` and nothing in memory
changes, reads are not tried again for a while (1 s, doubling to a minute), and the first read
or write that works ends the outage. At start-up the migrations are tried until they succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from bot.database import Database, schema
from bot.facts import ENGLISH, Language, by_code, language_for_locale
from bot.facts.breaker import loop_time

log = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Servers read in one query at most (a bound on the statement's parameters)."""

LOAD_BUDGET = 2.0
"""The longest a server's first command waits for its settings before using the defaults."""

WRITE_BUDGET = 5.0
"""The longest a change waits for the database before it is refused."""

RETRY_FIRST, RETRY_MAX = 1.0, 60.0
"""Seconds before the database is tried again after a failure, doubling up to the maximum."""

DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
"""What a database that is down, restarting or unreachable raises."""

_COLUMNS = ("prefix", "language", "cooldown")


class NotSavedError(Exception):
    """A change could not be written; nothing was changed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Stored:
    """What a server chose; None means the default."""

    prefix: str | None = None
    language: str | None = None
    cooldown: int | None = None
    changed_by: int | None = None
    changed_at: datetime.datetime | None = None


NOTHING_STORED = Stored()


@dataclasses.dataclass(frozen=True, slots=True)
class Defaults:
    """What a server that chose nothing gets (from the operator's environment)."""

    prefix: str
    cooldown: float


@dataclasses.dataclass(frozen=True, slots=True)
class GuildSettings:
    """The settings in force in one server (or in DMs): what it chose, or the defaults."""

    prefix: str
    language: Language
    cooldown: float
    stored: Stored = NOTHING_STORED

    def is_default(self, name: str) -> bool:
        """True when the server never chose ``name`` (or reset it)."""
        return getattr(self.stored, name) is None


class GuildSettingsService:
    """Every server's settings for this process: see the module documentation."""

    def __init__(
        self,
        database: Database | None,
        defaults: Defaults,
        *,
        clock: Callable[[], float] = loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``database`` None keeps settings in memory only (nothing survives a restart).

        ``clock`` and ``sleep`` are where the outage back-off reads and waits for time.
        """
        self.database = database
        self.defaults = defaults
        self._clock = clock
        self._sleep = sleep
        self._stored: dict[int, Stored] = {}
        self._in_force: dict[int, tuple[str | None, GuildSettings]] = {}
        """Each server's settings in force, with the locale they were worked out for: every
        command reads them (several times), so they are worked out once per change."""
        self._pending: set[int] = set()
        self._loader: asyncio.Task[None] | None = None
        self._connector: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._ready = database is None
        self._down_until: float | None = None
        self._failures = 0
        self.last_error: str | None = None
        """What went wrong the last time the database failed, for ``!status``."""

    # Reading: from memory ----------------------------------------------------------------------

    def settings_for(self, guild_id: int | None, locale: str | None = None) -> GuildSettings:
        """The settings in force for ``guild_id`` (None: a DM), from memory. ``locale`` is the
        server's Discord locale, which chooses the language of a server that never did."""
        if guild_id is None:
            return self._work_out(NOTHING_STORED, ENGLISH)
        known = self._in_force.get(guild_id)
        if known is not None and known[0] == locale:
            return known[1]
        stored = self._stored.get(guild_id, NOTHING_STORED)
        settings = self._work_out(stored, language_for_locale(locale))
        if guild_id in self._stored:  # not before they are read: they may differ then
            self._in_force[guild_id] = (locale, settings)
        return settings

    def _work_out(self, stored: Stored, default_language: Language) -> GuildSettings:
        return GuildSettings(
            prefix=stored.prefix or self.defaults.prefix,
            language=by_code(stored.language) if stored.language else default_language,
            cooldown=self.defaults.cooldown if stored.cooldown is None else stored.cooldown,
            stored=stored,
        )

    def prefix_for(self, guild_id: int | None) -> str:
        """The prefix in ``guild_id`` (or in DMs), from memory: read for every message."""
        stored = None if guild_id is None else self._stored.get(guild_id)
        return (stored and stored.prefix) or self.defaults.prefix

    def loaded(self, guild_id: int) -> bool:
        """True once ``guild_id``'s settings have been read (or it has none)."""
        return guild_id in self._stored

    def __len__(self) -> int:
        """Servers whose settings are in memory."""
        return len(self._stored)

    @property
    def state(self) -> str:
        """The database's state in words, for ``!status``."""
        if self.database is None:
            return "none: settings are kept in memory only"
        if not self._ready:
            return "connecting: commands use the defaults until it answers"
        if self._down_until is not None:
            return f"unreachable ({self._failures} failures in a row): using what was read"
        return "connected"

    # Loading -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Migrate the schema, or keep trying in the background if the database is down."""
        if self.database is None or self._connector is not None:
            return
        if not await self._try_migrating():
            self._connector = asyncio.create_task(self._connect_forever(), name="settings-db")

    def prefetch(self, guild_ids: Iterable[int]) -> None:
        """Read these servers' settings soon, in batches, without anyone waiting."""
        if self.database is None:  # nothing to read: every server starts with nothing chosen
            for guild_id in guild_ids:
                self._stored.setdefault(guild_id, NOTHING_STORED)
            return
        self._pending.update(gid for gid in guild_ids if gid not in self._stored)
        if self._pending and self._loadable() and (self._loader is None or self._loader.done()):
            self._loader = asyncio.create_task(self._load_pending(), name="settings-load")

    async def ensure(self, guild_id: int) -> None:
        """Have ``guild_id``'s settings in memory: at once if they are, else within the load
        budget (the server's first command); the defaults answer if the database can't."""
        if guild_id in self._stored:
            return
        self.prefetch((guild_id,))
        loader = self._loader
        if loader is None or loader.done():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOAD_BUDGET):
                await asyncio.shield(loader)

    def forget(self, guild_id: int) -> None:
        """Drop a server this process no longer serves from memory (its row stays)."""
        self._stored.pop(guild_id, None)
        self._in_force.pop(guild_id, None)
        self._pending.discard(guild_id)

    # Changing ----------------------------------------------------------------------------------

    async def change(
        self,
        guild_id: int,
        values: Mapping[str, str | int | None],
        *,
        by: int,
        at: datetime.datetime,
    ) -> Stored:
        """Set ``values`` (columns of :data:`schema.guild_settings`) for ``guild_id``, as changed
        by the user ``by`` at ``at`` (the command's time), and keep the row the database now
        holds. Raises :class:`NotSavedError` and changes nothing if the database can't be
        written."""
        unknown = set(values) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"not a setting: {sorted(unknown)}")
        changes: dict[str, Any] = {
            **values,
            "changed_by": by,
            "changed_at": at,
        }
        if self.database is None:
            stored = dataclasses.replace(self._stored.get(guild_id, NOTHING_STORED), **changes)
        else:
            if not self._ready:
                raise NotSavedError("the database has not answered since the bot started")
            async with self._write_lock:
                try:
                    async with asyncio.timeout(WRITE_BUDGET):
                        stored = await self._upsert(self.database, guild_id, changes)
                except DATABASE_ERRORS as exc:
                    self._failed(exc)
                    raise NotSavedError(str(exc)) from exc
            self._recovered()
        self._stored[guild_id] = stored
        self._in_force.pop(guild_id, None)
        return stored

    async def reset(self, guild_id: int, *, by: int, at: datetime.datetime) -> Stored:
        """Every setting of ``guild_id`` back to its default."""
        return await self.change(guild_id, dict.fromkeys(_COLUMNS), by=by, at=at)

    async def aclose(self) -> None:
        """Stop the background work (the caller closes the database)."""
        tasks = [task for task in (self._loader, self._connector) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # The database ------------------------------------------------------------------------------

    def _loadable(self) -> bool:
        if self.database is None or not self._ready:
            return False
        return self._down_until is None or self._clock() >= self._down_until

    async def _load_pending(self) -> None:
        await asyncio.sleep(0)  # let the rest of a burst (a shard's servers arriving) join in
        while self._pending and self.database is not None:
            batch = sorted(self._pending)[:BATCH_SIZE]
            try:
                rows = await self._read(self.database, batch)
            except DATABASE_ERRORS as exc:
                self._failed(exc)
                return  # the batch stays pending: the next command or prefetch tries again
            self._recovered()
            for guild_id in batch:
                self._pending.discard(guild_id)
                self._stored.setdefault(guild_id, rows.get(guild_id, NOTHING_STORED))

    async def _try_migrating(self) -> bool:
        assert self.database is not None
        try:
            revision = await self.database.migrate()
        except DATABASE_ERRORS as exc:
            self._failed(exc)
            return False
        log.info("settings database %s at revision %s", self.database.url.describe(), revision)
        self._ready = True
        self._recovered()
        self.prefetch(())
        return True

    async def _connect_forever(self) -> None:
        while True:
            await self._sleep(self._retry_delay())
            if await self._try_migrating():
                return

    def _retry_delay(self) -> float:
        return min(RETRY_FIRST * 2.0 ** min(self._failures - 1, 16), RETRY_MAX)

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]
        self._down_until = self._clock() + self._retry_delay()
        log.warning("the settings database failed (%s); trying again later", self.last_error)

    def _recovered(self) -> None:
        if self._down_until is not None:
            log.info("the settings database answers again")
        self._down_until = None
        self._failures = 0

    @staticmethod
    async def _read(database: Database, guild_ids: list[int]) -> dict[int, Stored]:
        table = schema.guild_settings
        async with database.engine.connect() as connection:
            result = await connection.execute(
                sa.select(table).where(table.c.guild_id.in_(guild_ids))
            )
            return {row.guild_id: _stored(row._asdict()) for row in result}

    @staticmethod
    async def _upsert(database: Database, guild_id: int, changes: dict[str, Any]) -> Stored:
        table = schema.guild_settings
        insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert
        values = insert(table).values(guild_id=guild_id, **changes)
        upsert = values.on_conflict_do_update(
            index_elements=[table.c.guild_id],
            set_={name: values.excluded[name] for name in changes},
        ).returning(*table.c)
        async with database.engine.begin() as connection:
            row = (await connection.execute(upsert)).one()
        return _stored(row._asdict())


def _stored(row: Mapping[str, Any]) -> Stored:
    changed_at = row["changed_at"]
    if changed_at is not None and changed_at.tzinfo is None:  # SQLite keeps no time zone
        changed_at = changed_at.replace(tzinfo=datetime.UTC)
    return Stored(
        prefix=row["prefix"],
        language=row["language"],
        cooldown=row["cooldown"],
        changed_by=row["changed_by"],
        changed_at=changed_at,
    )


__all__ = [
    "Defaults",
    "GuildSettings",
    "GuildSettingsService",
    "NotSavedError",
    "Stored",
]
