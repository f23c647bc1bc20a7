"""The error handler's wording and robustness, apart from any one command."""

from __future__ import annotations

import logging
from typing import Any
from unittest.mock import MagicMock

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.core import CatFactBot
from bot.error_handler import UNEXPECTED, CooldownNotices, ErrorHandler, unwrap
from fakes import interaction_context


async def _callback(interaction: discord.Interaction) -> None:
    """Body of the real app command used to build real wrapper exceptions."""


APP_COMMAND: app_commands.Command[Any, ..., Any] = app_commands.Command(
    name="catfact", description="d", callback=_callback
)


def test_unwrap_reaches_the_original_through_every_layer() -> None:
    original = RuntimeError("503")
    app_error = app_commands.CommandInvokeError(APP_COMMAND, original)
    wrapped = commands.HybridCommandError(app_error)
    assert unwrap(wrapped) is original
    assert unwrap(commands.CommandInvokeError(original)) is original
    assert unwrap(original) is original


def slash_context(bot: CatFactBot) -> MagicMock:
    return interaction_context(bot.get_command("catfact"))


async def test_a_slash_invocation_error_is_unwrapped_and_answered(mocked_bot: CatFactBot) -> None:
    handler = mocked_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    ctx = slash_context(mocked_bot)
    app_error = app_commands.CommandInvokeError(APP_COMMAND, RuntimeError("bug"))
    await handler.on_command_error(ctx, commands.HybridCommandError(app_error))
    ctx.send.assert_awaited_once_with(UNEXPECTED, ephemeral=True)


async def test_a_reply_that_cannot_be_sent_is_logged_not_raised(
    mocked_bot: CatFactBot, caplog: pytest.LogCaptureFixture
) -> None:
    handler = mocked_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    ctx = slash_context(mocked_bot)
    ctx.send.side_effect = discord.Forbidden(MagicMock(status=403, reason="Forbidden"), "no")
    with caplog.at_level(logging.WARNING, logger="bot.error_handler"):
        await handler.on_command_error(ctx, commands.CommandInvokeError(RuntimeError("down")))
    assert any("could not send" in r.getMessage() for r in caplog.records)


async def test_other_check_failures_say_the_command_cannot_be_used_here(
    mocked_bot: CatFactBot,
) -> None:
    handler = mocked_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    ctx = slash_context(mocked_bot)
    await handler.on_command_error(ctx, commands.CheckFailure())
    ctx.send.assert_awaited_once_with("You can't use `/catfact` here.", ephemeral=True)


async def test_a_server_only_command_in_a_dm_says_so(mocked_bot: CatFactBot) -> None:
    handler = mocked_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    ctx = slash_context(mocked_bot)
    await handler.on_command_error(ctx, commands.NoPrivateMessage())
    ctx.send.assert_awaited_once_with(
        "`/catfact` only works in a server, not in a direct message.", ephemeral=True
    )


@pytest.mark.parametrize(("retry_after", "seconds"), [(4.2, 5), (0.01, 1), (3.0, 3)])
async def test_a_cooldown_says_when_to_try_again_in_whole_seconds(
    mocked_bot: CatFactBot, retry_after: float, seconds: int
) -> None:
    handler = mocked_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    ctx = slash_context(mocked_bot)
    cooldown = commands.Cooldown(1, 5)
    await handler.on_command_error(
        ctx, commands.CommandOnCooldown(cooldown, retry_after, commands.BucketType.user)
    )
    ctx.send.assert_awaited_once_with(
        f"Easy there! You can use `/catfact` again in {seconds} s.", ephemeral=True
    )


# Two commands shaped unlike any the bot has today, to check the slash usage for any future one.
@commands.hybrid_command(name="between")  # type: ignore[arg-type]  # see bot/core.py
async def between(ctx: commands.Context[CatFactBot], low: int, high: int) -> None:
    """Pick a number between two others."""


@commands.hybrid_command(name="shout")  # type: ignore[arg-type]  # see bot/core.py
async def shout(ctx: commands.Context[CatFactBot], text: str) -> None:
    """Repeat the text loudly."""


@pytest.mark.parametrize(
    ("command", "missing", "reply"),
    [
        (between, "high", "`high` is missing. Usage: `/between low: … high: …`"),
        (shout, "text", "`text` is missing. Usage: `/shout text: …`"),
    ],
)
async def test_a_missing_slash_option_is_named_with_every_option_of_the_command(
    mocked_bot: CatFactBot, command: commands.HybridCommand[Any, ..., Any], missing: str, reply: str
) -> None:
    handler = mocked_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    ctx = interaction_context(command)
    error = commands.MissingRequiredArgument(command.clean_params[missing])
    await handler.on_command_error(ctx, error)
    ctx.send.assert_awaited_once_with(reply, ephemeral=True)


def test_a_cooldown_notice_is_given_once_per_user_command_and_cooldown() -> None:
    notices = CooldownNotices()
    assert notices.first("catfact", 1, now=100.0, retry_after=10.0)
    assert not notices.first("catfact", 1, now=105.0, retry_after=5.0)  # still the same cooldown
    assert notices.first("catfact", 2, now=105.0, retry_after=10.0)  # another user
    assert notices.first("add", 1, now=105.0, retry_after=10.0)  # another command
    assert notices.first("catfact", 1, now=110.0, retry_after=10.0)  # a new cooldown


def test_the_notices_kept_are_bounded_forgetting_finished_cooldowns_first() -> None:
    notices = CooldownNotices(limit=2)
    assert notices.first("catfact", 1, now=0.0, retry_after=5.0)
    assert notices.first("catfact", 2, now=0.0, retry_after=50.0)
    assert notices.first("catfact", 3, now=10.0, retry_after=50.0)  # user 1's is over: forgotten
    assert not notices.first("catfact", 2, now=10.0, retry_after=40.0)  # user 2's is kept
    assert notices.first("catfact", 4, now=20.0, retry_after=50.0)  # all running: the oldest goes
    assert notices.first("catfact", 2, now=20.0, retry_after=30.0)  # (it was user 2's)


def test_notices_whose_cooldown_ends_now_are_the_first_forgotten() -> None:
    notices = CooldownNotices(limit=3)
    for user in (1, 2):
        assert notices.first("catfact", user, now=0.0, retry_after=10.0)
    assert len(notices) == 2  # below the limit: nothing is forgotten
    assert notices.first("catfact", 3, now=10.0, retry_after=10.0)
    assert len(notices) == 3
    assert notices.first("catfact", 4, now=10.0, retry_after=10.0)  # at the limit: prune
    assert len(notices) == 2  # users 1 and 2 ended at 10.0, exactly now: both forgotten


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        (["manage_guild"], "Manage Server"),
        (["ban_members", "kick_members"], "Ban Members and Kick Members"),
    ],
)
async def test_a_missing_permission_is_named_as_discord_shows_it(
    mocked_bot: CatFactBot, missing: list[str], named: str
) -> None:
    handler = mocked_bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    ctx = slash_context(mocked_bot)
    await handler.on_command_error(ctx, commands.MissingPermissions(missing))
    ctx.send.assert_awaited_once_with(
        f"You need the {named} permission to do that.", ephemeral=True
    )
