"""A bot process killed with SIGKILL at each point of making a daily post, then restarted: every
post is made exactly once. Real processes, a real database (SQLite and PostgreSQL), real
discord.py against the fake Discord REST API, which outlives them as Discord does.

Each test subscribes three channels, runs one scheduler pass in a child process at the posts'
time and kills it at one point, then runs a second child (the restart) after the dead claims have
gone stale. The table in ``docs/daily.md`` says what each point leaves behind and why no post is
made twice; this is its proof.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from bot.daily import DailyService, Pacer
from bot.daily.service import CLAIM_TIMEOUT
from bot.database import Database, parse_database_url, schema
from fakes import CreatedMessage, FakeDiscordREST
from tests.bot.daily.helpers import (
    ADMIN,
    ENGLISH_FACTS,
    GUILD,
    NINE_IN_BERLIN,
    FakeDiscord,
    WallClock,
)
from tests.project import REPO

pytestmark = pytest.mark.real_time  # waits on other processes

DUE = datetime.datetime(2026, 1, 15, 8, 0, tzinfo=datetime.UTC)  # NINE_IN_BERLIN on 15 January
CHANNELS = (801, 802, 803)
RESTART_AT = DUE + CLAIM_TIMEOUT + datetime.timedelta(seconds=30)

CHILD = """
import asyncio, dataclasses, datetime, json, os, signal, sys

import discord

from bot.daily import DailyService, DiscordPoster, Pacer
from bot.database import Database, parse_database_url
from bot.facts import ENGLISH
from bot.facts.pool import Collection
from fakes import pointing_discord_at

url, discord_url, token, now, kill_at = sys.argv[1:]
NOW = datetime.datetime.fromisoformat(now)
FACTS = Collection.of([f"Cats have {n} whiskers on a good day." for n in range(5)], "fake")


def point(name: str) -> None:
    print(name, flush=True)
    if name == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


async def facts(code: str) -> Collection:
    return FACTS


async def language(guild_id: int) -> object:
    return ENGLISH


async def main() -> None:
    database = Database(parse_database_url(url))
    client = discord.Client(intents=discord.Intents.none())
    with pointing_discord_at(discord_url):
        await client.login(token)
        poster = DiscordPoster(client)
        service = DailyService(
            database, poster, facts, language, clock=lambda: NOW, pacer=Pacer(None),
            process=f"child-{os.getpid()}",
        )
        store = service.store
        claim, send, record = store.claim, poster.send, store.record

        async def claiming(*args, **kwargs):
            point("before the claim")
            won = await claim(*args, **kwargs)
            point("after the claim")
            return won

        async def sending(post):
            message_id = await send(post)
            point("after a send")
            return message_id

        async def recording(outcomes, **kwargs):
            point("before the record")
            await record(outcomes, **kwargs)
            point("after the record")

        store.claim, poster.send, store.record = claiming, sending, recording
        await service.run_due()
        print(json.dumps(dataclasses.asdict(service.counters)), flush=True)
        await client.close()
    await database.close()


asyncio.run(main())
"""


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscordREST]:
    async with FakeDiscordREST() as fake:
        yield fake


async def run_child(
    url: str, fake: FakeDiscordREST, now: datetime.datetime, kill_at: str = ""
) -> tuple[int, list[str]]:
    """One bot process's scheduler pass at ``now``; its exit status and what it printed."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        url,
        fake.url,
        fake.token,
        now.isoformat(),
        kill_at,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    if kill_at == "while sending":  # Discord has the message; the bot never hears back

        async def kill(message: CreatedMessage) -> None:
            fake.on_created = None
            child.send_signal(signal.SIGKILL)
            await child.wait()

        fake.on_created = kill
    output, _ = await child.communicate()
    fake.on_created = None
    assert child.returncode is not None
    return child.returncode, output.decode().splitlines()


async def subscribe_all(url: str) -> None:
    database = Database(parse_database_url(url))
    await database.migrate()
    service = DailyService(
        database,
        FakeDiscord(WallClock()),
        _facts,
        _language,
        clock=lambda: DUE - datetime.timedelta(hours=1),
        pacer=Pacer(None),
    )
    try:
        for channel in CHANNELS:
            await service.subscribe(GUILD + channel, channel, NINE_IN_BERLIN, by=ADMIN)
    finally:
        await database.close()


async def posts_states(url: str) -> dict[int, str]:
    database = Database(parse_database_url(url))
    try:
        async with database.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(schema.daily_posts.c.channel_id, schema.daily_posts.c.state)
            )
            return {row.channel_id: row.state for row in rows}
    finally:
        await database.close()


async def _facts(code: str) -> Any:
    return ENGLISH_FACTS


async def _language(guild_id: int) -> Any:
    raise AssertionError("not needed to subscribe")


@pytest.mark.parametrize(
    ("kill_at", "restart_finds"),
    [
        ("before the claim", None),  # nothing claimed, nothing made: the restart makes all three
        ("after the claim", 0),  # claimed, nothing made: taken over once stale, and made
        ("while sending", None),  # one or more made, unanswered: found, the rest made
        ("after a send", None),  # one or more made and answered, none recorded: the same
        ("before the record", 3),  # all made, none recorded: all found, none made again
        ("after the record", 0),  # all made and recorded: nothing is owed
    ],
)
async def test_killed_at_any_point_every_post_is_made_exactly_once(
    database_url: str, fake_discord: FakeDiscordREST, kill_at: str, restart_finds: int | None
) -> None:
    await subscribe_all(database_url)
    status, printed = await run_child(database_url, fake_discord, DUE, kill_at)
    assert status == -signal.SIGKILL
    if kill_at != "while sending":
        assert printed[-1] == kill_at  # it died there, and not before
    made_before = len(fake_discord.messages)
    if kill_at in ("before the claim", "after the claim"):
        assert made_before == 0
    else:
        assert made_before >= 1
    print(f"killed {kill_at}: {made_before} made before the kill", end="; ")

    status, printed = await run_child(database_url, fake_discord, RESTART_AT)
    assert status == 0
    counters = json.loads(printed[-1])

    per_channel = Counter(message.channel_id for message in fake_discord.messages)
    assert per_channel == dict.fromkeys(CHANNELS, 1)
    assert await posts_states(database_url) == dict.fromkeys(CHANNELS, "sent")
    if kill_at == "after the record":
        assert counters["sent"] + counters["found"] == 0
    else:
        assert counters["found"] == made_before  # what the dead process made, found
        assert counters["sent"] == len(CHANNELS) - made_before  # the rest, made now
    if restart_finds is not None:
        assert counters["found"] == restart_finds
    assert fake_discord.nonce_duplicates == 0  # the look back found them; no resend was needed
    print(  # the crash-point table in docs/daily.md, with pytest -s
        f"the restart found {counters['found']} and made {counters['sent']}; "
        f"messages per channel {sorted(per_channel.values())}"
    )
