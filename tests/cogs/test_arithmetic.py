"""``!add`` and ``!sub`` end to end through dpytest's simulated guild, and as slash commands."""

from __future__ import annotations

import dataclasses

import discord
import discord.ext.test as dpytest
import pytest
from discord.ext import commands

from bot.core import CatFactBot
from bot.error_handler import ErrorHandler
from bot.settings import Settings
from fakes import call_slash, interaction_context
from tests.conftest import running_bot

ADD_USAGE = "Usage: `!add <number> <number> [more numbers...]`, e.g. `!add 2 3`"
SUB_USAGE = "Usage: `!sub <number> <number> [more numbers...]`, e.g. `!sub 10 4`"
NOT_FINITE = "isn't a finite number; I only work with real numbers."


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("!add 2 3", "5"),
        ("!sub 10 4", "6"),
        ("!add 0.1 0.2", "0.3"),
        ("!sub 0.3 0.1", "0.2"),
        ("!add 1 2 3", "6"),
        ("!sub 10 1 2", "7"),
        ("!add -1.5 0.5", "-1"),
        ("!sub 5 7", "-2"),
        ("!add 1.10 2.20", "3.3"),
        ("!add +5 .5", "5.5"),
        ("!add 5. 1", "6"),
        ("!sub 0.5 0.5", "0"),
        ("!sub -0 0", "0"),
        ("!add \N{MINUS SIGN}3 1", "-2"),
        ("!add    2\t 3  ", "5"),
        ("!add 99999999999999999999 1", "100000000000000000000"),
        ("!add 0.000000000000000000001 1", "1.000000000000000000001"),
    ],
)
async def test_arithmetic_is_exact(bot: CatFactBot, message: str, reply: str) -> None:
    await dpytest.message(message)
    assert dpytest.verify().message().content(reply)


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("!add two 3", f"`two` isn't a number. {ADD_USAGE}"),
        ("!sub 10 four", f"`four` isn't a number. {SUB_USAGE}"),
        (
            "!add 1e5 1",
            f"`1e5` has an exponent, which I don't read: write it as `100000`. {ADD_USAGE}",
        ),
        (
            "!add 2.5E-3 1",
            f"`2.5E-3` has an exponent, which I don't read: write it as `0.0025`. {ADD_USAGE}",
        ),
        (
            "!add 1e99 1",
            f"`1e99` has an exponent, which I don't read: write it as digits, without the "
            f"exponent. {ADD_USAGE}",
        ),
        ("!add abc", f"`abc` isn't a number. {ADD_USAGE}"),
        (
            "!add " + "9" * 3995,
            f"`{'9' * 20}…` is too long: a number can have at most 50 characters. {ADD_USAGE}",
        ),
        ("!add 1,5 2", f"`1,5` isn't a number. {ADD_USAGE}"),
        ("!add 0x10 1", f"`0x10` isn't a number. {ADD_USAGE}"),
        ("!add 1_000 1", f"`1_000` isn't a number. {ADD_USAGE}"),
        ("!add 9**9**9 1", f"`9**9**9` isn't a number. {ADD_USAGE}"),
        (
            "!add \N{ARABIC-INDIC DIGIT THREE} 1",
            f"`\N{ARABIC-INDIC DIGIT THREE}` isn't a number. {ADD_USAGE}",
        ),
        ("!add 5", f"I need at least two numbers. {ADD_USAGE}"),
        ("!sub 5", f"I need at least two numbers. {SUB_USAGE}"),
        ("!add NaN 1", f"`NaN` {NOT_FINITE} {ADD_USAGE}"),
        ("!add inf 1", f"`inf` {NOT_FINITE} {ADD_USAGE}"),
        ("!sub 1 -Infinity", f"`-Infinity` {NOT_FINITE} {SUB_USAGE}"),
        ("!add `x` 1", f"`'x'` isn't a number. {ADD_USAGE}"),
    ],
)
async def test_bad_numbers_get_a_friendly_reply(bot: CatFactBot, message: str, reply: str) -> None:
    with pytest.raises(commands.BadArgument):
        await dpytest.message(message)
    assert dpytest.verify().message().content(reply)


@pytest.mark.parametrize("command", ["add", "sub"])
async def test_missing_numbers_get_the_usage(bot: CatFactBot, command: str) -> None:
    with pytest.raises(commands.MissingRequiredArgument):
        await dpytest.message(f"!{command}")
    usage = ADD_USAGE if command == "add" else SUB_USAGE
    expected = f"Please give me two or more numbers separated by spaces. {usage}"
    assert dpytest.verify().message().content(expected)


async def test_a_number_too_long_is_refused_before_conversion(bot: CatFactBot) -> None:
    huge = "9" * 1900
    with pytest.raises(commands.BadArgument):
        await dpytest.message(f"!add {huge} 1")
    reply = dpytest.get_message().content
    assert reply.startswith(f"`{'9' * 20}…` is too long: a number can have at most 50 characters.")


async def test_too_many_numbers_are_refused(bot: CatFactBot) -> None:
    with pytest.raises(commands.BadArgument):
        await dpytest.message("!add " + " ".join(["1"] * 26))
    assert (
        dpytest.verify()
        .message()
        .content(f"That's too many numbers: I take at most 25 at a time. {ADD_USAGE}")
    )


async def test_twenty_five_numbers_are_fine(bot: CatFactBot) -> None:
    await dpytest.message("!add " + " ".join(["1"] * 25))
    assert dpytest.verify().message().content("25")


async def test_echoed_input_cannot_ping_anyone(
    bot: CatFactBot, sent_payloads: list[dict[str, object]]
) -> None:
    with pytest.raises(commands.BadArgument):
        await dpytest.message("!add @everyone 1")
    reply = f"`@\N{ZERO WIDTH SPACE}everyone` isn't a number. {ADD_USAGE}"
    assert dpytest.verify().message().content(reply)
    assert sent_payloads[-1]["allowed_mentions"] == {"parse": []}


async def test_help_lists_every_command_with_one_line(bot: CatFactBot) -> None:
    await dpytest.message("!help")
    text = dpytest.get_message().content
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for line in (
        "add Add two or more numbers, exactly.",
        "sub Subtract the other numbers from the first, exactly.",
        "catfact Tell a random cat fact.",
        "settings Show this server's settings, or change one (admins).",
        "help Shows this message",
    ):
        assert line in lines
    assert "sync" not in text  # owner-only, hidden from everyone else


async def test_commands_are_not_case_sensitive(bot: CatFactBot) -> None:
    await dpytest.message("!ADD 1 2")
    assert dpytest.verify().message().content("3")


@pytest.mark.parametrize("name", ["ErrorHandler", "Admin"])
async def test_help_does_not_describe_internals(bot: CatFactBot, name: str) -> None:
    await dpytest.message(f"!help {name}")
    assert dpytest.verify().message().content(f"There is no command called `{name}`.")


async def test_help_for_a_category_lists_its_commands(bot: CatFactBot) -> None:
    await dpytest.message("!help Arithmetic")
    text = dpytest.get_message().content
    assert "Exact decimal arithmetic: 0.1 + 0.2 is 0.3 here." in text
    assert "sub Subtract the other numbers from the first, exactly." in text


async def test_help_for_a_subcommand_that_does_not_exist(bot: CatFactBot) -> None:
    await dpytest.message("!help add @everyone")
    assert dpytest.verify().message().content("`add` has no subcommand called `@\u200beveryone`.")


async def test_help_for_a_long_unknown_name_stays_short(bot: CatFactBot) -> None:
    await dpytest.message("!help " + "x" * 1994)
    assert dpytest.verify().message().content(f"There is no command called `{'x' * 20}…`.")


async def test_unknown_commands_are_ignored(bot: CatFactBot) -> None:
    with pytest.raises(commands.CommandNotFound):
        await dpytest.message("!multiply 2 3")
    await dpytest.message("hello there")
    assert dpytest.verify().message().nothing()


# --- The slash face ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "numbers", "reply"), [("add", "0.1 0.2", "0.3"), ("sub", "10 1 2", "7")]
)
async def test_slash_callbacks_answer_through_the_interaction_context(
    bot: CatFactBot, name: str, numbers: str, reply: str
) -> None:
    ctx = interaction_context()
    await call_slash(bot, name, ctx, numbers=numbers)
    ctx.send.assert_awaited_once_with(reply)


async def test_slash_errors_show_the_slash_usage(bot: CatFactBot) -> None:
    ctx = interaction_context(bot.get_command("add"))
    handler = bot.get_cog("ErrorHandler")
    assert isinstance(handler, ErrorHandler)
    with pytest.raises(commands.BadArgument) as caught:
        await call_slash(bot, "add", ctx, numbers="two 3")
    await handler.on_command_error(ctx, caught.value)  # what discord.py dispatches next
    ctx.send.assert_awaited_once_with(
        "`two` isn't a number. Usage: `/add numbers: 2 3`", ephemeral=True
    )


@pytest.mark.parametrize("name", ["add", "sub"])
async def test_slash_commands_take_one_required_numbers_option(bot: CatFactBot, name: str) -> None:
    command = bot.tree.get_command(name)
    assert isinstance(command, discord.app_commands.Command)
    [parameter] = command.parameters
    assert parameter.name == "numbers"
    assert parameter.required


class TestConfiguredPrefix:
    """Overriding the ``settings`` fixture in a class changes the bot built for these tests."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, command_prefix="?")

    async def test_commands_answer_to_the_configured_prefix(self, bot: CatFactBot) -> None:
        await dpytest.message("?add 1 2")
        assert dpytest.verify().message().content("3")

    async def test_the_default_prefix_is_then_ignored(self, bot: CatFactBot) -> None:
        await dpytest.message("!add 1 2")
        assert dpytest.verify().message().nothing()

    async def test_help_shows_the_configured_prefix(self, bot: CatFactBot) -> None:
        with pytest.raises(commands.BadArgument):
            await dpytest.message("?add x 1")
        assert dpytest.get_message().content.endswith("e.g. `?add 2 3`")


async def test_help_for_one_command_shows_its_usage(bot: CatFactBot) -> None:
    await dpytest.message("!help sub")
    text = dpytest.get_message().content
    assert "!sub <number> <number> [more numbers...]" in text
    assert "Subtract the other numbers from the first, exactly." in text
    assert "Example: !sub 10 4 gives 6." in text


async def test_help_has_no_entry_for_a_hidden_command(bot: CatFactBot) -> None:
    @commands.command(name="secret", hidden=True)
    async def secret(ctx: commands.Context[CatFactBot]) -> None:
        """Not for everyone."""

    bot.add_command(secret)
    await dpytest.message("!help secret")
    assert dpytest.verify().message().content("There is no command called `secret`.")


async def test_help_for_a_command_without_a_description_shows_its_usage_and_example(
    bot: CatFactBot,
) -> None:
    @commands.command(name="echo", usage="<word>", extras={"example": "meow"})
    async def echo(ctx: commands.Context[CatFactBot], word: str) -> None:
        pass

    bot.add_command(echo)
    await dpytest.message("!help echo")
    assert dpytest.get_message().content == "```\n!echo <word>\n\nExample: !echo meow.\n\n```"


async def test_help_uses_the_prefix_the_bot_is_configured_with(settings: Settings) -> None:
    async with running_bot(dataclasses.replace(settings, command_prefix="?")):
        await dpytest.message("?help add")
        text = dpytest.get_message().content
        assert "?add <number> <number> [more numbers...]" in text
        assert "Example: ?add 2 3 gives 5." in text
        assert "!" not in text


async def test_slash_descriptions_name_no_prefix(bot: CatFactBot) -> None:
    # The first line of a hybrid command's help is also its description in Discord's slash menu.
    for command in bot.tree.walk_commands():
        assert "!" not in command.description
        assert "{prefix}" not in command.description
