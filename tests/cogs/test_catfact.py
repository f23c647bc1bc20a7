"""``!catfact``: end to end (dpytest, local upstream), with a mocked client, and as /catfact."""

from __future__ import annotations

import logging
from unittest.mock import AsyncMock, MagicMock

import discord.ext.test as dpytest
import pytest
from discord.ext import commands

from bot.catfact import CatFactError
from bot.core import CatFactBot
from bot.error_handler import CATFACT_UNAVAILABLE, UNEXPECTED
from cogs.catfact import EMBED_TITLE
from tests.fakes import FACTS, FakeMeowfacts, call_slash, interaction_context

# --- End to end: a guild message, the real client, a local upstream ----------------------------


async def test_catfact_replies_with_the_fact_in_an_embed(
    bot: CatFactBot, meowfacts: FakeMeowfacts
) -> None:
    await dpytest.message("!catfact")
    embed = dpytest.get_embed()
    assert embed.title == EMBED_TITLE
    assert embed.description == FACTS[0]
    assert meowfacts.requests == 1


async def test_catfact_works_with_a_mention_as_prefix(bot: CatFactBot) -> None:
    assert bot.user is not None
    await dpytest.message(f"{bot.user.mention} catfact")
    assert dpytest.get_embed().description == FACTS[0]


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(FakeMeowfacts.body("<html>Application error</html>", status=503), id="503"),
        pytest.param(FakeMeowfacts.json({"data": []}), id="empty-data"),
        pytest.param(FakeMeowfacts.body("<html>hi</html>"), id="html-200"),
    ],
)
async def test_catfact_apologises_when_the_upstream_fails(
    bot: CatFactBot, meowfacts: FakeMeowfacts, failure: object
) -> None:
    meowfacts.handler = failure  # type: ignore[assignment]
    with pytest.raises(commands.CommandInvokeError):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content(CATFACT_UNAVAILABLE)


async def test_catfact_apologises_when_the_upstream_hangs(
    bot: CatFactBot, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.hang()  # the bot's timeout is 0.5 s in tests
    with pytest.raises(commands.CommandInvokeError):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content(CATFACT_UNAVAILABLE)


async def test_bot_keeps_answering_after_a_failed_fact(
    bot: CatFactBot, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.body("down", status=500)
    with pytest.raises(commands.CommandInvokeError):
        await dpytest.message("!catfact")
    await dpytest.empty_queue()
    await dpytest.message("!add 1 2")
    assert dpytest.verify().message().content("3")
    meowfacts.handler = meowfacts.json({"data": [FACTS[1]]})
    await dpytest.message("!catfact")
    assert dpytest.get_embed().description == FACTS[1]


async def test_fact_text_cannot_ping_anyone(
    bot: CatFactBot, meowfacts: FakeMeowfacts, sent_payloads: list[dict[str, object]]
) -> None:
    meowfacts.handler = meowfacts.json({"data": ["@everyone cats are <@&123> great"]})
    await dpytest.message("!catfact")
    assert sent_payloads[-1]["allowed_mentions"] == {"parse": []}


async def test_a_fact_too_long_for_an_embed_is_shortened(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    fake_catfacts.get_fact.return_value = "purr " * 2000
    await dpytest.message("!catfact")
    description = dpytest.get_embed().description
    assert description is not None
    assert len(description) == 4096
    assert description.endswith("…")


# --- The cog with AsyncMock standing in for the network client ---------------------------------


async def test_catfact_sends_what_the_client_returns(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    fake_catfacts.get_fact.return_value = "Cats can rotate their ears."
    await dpytest.message("!catfact")
    assert dpytest.get_embed().description == "Cats can rotate their ears."
    fake_catfacts.get_fact.assert_awaited_once_with()


async def test_client_failure_becomes_the_friendly_reply(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock
) -> None:
    fake_catfacts.get_fact.side_effect = CatFactError("upstream said 503")
    with pytest.raises(commands.CommandInvokeError):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content(CATFACT_UNAVAILABLE)


async def test_unexpected_error_is_logged_and_answered(
    mocked_bot: CatFactBot, fake_catfacts: AsyncMock, caplog: pytest.LogCaptureFixture
) -> None:
    fake_catfacts.get_fact.side_effect = RuntimeError("a bug")
    with caplog.at_level(logging.ERROR), pytest.raises(commands.CommandInvokeError):
        await dpytest.message("!catfact")
    assert dpytest.verify().message().content(UNEXPECTED)
    [record] = [r for r in caplog.records if r.name == "bot.error_handler"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


# --- The slash face: the hybrid callback with a mocked interaction context ---------------------


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
    assert embed.description == fake_catfacts.get_fact.return_value


async def test_catfact_is_registered_as_a_slash_command(mocked_bot: CatFactBot) -> None:
    command = mocked_bot.tree.get_command("catfact")
    assert command is not None
    assert command.description == "Tell a random cat fact."
