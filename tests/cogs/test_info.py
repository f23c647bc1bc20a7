"""``!ping`` and ``!about``, end to end through the simulated guild and as slash commands."""

from __future__ import annotations

import asyncio
import math
from unittest.mock import AsyncMock

import aiohttp
import discord
import discord.ext.test as dpytest
import pytest

from bot import __version__
from bot.core import CatFactBot, make_bot
from bot.facts import CatFactClient
from bot.settings import Settings
from cogs.info import Info, duration, milliseconds, shards_of
from tests.conftest import running_bot
from tests.fakes import (
    FACTS,
    FakeCatfactNinja,
    FakeMeowfacts,
    call_slash,
    interaction_context,
)


def fields(embed: discord.Embed) -> dict[str, str]:
    return {field.name or "": field.value or "" for field in embed.fields}


async def test_ping_replies_then_edits_in_both_latencies(bot: CatFactBot) -> None:
    await dpytest.message("!ping")
    reply = dpytest.get_message()
    assert reply.content == "Pong!"
    edited = await reply.channel.fetch_message(reply.id)
    assert edited.content.startswith("Pong! Gateway latency: not measured yet. Reply round trip: ")
    assert edited.content.endswith(" ms.")


async def test_slash_ping_edits_the_reply_it_sent(mocked_bot: CatFactBot) -> None:
    ctx = interaction_context()
    sent = AsyncMock(spec=discord.Message)
    ctx.send.return_value = sent
    await call_slash(mocked_bot, "ping", ctx)
    ctx.send.assert_awaited_once_with("Pong!")
    content = sent.edit.await_args.kwargs["content"]
    assert content.startswith("Pong! Gateway latency: ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0424, "42 ms"),
        (1.5, "1500 ms"),
        (math.inf, "not measured yet"),
        (math.nan, "not measured yet"),
    ],
)
def test_milliseconds(seconds: float, text: str) -> None:
    assert milliseconds(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (3600 * 3 + 300, "3 h 5 min"),
        (86_400 * 2 + 3600 * 4 + 59, "2 d 4 h"),
        (86_400, "1 d 0 h"),
        (86_399, "23 h 59 min"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


async def test_about_reports_what_the_bot_has_done(bot: CatFactBot) -> None:
    await bot.catfacts.refresh()
    await asyncio.sleep(3 * 60 + 5)
    await dpytest.message("!add 1 2")
    await dpytest.message("!catfact")
    await dpytest.message("!catfact")
    await dpytest.empty_queue()
    await dpytest.message("!about")
    embed = dpytest.get_embed()
    assert embed.title == "About this bot"
    assert embed.colour == discord.Colour.blurple()
    assert embed.description is not None
    assert __version__ in embed.description
    assert fields(embed) == {
        "Uptime": "3 min",
        "Servers": "1",
        "Shards": "unsharded (one process)",
        "Commands answered": "3",
        "Facts served": "2",
        "Fact sources": "pool 2, waited 0, offline 0",
        "Upstream": "meowfacts healthy",
        "Facts ready": str(len(FACTS)),
    }


async def test_uptime_counts_from_when_the_bot_started(settings: Settings) -> None:
    await asyncio.sleep(1000)  # the loop has been running a while before the bot starts
    async with running_bot(settings):
        await asyncio.sleep(125)
        await dpytest.message("!about")
        assert fields(dpytest.get_embed())["Uptime"] == "2 min"


async def test_about_shows_an_unhealthy_upstream(bot: CatFactBot) -> None:
    [breaker] = bot.catfacts.breakers
    breaker.record_failure()
    await dpytest.message("!about")
    assert fields(dpytest.get_embed())["Upstream"] == "meowfacts failing (1 in a row)"
    for _ in range(breaker.threshold):
        breaker.record_failure()
    await dpytest.message("!about")
    assert fields(dpytest.get_embed())["Upstream"] == "meowfacts down"


async def test_about_with_no_providers() -> None:
    async with running_bot(Settings(catfact_providers=(), catfact_cooldown=0)):
        await dpytest.message("!about")
        upstream = fields(dpytest.get_embed())["Upstream"]
        assert upstream == "none configured (offline facts only)"


async def test_slash_about_sends_the_embed(bot: CatFactBot) -> None:
    ctx = interaction_context()
    await call_slash(bot, "about", ctx)
    embed = ctx.send.await_args.kwargs["embed"]
    assert embed.title == "About this bot"


@pytest.mark.parametrize(
    ("env", "text"),
    [
        ({}, "unsharded (one process)"),
        ({"SHARD_COUNT": "16"}, "all 16 shards"),
        ({"SHARD_COUNT": "16", "SHARD_IDS": "0-3,8"}, "shards 0-3, 8 of 16"),
    ],
)
def test_about_names_the_shards_of_this_process(env: dict[str, str], text: str) -> None:
    assert shards_of(make_bot(Settings.from_env(env))) == text


def test_a_bot_that_is_not_sharded_says_so_whatever_the_settings() -> None:
    settings = Settings.from_env({"SHARD_COUNT": "16"})
    assert shards_of(CatFactBot(settings)) == "unsharded (one process)"


@pytest.mark.parametrize("name", ["ping", "about"])
async def test_ping_and_about_are_slash_commands_too(bot: CatFactBot, name: str) -> None:
    assert bot.tree.get_command(name) is not None


async def test_about_lists_every_upstream_in_failover_order(
    meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    settings = Settings(
        catfact_providers=(("catfact.ninja", ninja.url), ("meowfacts", meowfacts.url)),
        catfact_cooldown=0,
    )
    async with running_bot(settings):
        await dpytest.message("!about")
        upstream = fields(dpytest.get_embed())["Upstream"]
        assert upstream == "catfact.ninja healthy, meowfacts healthy"


async def test_about_on_a_sharded_bot_names_its_shards(session: aiohttp.ClientSession) -> None:
    settings = Settings.from_env({"SHARD_COUNT": "16", "SHARD_IDS": "0-3"})
    client = CatFactClient(session, [], budget=settings.catfact_timeout)
    embed = Info(make_bot(settings, catfacts=client)).about_embed()
    assert fields(embed)["Shards"] == "shards 0-3 of 16"
