"""One INFO line per command: who, what, where, how long, how it ended; never the message text."""

from __future__ import annotations

import contextlib
import logging
import re
from unittest.mock import MagicMock

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext import commands

from bot import activity
from bot.activity import CommandLog
from bot.core import CatFactBot
from fakes import interaction_context

LINE = re.compile(
    r"(?P<command>\S+) by (?P<who>.+) \((?P<id>\d+)\) in (?P<where>guild \d+|DM) "
    r"channel (?P<channel>\d+): (?P<outcome>.+) in (?P<took>[\d.]+ ms|-)"
)


def command_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.commands"]
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m]


@pytest.fixture
def info_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="bot.commands")
    return caplog


async def test_a_command_is_logged_once_with_who_where_and_how_long(
    bot: CatFactBot, alice: discord.Member, info_log: pytest.LogCaptureFixture
) -> None:
    await dpytest.message("!add 1 2", member=alice)
    [line] = command_lines(info_log)
    channel = dpytest.get_config().channels[0]
    assert line["command"] == "!add"
    assert line["who"] == str(alice)
    assert int(line["id"]) == alice.id
    assert line["where"] == f"guild {alice.guild.id}"
    assert int(line["channel"]) == channel.id
    assert line["outcome"] == "ok"
    assert line["took"].endswith(" ms")


async def test_a_failed_command_logs_the_error_type_but_not_the_input(
    bot: CatFactBot, info_log: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(commands.BadArgument):
        await dpytest.message("!add secret-looking-input 1")
    [line] = command_lines(info_log)
    assert line["outcome"] == "error OperandError"
    assert "secret-looking-input" not in info_log.text


async def test_unknown_commands_are_not_logged_or_counted(
    bot: CatFactBot, info_log: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(commands.CommandNotFound):
        await dpytest.message("!nosuchcommand")
    assert command_lines(info_log) == []
    assert bot.commands_answered == 0


async def test_commands_answered_counts_successes_and_errors(bot: CatFactBot) -> None:
    await dpytest.message("!add 1 2")
    with pytest.raises(commands.BadArgument):
        await dpytest.message("!add x 1")
    assert bot.commands_answered == 2


async def test_a_slash_command_is_logged_with_a_slash(
    bot: CatFactBot, info_log: pytest.LogCaptureFixture
) -> None:
    ctx = interaction_context(bot.get_command("add"))
    ctx.author = dpytest.get_config().members[0]
    ctx.guild = None
    ctx.channel.id = 42
    await command_log(bot).on_command_completion(ctx)
    [line] = command_lines(info_log)
    assert (line["command"], line["where"], line["channel"]) == ("/add", "DM", "42")


def typed_context(bot: CatFactBot) -> MagicMock:
    """A context for ``!add`` typed in the guild's channel (for calling the listeners directly)."""
    ctx = MagicMock(spec=commands.Context)
    ctx.interaction = None
    ctx.command = bot.get_command("add")
    ctx.clean_prefix = "!"
    ctx.author = dpytest.get_config().members[0]
    ctx.guild = ctx.author.guild
    ctx.channel.id = 42
    return ctx


def command_log(bot: CatFactBot) -> CommandLog:
    cog = bot.get_cog("CommandLog")
    assert isinstance(cog, CommandLog)
    return cog


class SteppedClock:
    """``time.perf_counter`` that moves a quarter of a second each time it is read."""

    def __init__(self, now: float) -> None:
        self.now = now

    def perf_counter(self) -> float:
        self.now += 0.25
        return self.now


@pytest.mark.parametrize("text", ["!add 1 2", "!add 1 x"])
async def test_the_time_from_the_context_to_the_end_is_logged_in_milliseconds(
    bot: CatFactBot,
    info_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    # Read once when discord.py builds the context, once when the command ends: a command
    # refused before its body ran (a bad number) is timed the same way.
    monkeypatch.setattr(activity, "time", SteppedClock(1000.0))
    with contextlib.suppress(commands.CommandError):
        await dpytest.message(text)
    [line] = command_lines(info_log)
    assert line["took"] == "250.0 ms"


async def test_a_command_whose_start_was_not_seen_is_still_logged_without_a_time(
    bot: CatFactBot, info_log: pytest.LogCaptureFixture
) -> None:
    ctx = typed_context(bot)
    await command_log(bot).on_command_error(ctx, commands.CheckFailure())
    [line] = command_lines(info_log)
    assert (line["command"], line["outcome"], line["took"]) == ("!add", "error CheckFailure", "-")
    assert bot.commands_answered == 1
