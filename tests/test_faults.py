"""Fault injection, end to end: a guild member types ``!catfact`` while the upstream misbehaves.

Everything here is real except Discord and the upstreams: dpytest's simulated guild, the bot, its
cogs and error handler, the real :class:`~bot.facts.CatFactClient` with its retries and breakers,
and real HTTP to two local servers (meowfacts first, catfact.ninja as the backup) that play one
fault each. The event loop is fast-forwarded (``conftest.py``), so a hang costs no real time
and every answer time below is loop time: the same on any machine, to the millisecond.

Each fault is played twice. **On a cold start** (no facts in memory yet) the command waits for
the first fill: the test checks what the user sees, how long it took, how many requests each
upstream got, and that the next command is answered at once. **With facts in memory**, the fault
hits an hourly refresh instead: the user must not notice at all. The measurements are printed as
a table at the end of the run (see ``pytest_terminal_summary`` in ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable

import aiohttp
import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio

from bot.core import CatFactBot
from bot.facts import CatFactClient
from bot.facts.breaker import DEFAULT_COOLDOWN, DEFAULT_THRESHOLD
from bot.facts.offline import FACTS as OFFLINE_FACTS
from bot.facts.providers import MAX_BODY_BYTES, CatFactNinja, Meowfacts
from bot.settings import Settings
from cogs.catfact import OFFLINE_FOOTER
from fakes import FACTS, NINJA_FACTS, FakeCatfactNinja, FakeMeowfacts, Handler, refused_url
from tests.conftest import running_bot

BUDGET = 1.0
"""The user's wait budget in these tests (3 s in production)."""

NINJA_PAGES = 3
"""Requests one healthy catfact.ninja fill takes: its three pages."""


@dataclasses.dataclass
class Row:
    """One fault's line in the printed matrix; filled in by the tests below."""

    cold_reply: str = "-"
    cold_seconds: float | None = None
    meowfacts: int | None = None
    ninja: int | None = None
    next_reply: str = "-"
    warm_reply: str = "-"


FAULT_MATRIX: dict[str, Row] = {}
"""Filled by the tests below, printed by ``conftest.pytest_terminal_summary``."""


def row(fault: str) -> Row:
    return FAULT_MATRIX.setdefault(fault, Row())


@dataclasses.dataclass
class Rig:
    bot: CatFactBot
    client: CatFactClient
    meowfacts: FakeMeowfacts
    ninja: FakeCatfactNinja

    async def ask(self) -> tuple[discord.Embed, float]:
        """Send ``!catfact`` as a guild member; the reply and how long it took (loop time)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await dpytest.message("!catfact")
        return dpytest.get_embed(), loop.time() - started

    def counts(self) -> tuple[int, int]:
        return self.meowfacts.requests, self.ninja.requests


def source_of(embed: discord.Embed) -> str:
    """Which source a reply came from, as the user can tell (and the test can check)."""
    if embed.footer.text == OFFLINE_FOOTER:
        assert embed.description in OFFLINE_FACTS
        return "offline fact (marked)"
    if embed.description in NINJA_FACTS:
        return "catfact.ninja fact"
    assert embed.description in FACTS
    return "meowfacts fact"


@pytest_asyncio.fixture
async def rig(
    meowfacts: FakeMeowfacts,
    ninja: FakeCatfactNinja,
    session: aiohttp.ClientSession,
    settings: Settings,
) -> AsyncIterator[Rig]:
    """The bot with a real client on both fake upstreams and nothing in memory yet."""
    client = CatFactClient(
        session, [Meowfacts(meowfacts.url), CatFactNinja(ninja.url)], budget=BUDGET
    )
    async with running_bot(settings, catfacts=client) as bot:
        yield Rig(bot, client, meowfacts, ninja)
    await client.aclose()


FAULTS: dict[str, tuple[Callable[[FakeMeowfacts], Handler], int]] = {
    # fault: (how meowfacts behaves, the requests it should get: 3 where a retry could help)
    "hang past the timeout": (lambda m: m.hang(), 1),
    "500": (lambda m: m.body("Internal error", status=500), 3),
    "503 with an HTML body": (lambda m: m.body("<h1>Application error</h1>", status=503), 3),
    "429 with Retry-After: 30": (
        lambda m: m.body("slow down", status=429, headers={"Retry-After": "30"}),
        1,  # the wait does not fit the budget: fail over now, leave meowfacts alone for 30 s
    ),
    "400 with a plain-text body": (
        lambda m: m.body("Invalid language", status=400, content_type="text/plain"),
        1,
    ),
    "invalid JSON": (lambda m: m.body("{not json", content_type="application/json"), 1),
    '{"data": []}': (lambda m: m.json({"data": []}), 1),
    '{"data": [null]}': (lambda m: m.json({"data": [None]}), 1),
    "wrong shape": (lambda m: m.json({"facts": ["Cats purr."]}), 1),
    "oversized body": (lambda m: m.json({"data": ["x" * MAX_BODY_BYTES]}), 1),
    "reset mid-body": (lambda m: m.reset_mid_body(), 3),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_on_a_cold_start_each_fault_fails_over_quickly(rig: Rig, fault: str) -> None:
    behaviour, expected_requests = FAULTS[fault]
    rig.meowfacts.handler = behaviour(rig.meowfacts)
    embed, seconds = await rig.ask()

    assert source_of(embed) == "catfact.ninja fact"
    assert seconds < BUDGET
    assert rig.counts() == (expected_requests, NINJA_PAGES)
    next_embed, next_seconds = await rig.ask()
    assert (source_of(next_embed), next_seconds) == ("catfact.ninja fact", 0)  # from memory
    assert next_embed.description != embed.description
    assert rig.counts() == (expected_requests, NINJA_PAGES)
    row(fault).__dict__.update(
        cold_reply=source_of(embed),
        cold_seconds=seconds,
        meowfacts=expected_requests,
        ninja=NINJA_PAGES,
        next_reply="from memory",
    )


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_with_facts_in_memory_each_fault_goes_unnoticed(rig: Rig, fault: str) -> None:
    assert await rig.client.refresh() is True  # the pool has been filled, from meowfacts
    behaviour, expected_requests = FAULTS[fault]
    rig.meowfacts.handler = behaviour(rig.meowfacts)
    assert await rig.client.refresh() is False  # the hourly refresh meets the fault
    embed, seconds = await rig.ask()

    assert (source_of(embed), seconds) == ("meowfacts fact", 0)  # the stale pool, at once
    assert rig.counts() == (1 + expected_requests, 0)  # the backup is not asked to replace it
    row(fault).warm_reply = "meowfacts fact (stale pool)"


async def test_connection_refused_fails_over(rig: Rig) -> None:
    rig.client.providers = (Meowfacts(refused_url()), rig.client.providers[1])
    embed, seconds = await rig.ask()
    assert source_of(embed) == "catfact.ninja fact"
    assert seconds < BUDGET
    assert rig.ninja.requests == NINJA_PAGES
    next_embed, next_seconds = await rig.ask()
    assert (source_of(next_embed), next_seconds) == ("catfact.ninja fact", 0)
    # Nothing listens on a refused port to count its requests: 3 is the retry limit, not a count.
    row("connection refused").__dict__.update(
        cold_reply=source_of(embed),
        cold_seconds=seconds,
        meowfacts=3,
        ninja=NINJA_PAGES,
        next_reply="from memory",
    )


async def test_with_facts_in_memory_a_refused_connection_goes_unnoticed(rig: Rig) -> None:
    await rig.client.refresh()
    rig.client.providers = (Meowfacts(refused_url()), rig.client.providers[1])
    assert await rig.client.refresh() is False
    embed, seconds = await rig.ask()
    assert (source_of(embed), seconds, rig.ninja.requests) == ("meowfacts fact", 0, 0)
    row("connection refused").warm_reply = "meowfacts fact (stale pool)"


async def test_when_every_upstream_fails_the_offline_fact_answers_in_time(rig: Rig) -> None:
    rig.meowfacts.handler = rig.meowfacts.body("down", status=503)
    rig.ninja.handler = rig.ninja.body("down", status=503)
    embed, seconds = await rig.ask()
    assert source_of(embed) == "offline fact (marked)"
    assert seconds < BUDGET
    assert rig.counts() == (3, 3)
    next_embed, _ = await rig.ask()
    assert next_embed.description != embed.description
    row("every upstream 503").__dict__.update(
        cold_reply=source_of(embed),
        cold_seconds=seconds,
        meowfacts=3,
        ninja=3,
        next_reply=source_of(next_embed),
    )


async def test_when_every_upstream_fails_facts_in_memory_still_answer(rig: Rig) -> None:
    rig.client.start()
    await rig.client.refresh()
    rig.meowfacts.handler = rig.meowfacts.body("down", status=503)
    rig.ninja.handler = rig.ninja.body("down", status=503)
    await asyncio.sleep(24 * 3600)  # a whole day of failed refreshes
    assert rig.meowfacts.requests > 20  # they really were tried, and failed
    assert rig.ninja.requests == 0  # the backup is never asked to replace facts in memory
    embed, seconds = await rig.ask()
    assert (source_of(embed), seconds) == ("meowfacts fact", 0)
    row("every upstream 503").warm_reply = "meowfacts fact (stale pool)"


async def test_a_hang_everywhere_still_answers_within_the_budget(rig: Rig) -> None:
    rig.meowfacts.handler = rig.meowfacts.hang()
    rig.ninja.handler = rig.ninja.hang()
    embed, seconds = await rig.ask()
    assert source_of(embed) == "offline fact (marked)"
    assert seconds == pytest.approx(BUDGET)
    row("every upstream hangs").__dict__.update(
        cold_reply=source_of(embed),
        cold_seconds=seconds,
        meowfacts=rig.meowfacts.requests,
        ninja=rig.ninja.requests,
        next_reply="(not asked)",
    )


async def test_with_facts_in_memory_a_hang_everywhere_goes_unnoticed(rig: Rig) -> None:
    await rig.client.refresh()
    rig.meowfacts.handler = rig.meowfacts.hang()
    rig.ninja.handler = rig.ninja.hang()
    refresh = asyncio.create_task(rig.client.refresh())
    await asyncio.sleep(BUDGET / 2)  # the command arrives while the refresh hangs
    embed, seconds = await rig.ask()
    assert (source_of(embed), seconds) == ("meowfacts fact", 0)
    assert await refresh is False
    row("every upstream hangs").warm_reply = "meowfacts fact (stale pool)"


async def test_while_the_breakers_are_open_users_are_answered_at_once(rig: Rig) -> None:
    rig.meowfacts.handler = rig.meowfacts.body("down", status=500)
    rig.ninja.handler = rig.ninja.body("down", status=500)
    for _ in range(DEFAULT_THRESHOLD):  # three failed fills open both breakers
        await rig.ask()
    requests = rig.counts()
    embed, seconds = await rig.ask()
    assert source_of(embed) == "offline fact (marked)"
    assert rig.counts() == requests  # nobody was called
    assert seconds == 0
    row("breakers open (after 3 failures)").__dict__.update(
        cold_reply=source_of(embed), cold_seconds=seconds, meowfacts=0, ninja=0
    )


async def test_recovery_after_the_fault_clears(rig: Rig) -> None:
    healthy = rig.meowfacts.handler
    rig.meowfacts.handler = rig.meowfacts.body("down", status=500)
    rig.ninja.handler = rig.ninja.body("down", status=500)
    for _ in range(DEFAULT_THRESHOLD):
        await rig.ask()
    rig.meowfacts.handler = healthy
    await asyncio.sleep(DEFAULT_COOLDOWN)  # the breakers' cool-down passes
    before = rig.meowfacts.requests
    embed, seconds = await rig.ask()
    assert source_of(embed) == "meowfacts fact"
    assert rig.meowfacts.requests == before + 1  # one probe, which brought the collection
    next_embed, _ = await rig.ask()
    assert source_of(next_embed) == "meowfacts fact"
    assert rig.meowfacts.requests == before + 1  # served from memory
    row("recovery after the fault clears").__dict__.update(
        cold_reply=source_of(embed),
        cold_seconds=seconds,
        meowfacts=1,
        ninja=0,
        next_reply="from memory",
    )
