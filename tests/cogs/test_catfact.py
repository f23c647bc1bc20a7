"""``!catfact``: end to end (dpytest, local upstream), with a mocked client, and as /catfact."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from unittest.mock import AsyncMock, MagicMock

import discord
import discord.ext.test as dpytest
import pytest
import pytest_asyncio
from discord.ext import commands

from bot.core import CatFactBot
from bot.error_handler import UNEXPECTED, ErrorHandler
from bot.facts import Fact
from bot.facts.offline import FACTS as OFFLINE_FACTS
from bot.settings import Settings
from cogs.catfact import EMBED_TITLE, OFFLINE_FOOTER
from fakes import FACTS, FakeMeowfacts, call_slash, interaction_context
from tests.conftest import running_bot, spy_on_sent_payloads

# --- End to end: a guild message, the real client, a local upstream ------------------------------


async def test_catfact_replies_with_the_fact_in_an_embed(
    bot: CatFactBot, meowfacts: FakeMeowfacts
) -> None:
    await dpytest.message("!catfact")
    embed = dpytest.get_embed()
    assert embed.title == EMBED_TITLE
    assert embed.description in FACTS
    assert embed.colour == discord.Colour.orange()
    assert embed.footer.text is None
    assert meowfacts.requests == 1


async def test_later_facts_come_from_memory_and_differ(
    bot: CatFactBot, meowfacts: FakeMeowfacts
) -> None:
    told: list[str] = []
    for _ in range(len(FACTS)):
        await dpytest.message("!catfact")
        told.append(dpytest.get_embed().description or "")
    assert sorted(told) == sorted(FACTS)  # the whole collection, none twice
    assert meowfacts.requests == 1  # fetched at start-up, once


async def test_catfact_works_with_a_mention_as_prefix(bot: CatFactBot) -> None:
    assert bot.user is not None
    await dpytest.message(f"{bot.user.mention} catfact")
    assert dpytest.get_embed().description in FACTS


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(FakeMeowfacts.body("<html>Application error</html>", status=503), id="503"),
        pytest.param(FakeMeowfacts.json({"data": []}), id="empty-data"),
        pytest.param(FakeMeowfacts.body("<html>hi</html>"), id="html-200"),
    ],
)
async def test_when_the_upstream_fails_from_the_start_an_offline_fact_is_told_and_marked(
    settings: Settings, meowfacts: FakeMeowfacts, failure: object
) -> None:
    meowfacts.handler = failure  # type: ignore[assignment]
    async with running_bot(settings):
        await dpytest.message("!catfact")
        embed = dpytest.get_embed()
        assert embed.description in OFFLINE_FACTS
        assert embed.footer.text == OFFLINE_FOOTER


async def test_bot_keeps_answering_after_a_failed_fact_and_recovers(
    settings: Settings, meowfacts: FakeMeowfacts
) -> None:
    healthy = meowfacts.handler
    meowfacts.handler = meowfacts.body("down", status=500)
    async with running_bot(settings):
        await dpytest.message("!catfact")
        assert dpytest.get_embed().footer.text == OFFLINE_FOOTER
        await dpytest.message("!add 1 2")
        assert dpytest.verify().message().content("3")
        meowfacts.handler = healthy
        await dpytest.message("!catfact")  # nothing in memory yet: this one fetches
        assert dpytest.get_embed().description in FACTS


async def test_fact_text_cannot_ping_anyone_or_change_the_message(
    settings: Settings, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.collection = ["@everyone **cats** are <@&123456789012345678>"]
    async with running_bot(settings) as test_bot:
        payloads = spy_on_sent_payloads(test_bot)
        await dpytest.message("!catfact")
        assert payloads[-1]["allowed_mentions"] == {"parse": []}
        assert dpytest.get_embed().description == (
            "@\u200beveryone \\*\\*cats\\*\\* are <\u200b@\u200b&123456789012345678>"
        )


# --- The cog with AsyncMock standing in for the network client -----------------------------------


async def test_catfact_sends_what_the_client_returns_for_this_channel(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    fake_catfacts.get_fact.return_value = Fact("Cats can rotate their ears.", "meowfacts")
    await dpytest.message("!catfact")
    assert dpytest.get_embed().description == "Cats can rotate their ears."
    channel = dpytest.get_config().channels[0]
    fake_catfacts.get_fact.assert_awaited_once_with(channel=channel.id, language="eng-us")


async def test_an_offline_fact_says_so_in_the_footer(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    fake_catfacts.get_fact.return_value = Fact(OFFLINE_FACTS[0], "offline")
    await dpytest.message("!catfact")
    embed = dpytest.get_embed()
    assert (embed.description, embed.footer.text) == (OFFLINE_FACTS[0], OFFLINE_FOOTER)


async def test_unexpected_error_is_logged_and_answered(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock, caplog: pytest.LogCaptureFixture
) -> None:
    fake_catfacts.get_fact.side_effect = RuntimeError("a bug")
    with caplog.at_level(logging.ERROR), pytest.raises(commands.CommandInvokeError):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content(UNEXPECTED)
    [record] = [r for r in caplog.records if r.name == "bot.error_handler"]
    assert record.getMessage() == "unexpected error in !catfact"  # which command, for the operator
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


# --- The per-user cooldown -----------------------------------------------------------------------


@pytest_asyncio.fixture
async def cooled_bot(settings: Settings, fake_catfacts: AsyncMock) -> AsyncIterator[CatFactBot]:
    """The bot with a 10-second ``!catfact`` cooldown."""
    async with running_bot(
        dataclasses.replace(settings, catfact_cooldown=10), catfacts=fake_catfacts
    ) as test_bot:
        yield test_bot


async def test_a_second_catfact_too_soon_is_told_when_to_come_back(
    cooled_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    await dpytest.message("!catfact")
    assert dpytest.get_embed().title == EMBED_TITLE
    with pytest.raises(commands.CommandOnCooldown):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content("Easy there! You can use `!catfact` again in 10 s.")
    assert fake_catfacts.get_fact.await_count == 1


async def test_after_the_cooldown_the_next_catfact_is_answered(
    cooled_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    await dpytest.message("!catfact")
    assert dpytest.get_embed().title == EMBED_TITLE
    await asyncio.sleep(9.9)
    with pytest.raises(commands.CommandOnCooldown):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content("Easy there! You can use `!catfact` again in 1 s.")
    await asyncio.sleep(0.2)  # past the 10 s (discord.py ends a cooldown just after its length)
    await dpytest.message("!catfact")
    assert fake_catfacts.get_fact.await_count == 2


async def test_spam_inside_the_cooldown_is_answered_once_then_met_with_silence(
    cooled_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    await dpytest.message("!catfact")
    assert dpytest.get_embed().title == EMBED_TITLE
    for _ in range(5):
        await asyncio.sleep(1)
        with pytest.raises(commands.CommandOnCooldown):
            await dpytest.message("!catfact")
    assert dpytest.verify().message().content("Easy there! You can use `!catfact` again in 9 s.")
    assert dpytest.verify().message().nothing()  # the other four got no reply
    await asyncio.sleep(5.5)  # the cooldown is over: a fact, and the next refusal is said again
    await dpytest.message("!catfact")
    assert dpytest.get_embed().title == EMBED_TITLE
    with pytest.raises(commands.CommandOnCooldown):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content("Easy there! You can use `!catfact` again in 10 s.")
    assert fake_catfacts.get_fact.await_count == 2


async def test_the_notice_is_per_user_too(cooled_bot: CatFactBot) -> None:
    first, second = dpytest.get_config().members[:2]
    for member in (first, second):
        await dpytest.message("!catfact", member=member)
        dpytest.get_embed()
    for member in (first, second):
        with pytest.raises(commands.CommandOnCooldown):
            await dpytest.message("!catfact", member=member)
        assert dpytest.verify().message().contains().content("Easy there!")


async def test_a_slash_refusal_is_always_answered_but_only_to_the_asker(
    cooled_bot: CatFactBot,
) -> None:
    # An interaction must be answered (else Discord shows "the application did not respond");
    # an ephemeral reply is seen by the asker alone, so it is no spam.
    handler = cooled_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    error = commands.CommandOnCooldown(commands.Cooldown(1, 10), 4.0, commands.BucketType.user)
    for _ in range(2):
        ctx = interaction_context(cooled_bot.get_command("catfact"))
        await handler.on_command_error(ctx, error)
        ctx.send.assert_awaited_once_with(
            "Easy there! You can use `/catfact` again in 4 s.", ephemeral=True
        )


async def test_a_one_second_cooldown_is_kept_too(
    settings: Settings, fake_catfacts: AsyncMock
) -> None:
    async with running_bot(
        dataclasses.replace(settings, catfact_cooldown=1), catfacts=fake_catfacts
    ):
        await dpytest.message("!catfact")
        with pytest.raises(commands.CommandOnCooldown):
            await dpytest.message("!catfact")
        assert fake_catfacts.get_fact.await_count == 1


async def test_the_cooldown_is_per_user(cooled_bot: CatFactBot, fake_catfacts: AsyncMock) -> None:
    first, second = dpytest.get_config().members[:2]
    await dpytest.message("!catfact", member=first)
    await dpytest.message("!catfact", member=second)
    assert fake_catfacts.get_fact.await_count == 2


async def test_the_cooldown_can_be_turned_off(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    for _ in range(3):
        await dpytest.message("!catfact")
    assert fake_catfacts.get_fact.await_count == 3


# --- The slash face: the hybrid callback with a mocked interaction context -----------------------


async def test_slash_catfact_defers_before_fetching(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    ctx = interaction_context()
    order = MagicMock()
    order.attach_mock(ctx.defer, "defer")
    order.attach_mock(fake_catfacts.get_fact, "get_fact")
    order.attach_mock(ctx.send, "send")
    await call_slash(mocked_bot, "catfact", ctx)

    assert [call[0] for call in order.mock_calls] == ["defer", "get_fact", "send"]
    embed = ctx.send.await_args.kwargs["embed"]
    assert embed.description == fake_catfacts.get_fact.return_value.text
