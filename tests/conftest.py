"""Shared fixtures. Each test gets a fresh event loop, a fresh fake upstream and a fresh bot.

Every async test, its fixtures included, runs on a fast-forwarded event loop (looptime): when
nothing is ready to run, the loop's clock jumps to the next timer instead of waiting for it. So
timeouts, backoff, cool-downs and refresh intervals cost no real time, and a verdict never
depends on how fast or busy the machine is. A test that must wait on something outside the loop
(another process, a thread) is marked ``real_time``; the testing guide lists them and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock

import aiohttp
import discord
import discord.ext.test as dpytest
import discord.ext.test.factories
import hypothesis
import looptime
import pytest
import pytest_asyncio

from bot.console import close_simulated, simulated_intents, start_simulated
from bot.core import CatFactBot
from bot.facts import CatFactClient, Fact
from bot.settings import Settings
from fakes import FakeCatfactNinja, FakeClock, FakeMeowfacts, on_send
from tests import leaks

pytest_plugins = ["tests.postgres"]

hypothesis.settings.register_profile(
    "suite",
    # A property's verdict is its assertions. How long an example takes measures the machine: on a
    # busy one, the deadline and the too_slow health check fail tests that are correct. The
    # checks about the data (filtering too much, examples too large) stay on.
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
hypothesis.settings.load_profile("suite")


@pytest_asyncio.fixture(autouse=True)
async def fast_forwarded_loop(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every async test and its fixtures: the event loop's clock jumps ahead whenever nothing
    is ready to run, so a 30 s cool-down or a 1 h refresh passes at once, and exactly.

    Set up before any other fixture and torn down after them all, so the whole test sees one
    consistent clock. ``@pytest.mark.real_time`` opts a test out.
    """
    if request.node.get_closest_marker("real_time"):
        yield
        return
    with looptime.enabled(strict=True):
        yield


SIMULATED_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
"""What dpytest's clock reads when the test's event loop is at time 0."""


def _simulated_now(tz: datetime.tzinfo | None = None) -> datetime.datetime:
    try:
        seconds = asyncio.get_running_loop().time()
    except RuntimeError:  # no loop: nothing to follow
        return datetime.datetime.now(tz)
    return (SIMULATED_EPOCH + datetime.timedelta(seconds=seconds)).astimezone(tz)


@pytest.fixture(autouse=True)
def discord_time_follows_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Discord stamps each message with the time it was sent (in its snowflake id), and
    discord.py's cooldowns read that stamp. dpytest takes it from the wall clock; here it follows
    the test's event loop instead, so a test moves it with ``await asyncio.sleep(10)`` and a
    cooldown's verdict never depends on how fast the machine runs the test.

    dpytest's factories read the time as ``dt.datetime.now()``; this is the one place the suite
    relies on that, and ``tests/test_simulated_discord.py`` fails loudly if dpytest changes it.
    Each test also starts dpytest's id counter afresh: it fills 12 bits of every id, and past
    4,096 ids in one process (``make repeat`` gets there) it would spill into the time stamp.
    """
    clock = types.SimpleNamespace(datetime=types.SimpleNamespace(now=_simulated_now))
    monkeypatch.setattr(discord.ext.test.factories, "dt", clock)
    monkeypatch.setattr(discord.ext.test.factories, "generated_ids", 0)


@pytest_asyncio.fixture(autouse=True)
async def no_leaks(
    fast_forwarded_loop: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """Every test: fail it (at teardown) if it left a task running, an HTTP session open or a
    dpytest file behind. Set up before any other fixture, so it checks after they all closed."""
    async with leaks.watch(monkeypatch, Path.cwd()) as found:
        yield
    if found:
        for task in found.tasks:
            task.cancel()
        for path in found.files:
            path.unlink()
        pytest.fail(f"the test left things behind:\n{found}", pytrace=False)


@pytest_asyncio.fixture
async def meowfacts() -> AsyncIterator[FakeMeowfacts]:
    """A local meowfacts server, closed after the test."""
    server = FakeMeowfacts()
    await server.start()
    yield server
    await server.close()


@pytest_asyncio.fixture
async def ninja() -> AsyncIterator[FakeCatfactNinja]:
    """A local catfact.ninja server (the second provider), closed after the test."""
    server = FakeCatfactNinja()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only tests move, for code outside an event loop; its ``sleep`` returns at
    once."""
    return FakeClock()


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for client tests, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def settings(meowfacts: FakeMeowfacts) -> Settings:
    """Settings that point the bot at the local fake meowfacts only, with a short time budget
    and no cooldown (tests send many commands as one user; the cooldown has its own tests)."""
    return Settings(
        catfact_api_url=meowfacts.url,
        catfact_timeout=0.5,
        catfact_providers=(("meowfacts", None),),
        catfact_cooldown=0,
    )


async def simulated_bot(settings: Settings, **options: Any) -> CatFactBot:
    """Build the real bot, run its real ``setup_hook`` and attach it to dpytest's guild.

    The console does the same (:func:`bot.console.start_simulated`), so tests and the console
    exercise one start-up path. Members: ``members[0]`` is an ordinary user, ``members[1]`` owns
    the bot.
    """
    test_bot = CatFactBot(settings, intents=simulated_intents(), **options)
    await start_simulated(test_bot, members=["alice", "owner"])
    test_bot.owner_id = dpytest.get_config().members[1].id
    return test_bot


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, **options: Any) -> AsyncIterator[CatFactBot]:
    """:func:`simulated_bot`, closed when the block ends, however it ends."""
    test_bot = await simulated_bot(settings, **options)
    try:
        yield test_bot
    finally:
        await close_simulated(test_bot)


@pytest_asyncio.fixture
async def bot(settings: Settings) -> AsyncIterator[CatFactBot]:
    """The real bot with its real cat-fact client, talking to the local fake upstream."""
    async with running_bot(settings) as test_bot:
        yield test_bot


@pytest.fixture
def fake_catfacts() -> AsyncMock:
    """A stand-in for the cat-fact client; ``spec`` makes a misspelt method fail the test."""
    client = AsyncMock(spec=CatFactClient)
    client.get_fact.return_value = Fact(
        "Cats have whiskers on the backs of their front legs.", "meowfacts"
    )
    return client


@pytest_asyncio.fixture
async def mocked_bot(settings: Settings, fake_catfacts: AsyncMock) -> AsyncIterator[CatFactBot]:
    """The real bot and cogs, with :func:`fake_catfacts` in place of the network client."""
    async with running_bot(settings, catfacts=fake_catfacts) as test_bot:
        yield test_bot


def spy_on_sent_payloads(bot: CatFactBot) -> list[dict[str, Any]]:
    """Every message payload ``bot`` hands to Discord's HTTP layer from now on, as Discord would
    get it (the bot is the test's own, so the spy goes with it)."""
    payloads: list[dict[str, Any]] = []
    on_send(bot, payloads.append)
    return payloads


@pytest.fixture
def sent_payloads(bot: CatFactBot) -> list[dict[str, Any]]:
    """Every message payload the bot hands to Discord's HTTP layer, as Discord would get it."""
    return spy_on_sent_payloads(bot)


@pytest.fixture
def alice(bot: CatFactBot) -> discord.Member:
    """An ordinary member of the simulated guild."""
    member: discord.Member = dpytest.get_config().members[0]
    return member


@pytest.fixture
def owner(bot: CatFactBot) -> discord.Member:
    """The member who owns the bot."""
    member: discord.Member = dpytest.get_config().members[1]
    return member


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker, hand the fault matrix it measured to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from tests.test_faults import FAULT_MATRIX

        workeroutput["fault_matrix"] = {
            fault: dataclasses.asdict(row) for fault, row in FAULT_MATRIX.items()
        }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the pytest-xdist controller, merge each worker's rows: the cold-start and the warm
    half of one fault may have run on different workers."""
    from tests.test_faults import FAULT_MATRIX, Row

    # A worker that crashed has no output: its failure is reported, not hidden by this hook.
    for fault, fields in getattr(node, "workeroutput", {}).get("fault_matrix", {}).items():
        row = FAULT_MATRIX.setdefault(fault, Row())
        defaults = dataclasses.asdict(Row())
        for name, value in fields.items():
            if value != defaults[name]:
                setattr(row, name, value)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fault matrix measured by ``tests/test_faults.py``, when it ran."""
    from tests.test_faults import FAULT_MATRIX

    if not FAULT_MATRIX:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix: !catfact while an upstream misbehaves")
    write(f"{'':<34} {'cold start (nothing in memory yet)':<58}  with facts in memory")
    write(
        f"{'fault':<34} {'user sees':<22} {'answer':>7} {'meowfacts':>9} {'ninja':>5}  "
        f"{'next command':<12}  the refresh fails; user sees"
    )
    for fault, row in sorted(FAULT_MATRIX.items()):
        seconds = "-" if row.cold_seconds is None else f"{row.cold_seconds:.2f}s"
        requests = [("-" if n is None else str(n)) for n in (row.meowfacts, row.ninja)]
        write(
            f"{fault:<34} {row.cold_reply:<22} {seconds:>7} {requests[0]:>9} {requests[1]:>5}  "
            f"{row.next_reply:<12}  {row.warm_reply}"
        )
