"""Servers' settings on real SQLite and real PostgreSQL: kept, read back once, served from
memory, and an outage ridden out."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bot.database import Database, parse_database_url
from bot.guild_settings import Defaults, GuildSettingsService, NotSavedError, Stored
from bot.guild_settings.service import BATCH_SIZE, RETRY_FIRST
from fakes import FakeClock
from fakes.tcp_proxy import TcpProxy

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
    await restarted.ensure(7)
    settings = restarted.settings_for(7, "en-US")
    assert (settings.prefix, settings.language.code, settings.cooldown) == ("?", "ger-de", 30)
    assert settings.stored == Stored("?", "ger-de", 30, ADMIN + 1, AT)


async def test_a_server_that_chose_nothing_gets_the_defaults_and_its_locale(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    service = await open_service()
    await service.ensure(8)
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
    await restarted.ensure(9)
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
    await restarted.ensure(10)
    assert (restarted.prefix_for(10), restarted.settings_for(10).cooldown) == ("?", 60)


async def test_settings_are_read_once_then_served_from_memory(
    open_service: Callable[[], Awaitable[GuildSettingsService]],
) -> None:
    writer = await open_service()
    await writer.change(11, {"prefix": "%"}, by=ADMIN, at=AT)
    service = await open_service()
    assert service.database is not None
    sent = count_statements(service.database)
    await service.ensure(11)
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
    await service.ensure(12)
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
    await service.ensure(1)  # waits for the batches in flight
    await service.ensure(2 * BATCH_SIZE + 1)
    assert len(service) == len(servers)
    assert len(sent) == 3
    assert service.prefix_for(3) == "?"
    service.forget(3)
    assert not service.loaded(3)
    assert service.prefix_for(3) == "!"  # until it is read again


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


@pytest_asyncio.fixture
async def proxy(postgres_url: str) -> AsyncIterator[TcpProxy]:
    """A proxy in front of the test's PostgreSQL server, to cut and restore."""
    port = make_url(postgres_url).port
    assert port is not None
    tcp = TcpProxy(port)
    await tcp.start()
    yield tcp
    await tcp.close()


def behind(proxy: TcpProxy, postgres_url: str) -> Database:
    return Database(parse_database_url(str(make_url(postgres_url).set(port=proxy.port))))


async def test_an_outage_keeps_the_settings_known_and_refuses_changes(
    proxy: TcpProxy, postgres_url: str
) -> None:
    clock = FakeClock()
    service = GuildSettingsService(behind(proxy, postgres_url), DEFAULTS, clock=clock)
    try:
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
        await proxy.restore()
        clock.advance(RETRY_FIRST)
        await service.ensure(2)  # tried again once the back-off is over
        assert service.loaded(2)
        assert service.state == "connected"
        await service.change(1, {"prefix": "$"}, by=ADMIN, at=AT)
        assert service.prefix_for(1) == "$"
    finally:
        await service.aclose()
        assert service.database is not None
        await service.database.close()


async def test_down_at_start_up_the_bot_uses_defaults_and_connects_when_it_can(
    proxy: TcpProxy, postgres_url: str
) -> None:
    ticks = Ticks()
    await proxy.cut()
    service = GuildSettingsService(behind(proxy, postgres_url), DEFAULTS, sleep=ticks.sleep)
    try:
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
    finally:
        await service.aclose()
        assert service.database is not None
        await service.database.close()


async def test_a_sqlite_file_that_cannot_be_created_is_an_outage_too(tmp_path: object) -> None:
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
    await restarted.ensure(13)
    changed_at = restarted.settings_for(13).stored.changed_at
    assert changed_at == AT
    assert changed_at is not None
    assert changed_at.utcoffset() == datetime.timedelta(0)
    assert sa  # the module is the one the queries are written with
