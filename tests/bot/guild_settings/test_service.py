"""Servers' settings on real SQLite and real PostgreSQL: kept, read back once, served from
memory, and an outage ridden out."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bot.database import Database, parse_database_url, schema
from bot.guild_settings import Defaults, GuildSettingsService, NotSavedError, Stored
from bot.guild_settings import service as service_module
from bot.guild_settings.service import BATCH_SIZE, RETRY_FIRST
from fakes import FakeClock
from fakes.tcp_proxy import TcpProxy
from tests.postgres import through

pytestmark = pytest.mark.real_time  # the database answers from another thread or process

DEFAULTS = Defaults(prefix="!", cooldown=3.0)
AT = datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC)
ADMIN = 42


def count_statements(database: Database) -> list[str]:
    """Every query ``database`` sends from now on (not the BEGIN that SQLite's are wrapped in)."""
    sent: list[str] = []

    def record(connection: object, cursor: object, statement: str, *args: object) -> None:
        if not statement.startswith("BEGIN"):
            sent.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    return sent


@pytest_asyncio.fixture
async def open_service(
    database_url: str,
) -> AsyncIterator[Callable[[], Awaitable[GuildSettingsService]]]:
    """Opens a service on the test's database (each one is a bot process starting); closes all."""
    opened: list[GuildSettingsService] = []

    async def open_one() -> GuildSettingsService:
        service = GuildSettingsService(Database(parse_database_url(database_url)), DEFAULTS)
        opened.append(service)
        await service.start()
        return service

    yield open_one
    for service in opened:
        await service.aclose()
        assert service.database is not None
        await service.database.close()


async def test_a_change_survives_a_restart(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    first = await open_service()
    await first.change(7, {"prefix": "?"}, by=ADMIN, at=AT)
    await first.change(7, {"language": "ger-de", "cooldown": 30}, by=ADMIN + 1, at=AT)
    restarted = await open_service()
    restarted.prefetch([7])
    await restarted.wait_loaded()
    settings = restarted.settings_for(7, "en-US")
    assert (settings.prefix, settings.language.code, settings.cooldown) == ("?", "ger-de", 30)
    assert settings.stored == Stored("?", "ger-de", 30, ADMIN + 1, AT)


async def test_a_server_that_chose_nothing_gets_the_defaults_and_its_locale(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    service = await open_service()
    service.prefetch([8])
    await service.wait_loaded()
    assert service.loaded(8)
    german = service.settings_for(8, "de")
    assert (german.prefix, german.language.english, german.cooldown) == ("!", "German", 3.0)
    assert german.is_default("language")
    assert service.settings_for(8, "ja").language.english == "English"  # no Japanese facts
    assert service.settings_for(None, "de").language.english == "English"  # a DM


async def test_reset_brings_every_default_back_and_says_who(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    service = await open_service()
    await service.change(9, {"prefix": "$", "cooldown": 0}, by=ADMIN, at=AT)
    later = AT + datetime.timedelta(days=1)
    await service.reset(9, by=ADMIN + 1, at=later)
    assert service.settings_for(9).stored == Stored(changed_by=ADMIN + 1, changed_at=later)
    restarted = await open_service()
    restarted.prefetch([9])
    await restarted.wait_loaded()
    assert restarted.settings_for(9).prefix == "!"
    assert restarted.settings_for(9).cooldown == 3.0


async def test_changes_to_different_settings_of_one_server_both_stay(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    service = await open_service()
    await asyncio.gather(
        service.change(10, {"prefix": "?"}, by=ADMIN, at=AT),
        service.change(10, {"cooldown": 60}, by=ADMIN, at=AT),
    )
    restarted = await open_service()
    restarted.prefetch([10])
    await restarted.wait_loaded()
    assert (restarted.prefix_for(10), restarted.settings_for(10).cooldown) == ("?", 60)


async def test_settings_are_read_once_then_served_from_memory(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    writer = await open_service()
    await writer.change(11, {"prefix": "%"}, by=ADMIN, at=AT)
    service = await open_service()
    assert service.database is not None
    sent = count_statements(service.database)
    service.prefetch([11])
    await service.wait_loaded()
    assert len(sent) == 1
    for _ in range(100):
        await service.ensure(11)
        assert service.prefix_for(11) == "%"
        service.settings_for(11, "fr")
    assert len(sent) == 1  # the hot path never touched the database


async def test_a_change_is_seen_by_the_next_read_without_the_database(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    service = await open_service()
    service.prefetch([12])
    await service.wait_loaded()
    assert service.database is not None
    sent = count_statements(service.database)
    await service.change(12, {"prefix": "&"}, by=ADMIN, at=AT)
    assert service.prefix_for(12) == "&"
    assert len(sent) == 1  # the upsert, which returned the row


async def test_servers_arriving_together_are_read_in_batches(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    writer = await open_service()
    await writer.change(3, {"prefix": "?"}, by=ADMIN, at=AT)
    service = await open_service()
    assert service.database is not None
    sent = count_statements(service.database)
    servers = range(1, 2 * BATCH_SIZE + 2)
    service.prefetch(servers)
    await service.wait_loaded()
    assert len(service) == len(servers)
    assert len(sent) == 3
    assert service.prefix_for(3) == "?"
    service.forget(3)
    assert not service.loaded(3)
    assert service.prefix_for(3) == "!"  # until it is read again
    service.prefetch([3])
    service.forget(3)  # gone again before the read: the read does not bring it back
    await service.wait_loaded()
    assert not service.loaded(3)


async def test_without_a_database_settings_live_in_memory() -> None:
    service = GuildSettingsService(None, DEFAULTS)
    await service.start()
    await service.ensure(1)
    await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)
    assert service.prefix_for(1) == "?"
    assert service.state == "none: settings are kept in memory only"
    with pytest.raises(ValueError, match="not a setting"):
        await service.change(1, {"colour": "red"}, by=ADMIN, at=AT)
    await service.aclose()


@contextlib.asynccontextmanager
async def closing(service: GuildSettingsService) -> AsyncIterator[GuildSettingsService]:
    """The block, then the service and its database closed, however the block ends."""
    try:
        yield service
    finally:
        await service.aclose()
        if service.database is not None:
            await service.database.close()


class Ticks:
    """A ``sleep`` the test releases by hand, recording how long each wait would have been."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._go = asyncio.Queue[None]()

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self._go.get()

    def release(self) -> None:
        self._go.put_nowait(None)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Let other tasks run until ``condition`` holds (bounded by the test's timeout): no sleep,
    so the verdict is the condition's, however slow the machine."""
    # The service's own tasks change what the condition reads; look again at each loop turn.
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0)


def behind(proxy: TcpProxy, postgres_url: str) -> Database:
    return Database(parse_database_url(through(proxy, postgres_url)))


async def test_an_outage_keeps_the_settings_known_and_refuses_changes(
    proxy: TcpProxy, postgres_url: str
) -> None:
    clock, ticks = FakeClock(), Ticks()
    service = GuildSettingsService(
        behind(proxy, postgres_url), DEFAULTS, clock=clock, sleep=ticks.sleep
    )
    async with closing(service):
        await service.start()
        await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)
        await proxy.cut()
        with pytest.raises(NotSavedError):
            await service.change(1, {"prefix": "$"}, by=ADMIN, at=AT)
        assert service.prefix_for(1) == "?"  # nothing changed, in memory either
        assert service.state.startswith("unreachable (1 failures in a row)")
        await service.ensure(2)  # a new server meanwhile: no wait, the defaults
        assert service.prefix_for(2) == "!"
        assert not service.loaded(2)
        await wait_until(lambda: len(ticks.asked) == 1)
        ticks.release()  # the reconnection's first try: still down
        await wait_until(lambda: len(ticks.asked) == 2)
        assert service.state.startswith("unreachable (2 failures in a row)")
        clock.advance(2 * RETRY_FIRST)
        service.prefetch([3])  # the back-off is over: a read is tried, and fails
        await service.wait_loaded()
        assert not service.loaded(3)
        assert service.state.startswith("unreachable (3 failures in a row)")
        await proxy.restore()
        assert ticks.asked == [RETRY_FIRST, 2 * RETRY_FIRST]  # backing off
        clock.advance(4 * RETRY_FIRST)
        service.prefetch([2])  # once the back-off is over, a command's read goes ahead
        await service.wait_loaded()
        assert service.loaded(2)
        assert service.loaded(3)  # and what was asked for meanwhile
        assert service.state == "connected"
        await service.change(1, {"prefix": "$"}, by=ADMIN, at=AT)
        assert service.prefix_for(1) == "$"


async def test_down_at_start_up_the_bot_uses_defaults_and_connects_when_it_can(
    proxy: TcpProxy, postgres_url: str
) -> None:
    ticks = Ticks()
    await proxy.cut()
    service = GuildSettingsService(behind(proxy, postgres_url), DEFAULTS, sleep=ticks.sleep)
    async with closing(service):
        await service.start()  # does not wait for the database
        assert service.state == "connecting: commands use the defaults until it answers"
        await service.ensure(5)
        assert service.prefix_for(5) == "!"
        with pytest.raises(NotSavedError):
            await service.change(5, {"prefix": "?"}, by=ADMIN, at=AT)
        await wait_until(lambda: len(ticks.asked) == 1)
        ticks.release()  # tries again: still down
        await wait_until(lambda: len(ticks.asked) == 2)
        assert ticks.asked == [1.0, 2.0]  # backing off
        await proxy.restore()
        ticks.release()
        await wait_until(lambda: service.state == "connected")
        await wait_until(lambda: service.loaded(5))  # the servers seen meanwhile are read
        await service.change(5, {"prefix": "?"}, by=ADMIN, at=AT)
        assert service.prefix_for(5) == "?"


async def test_a_sqlite_file_that_cannot_be_created_is_an_outage_too() -> None:
    ticks = Ticks()
    database = Database(parse_database_url("sqlite:////dev/null/catfact.db"))
    service = GuildSettingsService(database, DEFAULTS, sleep=ticks.sleep)
    try:
        await service.start()
        assert service.state.startswith("connecting")
        assert service.last_error is not None
        await service.ensure(1)
        assert service.prefix_for(1) == "!"
        with pytest.raises(NotSavedError):
            await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)
    finally:
        await service.aclose()
        await database.close()


async def test_rows_keep_a_time_zone_on_both_engines(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    service = await open_service()
    await service.change(13, {"cooldown": 1}, by=ADMIN, at=AT)
    restarted = await open_service()
    restarted.prefetch([13])
    await restarted.wait_loaded()
    changed_at = restarted.settings_for(13).stored.changed_at
    assert changed_at == AT
    assert changed_at is not None
    assert changed_at.utcoffset() == datetime.timedelta(0)


async def test_errors_the_driver_raises_itself_are_an_outage_too(postgres_url: str) -> None:
    """asyncpg's own errors while connecting (here: no such database; in production also a
    server starting up, or too many connections) reach the bot unwrapped by SQLAlchemy."""
    ticks = Ticks()
    missing = str(make_url(postgres_url).set(database="no_such_database"))
    service = GuildSettingsService(
        Database(parse_database_url(missing)), DEFAULTS, sleep=ticks.sleep
    )
    async with closing(service):
        await service.start()
        assert service.state.startswith("connecting")
        assert service.last_error is not None
        assert service.last_error.startswith("InvalidCatalogNameError: ")
        await service.ensure(1)
        with pytest.raises(NotSavedError):
            await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)


async def test_a_schema_newer_than_this_code_is_an_outage_not_a_crash(tmp_path: Path) -> None:
    """After rolling back a release that migrated, the database is at a revision this code does
    not know: the bot answers with the defaults and refuses changes, and says why."""
    url = f"sqlite:///{tmp_path / 'catfact.db'}"
    database = Database(parse_database_url(url))
    await database.migrate()
    async with database.engine.begin() as connection:
        await connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    await database.close()
    ticks = Ticks()
    service = GuildSettingsService(Database(parse_database_url(url)), DEFAULTS, sleep=ticks.sleep)
    async with closing(service):
        await service.start()
        assert service.last_error is not None
        assert "0099" in service.last_error
        with pytest.raises(NotSavedError):
            await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)
        assert service.prefix_for(1) == "!"


async def test_a_change_the_database_does_not_answer_in_time_is_read_back_later(
    proxy: TcpProxy,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A hung server: the change is refused when its budget is over (however slow the machine,
    a server that never answers is late), and once the server answers, the bot reads the row
    back, as the change may have landed after all."""
    monkeypatch.setattr(service_module, "WRITE_BUDGET", 0.2)
    ticks = Ticks()
    service = GuildSettingsService(behind(proxy, postgres_url), DEFAULTS, sleep=ticks.sleep)
    async with closing(service):
        await service.start()
        await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)
        await proxy.stall()
        with pytest.raises(NotSavedError, match=r"no answer within 0\.2 s"):
            await service.change(1, {"prefix": "$"}, by=ADMIN, at=AT)
        assert service.prefix_for(1) == "?"  # what was known, meanwhile
        assert service.last_error == "TimeoutError: no answer in time"
        # Meanwhile the row changes behind the bot's back (the late write, say).
        writer = Database(parse_database_url(postgres_url))
        try:
            async with writer.engine.begin() as connection:
                table = schema.guild_settings
                await connection.execute(
                    table.update().where(table.c.guild_id == 1).values(prefix="%")
                )
        finally:
            await writer.close()
        await proxy.restore()
        await wait_until(lambda: len(ticks.asked) == 1)
        ticks.release()  # the reconnection: a plain query, then the row read back
        await wait_until(lambda: service.state == "connected")
        await service.wait_loaded()
        assert service.prefix_for(1) == "%"
        assert service.settings_for(1).prefix == "%"
        assert ticks.asked == [RETRY_FIRST]  # connected: no further try was needed
        # The given-up write was cancelled and cleaned up without an error.
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_language_this_version_does_not_know_falls_back_to_the_default() -> None:
    """A row written by a newer version, with a language added since (then rolled back)."""
    service = GuildSettingsService(None, DEFAULTS)
    await service.change(1, {"language": "tlh-kl"}, by=ADMIN, at=AT)
    assert service.settings_for(1, "de").language.english == "German"


async def test_an_outage_is_logged_once_a_failure_and_a_bug_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = GuildSettingsService(None, DEFAULTS, sleep=Ticks().sleep)
    with caplog.at_level(logging.WARNING, logger="bot.guild_settings.service"):
        service._failed(ConnectionRefusedError("refused " * 50))
        service._failed(RuntimeError("a bug"))
    first, second = caplog.records
    assert first.getMessage().startswith(
        "the settings database failed (ConnectionRefusedError: refused refused "
    )
    assert first.getMessage().endswith("); trying again in 1 s")
    assert first.exc_info is None  # an outage's usual error: no traceback
    assert second.getMessage() == (
        "the settings database failed (RuntimeError: a bug); trying again in 2 s"
    )
    assert second.exc_info is not None  # not one an outage raises: where it came from
    assert service.last_error == "RuntimeError: a bug"
    service._failed(OSError("x" * 500))
    assert service.last_error is not None
    assert len(service.last_error) == 200
    await service.aclose()


async def test_without_a_database_a_change_keeps_the_others() -> None:
    service = GuildSettingsService(None, DEFAULTS)
    await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)
    await service.change(1, {"cooldown": 9}, by=ADMIN + 1, at=AT)
    assert service.settings_for(1).stored == Stored("?", None, 9, ADMIN + 1, AT)


async def test_a_change_before_the_database_ever_answered_says_so(tmp_path: Path) -> None:
    service = GuildSettingsService(
        Database(parse_database_url("sqlite:////dev/null/x.db")), DEFAULTS, sleep=Ticks().sleep
    )
    async with closing(service):
        await service.start()
        with pytest.raises(NotSavedError, match=r"^the database has not answered since the bot"):
            await service.change(1, {"prefix": "?"}, by=ADMIN, at=AT)


async def test_a_row_from_the_first_schema_reads_without_a_time(database_url: str) -> None:
    database = Database(parse_database_url(database_url))
    await database.migrate()
    async with database.engine.begin() as connection:
        await connection.execute(schema.guild_settings.insert().values(guild_id=4, prefix="&"))
    await database.close()
    service = GuildSettingsService(Database(parse_database_url(database_url)), DEFAULTS)
    async with closing(service):
        await service.start()
        service.prefetch([4])
        await service.wait_loaded()
        assert service.settings_for(4).stored == Stored(prefix="&")
