"""Fault injection, end to end: a guild member types ``!catfact`` while the upstream misbehaves.

Everything here is real except Discord and the upstreams: dpytest's simulated guild, the bot, its
cogs and error handler, the real :class:`~bot.catfact.CatFactClient` with its retries and
breakers, and real HTTP to two local servers (meowfacts first, catfact.ninja as the backup) that
play one fault each. Time comes from a :class:`~tests.fakes.FakeClock`: backoff costs nothing, and
the measured answer time is real time plus the backoff the client *would* have slept.

For each fault the test checks what the user sees, how long the answer took, how many requests
each upstream got, and that the next command is still answered. The measurements are printed as
a table at the end of the run (see ``pytest_terminal_summary`` in ``conftest.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable

import aiohttp
import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio

from bot.catfact import CatFactClient
from bot.core import CatFactBot
from bot.offline_facts import FACTS as OFFLINE_FACTS
from bot.providers import MAX_BODY_BYTES, CatFactNinja, Meowfacts
from bot.settings import Settings
from cogs.catfact import OFFLINE_FOOTER
from tests.conftest import running_bot
from tests.fakes import (
    FACTS,
    NINJA_FACTS,
    FakeCatfactNinja,
    FakeClock,
    FakeMeowfacts,
    Handler,
    refused_url,
)

BUDGET = 1.0
"""The user's wait budget in these tests (3 s in production), so a hang costs little real time."""

SLACK = 0.5
"""Scheduling allowance on top of the budget when checking answer times."""


@dataclasses.dataclass
class Row:
    fault: str
    reply: str
    seconds: float
    meowfacts: int
    ninja: int
    next_reply: str


FAULT_MATRIX: list[Row] = []
"""Filled by the tests below, printed by ``conftest.pytest_terminal_summary``."""


@dataclasses.dataclass
class Rig:
    bot: CatFactBot
    client: CatFactClient
    clock: FakeClock
    meowfacts: FakeMeowfacts
    ninja: FakeCatfactNinja

    async def ask(self) -> tuple[discord.Embed, float]:
        """Send ``!catfact`` as a guild member; the reply and how long it took."""
        started = self.clock()
        await dpytest.message("!catfact")
        elapsed = self.clock() - started
        return dpytest.get_embed(), elapsed


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
    clock: FakeClock,
    settings: Settings,
) -> AsyncIterator[Rig]:
    """The bot with a real client on both fake upstreams, a fake clock and a cold buffer."""
    client = CatFactClient(
        session,
        [Meowfacts(meowfacts.url), CatFactNinja(ninja.url)],
        budget=BUDGET,
        batch_size=10,
        clock=clock,
        sleep=clock.sleep,
    )
    async with running_bot(settings, catfacts=client) as bot:
        yield Rig(bot, client, clock, meowfacts, ninja)
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
async def test_each_fault_fails_over_quickly_and_the_bot_goes_on(rig: Rig, fault: str) -> None:
    behaviour, expected_requests = FAULTS[fault]
    rig.meowfacts.handler = behaviour(rig.meowfacts)
    embed, seconds = await rig.ask()

    assert source_of(embed) == "catfact.ninja fact"
    assert seconds < BUDGET + SLACK
    assert rig.meowfacts.requests == expected_requests
    assert rig.ninja.requests == 1
    next_embed, _ = await rig.ask()
    assert next_embed.description != embed.description
    FAULT_MATRIX.append(
        Row(fault, source_of(embed), seconds, expected_requests, 1, source_of(next_embed))
    )


async def test_connection_refused_fails_over(rig: Rig) -> None:
    rig.client.providers = (Meowfacts(refused_url()), rig.client.providers[1])
    embed, seconds = await rig.ask()
    assert source_of(embed) == "catfact.ninja fact"
    assert seconds < BUDGET + SLACK
    assert rig.ninja.requests == 1
    next_embed, _ = await rig.ask()
    # Nothing listens on a refused port to count its requests: 3 is the retry limit, not a count.
    FAULT_MATRIX.append(
        Row("connection refused", source_of(embed), seconds, 3, 1, source_of(next_embed))
    )


async def test_when_every_upstream_fails_the_offline_fact_answers_in_time(rig: Rig) -> None:
    rig.meowfacts.handler = rig.meowfacts.body("down", status=503)
    rig.ninja.handler = rig.ninja.body("down", status=503)
    embed, seconds = await rig.ask()
    assert source_of(embed) == "offline fact (marked)"
    assert seconds < BUDGET + SLACK
    assert (rig.meowfacts.requests, rig.ninja.requests) == (3, 3)
    next_embed, _ = await rig.ask()
    assert next_embed.description != embed.description
    FAULT_MATRIX.append(
        Row("every upstream 503", source_of(embed), seconds, 3, 3, source_of(next_embed))
    )


async def test_a_hang_everywhere_still_answers_within_the_budget(rig: Rig) -> None:
    rig.meowfacts.handler = rig.meowfacts.hang()
    rig.ninja.handler = rig.ninja.hang()
    embed, seconds = await rig.ask()
    assert source_of(embed) == "offline fact (marked)"
    assert seconds < BUDGET + SLACK
    FAULT_MATRIX.append(
        Row(
            "every upstream hangs",
            source_of(embed),
            seconds,
            rig.meowfacts.requests,
            rig.ninja.requests,
            "(not asked)",
        )
    )


async def test_while_the_breakers_are_open_users_are_answered_at_once(rig: Rig) -> None:
    rig.meowfacts.handler = rig.meowfacts.body("down", status=500)
    rig.ninja.handler = rig.ninja.body("down", status=500)
    for _ in range(3):  # three failed refills open both breakers
        await rig.ask()
    requests = (rig.meowfacts.requests, rig.ninja.requests)
    embed, seconds = await rig.ask()
    assert source_of(embed) == "offline fact (marked)"
    assert (rig.meowfacts.requests, rig.ninja.requests) == requests  # nobody was called
    assert seconds < 0.2
    FAULT_MATRIX.append(
        Row("breakers open (after 3 failures)", source_of(embed), seconds, 0, 0, "-")
    )


async def test_recovery_after_the_fault_clears(rig: Rig) -> None:
    healthy = rig.meowfacts.handler
    rig.meowfacts.handler = rig.meowfacts.body("down", status=500)
    rig.ninja.handler = rig.ninja.body("down", status=500)
    for _ in range(3):
        await rig.ask()
    rig.meowfacts.handler = healthy
    rig.clock.advance(30)  # the breakers' cool-down passes, without waiting for it
    before = rig.meowfacts.requests
    embed, seconds = await rig.ask()
    assert source_of(embed) == "meowfacts fact"
    assert rig.meowfacts.requests == before + 1  # one probe, which brought a whole batch
    next_embed, _ = await rig.ask()
    assert source_of(next_embed) == "meowfacts fact"
    assert rig.meowfacts.requests == before + 1  # served from the buffer
    FAULT_MATRIX.append(
        Row("recovery after the fault clears", source_of(embed), seconds, 1, 0, "from buffer")
    )
