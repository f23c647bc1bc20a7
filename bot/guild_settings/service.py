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

from bot.database import UNAVAILABLE, Database, schema
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


_COLUMNS = ("prefix", "language", "cooldown")

MAX_DOUBLINGS = 16
"""A bound on the back-off's exponent (any above log2(RETRY_MAX / RETRY_FIRST) gives the same
delays), so that a long outage's count of failures cannot overflow the float."""

RECONNECT_TASK = "settings-reconnect"

_INSERTS: dict[str, Callable[[sa.Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
"""Each engine's own upsert construct (they happen to spell it the same way)."""


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
        self._stale: set[int] = set()
        """Servers whose row may differ from memory (a change that timed out): read them again."""
        self._loader: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._closing = False
        self._write_lock = asyncio.Lock()
        self._writes: set[asyncio.Task[Stored]] = set()
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
        language = default_language
        if stored.language:
            try:
                language = by_code(stored.language)
            except KeyError:  # stored by a version that knew more languages (rolled back)
                log.warning("unknown language %r stored: using the default", stored.language)
        return GuildSettings(
            prefix=stored.prefix or self.defaults.prefix,
            language=language,
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
    def healthy(self) -> bool:
        """False while the database is not answering (or has not yet)."""
        return self.database is None or (self._ready and self._down_until is None)

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
        if self.database is not None and not self._ready:
            await self._try_migrating()

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
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOAD_BUDGET):
                await self.wait_loaded()

    async def wait_loaded(self) -> None:
        """Wait, however long it takes, until the reads asked for so far have been tried."""
        while self._loader is not None and not self._loader.done():
            await asyncio.shield(self._loader)

    def forget(self, guild_id: int) -> None:
        """Drop a server this process no longer serves from memory (its row stays)."""
        self._stored.pop(guild_id, None)
        self._in_force.pop(guild_id, None)
        self._pending.discard(guild_id)
        # Equivalent mutants: a forgotten server has nothing in memory, so reading it back as
        # stale or as new stores the same row; this only keeps the set from growing
        self._stale.discard(guild_id)  # pragma: no mutate

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
        changes: dict[str, Any] = {**values, "changed_by": by, "changed_at": at}
        if self.database is None:
            stored = dataclasses.replace(self._stored.get(guild_id, NOTHING_STORED), **changes)
        else:
            if not self._ready:
                raise NotSavedError("the database has not answered since the bot started")
            # The write runs in a task of its own, so that the answer comes within the budget
            # even when a hung server keeps the write's own clean-up waiting; the budget covers
            # waiting for another change too (during an outage changes queue behind each other).
            write = asyncio.create_task(self._write(self.database, guild_id, changes))
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
            write.add_done_callback(_settle)
            try:
                async with asyncio.timeout(WRITE_BUDGET):
                    stored = await asyncio.shield(write)
            except TimeoutError as exc:
                write.cancel()
                # It may have been written after all: read the row again when the database can.
                self._stale.add(guild_id)
                self._pending.add(guild_id)
                self._failed(exc)
                raise NotSavedError(f"no answer within {WRITE_BUDGET:g} s") from exc
            except Exception as exc:
                self._failed(exc)
                raise NotSavedError(str(exc)) from exc
            self._recovered()
        self._stored[guild_id] = stored
        self._in_force.pop(guild_id, None)
        self._stale.discard(guild_id)
        return stored

    async def reset(self, guild_id: int, *, by: int, at: datetime.datetime) -> Stored:
        """Every setting of ``guild_id`` back to its default."""
        return await self.change(guild_id, dict.fromkeys(_COLUMNS), by=by, at=at)

    async def aclose(self) -> None:
        """Stop the background work (the caller closes the database)."""
        self._closing = True
        tasks: list[asyncio.Task[Any]] = [*self._writes]
        tasks += [task for task in (self._loader, self._reconnector) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # The database ------------------------------------------------------------------------------
    # Any exception from the database counts as an outage: a driver's own errors (asyncpg's, when
    # connecting), a schema newer than this code (Alembic's), or a bug. The bot answers on with
    # what it knows, and the log says what happened.

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
            except Exception as exc:
                self._failed(exc)
                return  # the batch stays pending: it is read once the database answers again
            self._recovered()
            for guild_id in batch:
                if guild_id not in self._pending:  # forgotten, or changed, meanwhile
                    continue
                self._pending.discard(guild_id)
                row = rows.get(guild_id, NOTHING_STORED)
                if guild_id in self._stale:
                    self._stale.discard(guild_id)
                    self._stored[guild_id] = row
                    self._in_force.pop(guild_id, None)
                else:
                    self._stored.setdefault(guild_id, row)

    async def _try_migrating(self) -> bool:
        assert self.database is not None
        try:
            revision = await self.database.migrate()
        except Exception as exc:
            self._failed(exc)
            return False
        log.info("settings database %s at revision %s", self.database.url.describe(), revision)
        self._ready = True
        self._recovered()
        return True

    async def _try_pinging(self) -> bool:
        assert self.database is not None
        try:
            async with self.database.engine.connect() as connection:
                # Equivalent mutants: any statement the server answers will do
                await connection.execute(sa.text("SELECT 1"))  # pragma: no mutate
        except Exception as exc:
            self._failed(exc)
            return False
        self._recovered()
        return True

    async def _reconnect_forever(self) -> None:
        """Try the database again after each back-off until it answers: migrating, if that has
        not happened yet, else a plain query. Then read what was asked for meanwhile."""
        while True:
            await self._sleep(self._retry_delay())
            ready = self._ready
            # Equivalent mutants: migrating again would also tell that the database is back;
            # a ping is only lighter
            attempt = self._try_pinging() if ready else self._try_migrating()  # pragma: no mutate
            if await attempt:
                return

    def _retry_delay(self) -> float:
        return min(RETRY_FIRST * 2.0 ** min(self._failures - 1, MAX_DOUBLINGS), RETRY_MAX)

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self.last_error = f"{type(exc).__name__}: {str(exc) or 'no answer in time'}"[:200]
        self._down_until = self._clock() + self._retry_delay()
        expected = isinstance(exc, UNAVAILABLE)
        log.warning(
            "the settings database failed (%s); trying again in %g s",
            self.last_error,
            self._retry_delay(),
            exc_info=None if expected else exc,  # not an outage's usual errors: show where
        )
        reconnecting = self._reconnector is not None and not self._reconnector.done()
        if not reconnecting and not self._closing:
            job = self._reconnect_forever()
            # Equivalent mutants: a task's name shows nowhere
            self._reconnector = asyncio.create_task(job, name=RECONNECT_TASK)  # pragma: no mutate

    def _recovered(self) -> None:
        if self._down_until is not None:
            log.info("the settings database answers again")
        self._down_until = None
        self._failures = 0
        self.prefetch(())  # what was asked for meanwhile

    async def _write(self, database: Database, guild_id: int, changes: dict[str, Any]) -> Stored:
        async with self._write_lock:
            return await self._upsert(database, guild_id, changes)

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
        insert = _INSERTS[database.dialect]
        values = insert(table).values(guild_id=guild_id, **changes)
        upsert = values.on_conflict_do_update(
            index_elements=[table.c.guild_id],
            set_={name: values.excluded[name] for name in changes},
        ).returning(*table.c)
        async with database.engine.begin() as connection:
            row = (await connection.execute(upsert)).one()
        return _stored(row._asdict())


def _settle(write: asyncio.Task[Stored]) -> None:
    """Forget a finished write; its error, if any, was answered already (or it was given up)."""
    if not write.cancelled():
        write.exception()


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
