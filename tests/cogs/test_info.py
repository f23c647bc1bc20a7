"""``!ping`` and ``!about``, end to end through the simulated guild and as slash commands."""

from __future__ import annotations

import asyncio
import math
from unittest.mock import AsyncMock

import discord
import discord.ext.test as dpytest
import pytest

from bot import __version__
from bot.core import CatFactBot
from bot.facts.client import Stats
from bot.settings import Settings
from cogs.info import duration, milliseconds
from fakes import FACTS, call_slash, interaction_context
from tests.conftest import running_bot


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


async def test_about_reports_what_the_bot_has_done_in_plain_words(bot: CatFactBot) -> None:
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
        "Commands answered": "3",
        "Facts told": "2",
        "Cat facts": f"{len(FACTS)} ready to tell",
    }
    assert [field.inline for field in embed.fields] == [True, True, True, True, False]


async def test_about_says_when_the_facts_are_still_on_their_way(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    fake_catfacts.ready = 0  # no collection has arrived yet, and one is on its way
    fake_catfacts.offline = False
    fake_catfacts.stats = Stats()
    await dpytest.message("!about")
    assert fields(dpytest.get_embed())["Cat facts"] == "on their way: I have only just started"


async def test_about_says_when_the_facts_come_from_the_bots_own_collection() -> None:
    async with running_bot(Settings(catfact_providers=(), catfact_cooldown=0)) as bot:
        await bot.catfacts.refresh()
        await dpytest.message("!about")
        assert fields(dpytest.get_embed())["Cat facts"] == (
            "from my own collection for now: the cat-fact service can't be reached"
        )


async def test_about_shows_no_operator_jargon(bot: CatFactBot) -> None:
    [breaker] = bot.catfacts.breakers
    for _ in range(breaker.threshold):
        breaker.record_failure()
    await dpytest.message("!about")
    shown = fields(dpytest.get_embed())
    text = " ".join([*shown.keys(), *shown.values()])
    for jargon in ("pool", "waited", "upstream", "meowfacts", "down", "shard", "in a row"):
        assert jargon not in text.lower()


async def test_uptime_counts_from_when_the_bot_started(settings: Settings) -> None:
    await asyncio.sleep(1000)  # the loop has been running a while before the bot starts
    async with running_bot(settings):
        await asyncio.sleep(125)
        await dpytest.message("!about")
        assert fields(dpytest.get_embed())["Uptime"] == "2 min"


async def test_slash_about_sends_the_embed(bot: CatFactBot) -> None:
    ctx = interaction_context()
    await call_slash(bot, "about", ctx)
    embed = ctx.send.await_args.kwargs["embed"]
    assert embed.title == "About this bot"


@pytest.mark.parametrize("name", ["ping", "about"])
async def test_ping_and_about_are_slash_commands_too(bot: CatFactBot, name: str) -> None:
    assert bot.tree.get_command(name) is not None
