"""``!help``: discord.py's default help, made safe to expose to everyone.

Four changes from the default:

- it shows usage lines rather than parameter tables, with the prefix the user typed, and an
  example built from the command's ``extras`` (so help never hard-codes ``!``);
- it never echoes more of the user's text than fits comfortably in a reply (``!help`` followed by
  2,000 characters would otherwise produce a reply Discord refuses);
- it lists only what the asker may use, so owner-only commands and command-less cogs (the error
  handler) stay out of the list;
- asked about a command the asker may not use, it says why, in the words the command itself
  would answer with (``!help sync`` and ``!sync`` agree).

A command's help text may say ``{prefix}`` where the prefix goes. Its first line must not: for a
hybrid command it is also the description Discord shows in the slash menu.
"""

from __future__ import annotations

from typing import Any

from discord.ext import commands

from bot.error_handler import refusal
from bot.text import echo


def example(prefix: str, command: commands.Command[Any, ..., Any]) -> str | None:
    """``Example: !add 2 3 gives 5.`` from ``extras={"example": "2 3", "gives": "5"}``."""
    arguments = command.extras.get("example")
    if arguments is None:
        return None
    line = f"Example: {prefix}{command.qualified_name} {arguments}"
    gives = command.extras.get("gives")
    return f"{line} gives {gives}." if gives else f"{line}."


class BotHelp(commands.DefaultHelpCommand):
    """The help command of the bot."""

    def __init__(self) -> None:
        super().__init__(no_category="Other", show_parameter_descriptions=False)

    def command_not_found(self, string: str, /) -> str:
        return f"There is no command called {echo(string)}."

    def subcommand_not_found(self, command: commands.Command[Any, ..., Any], string: str, /) -> str:
        return f"`{command.qualified_name}` has no subcommand called {echo(string)}."

    def add_command_formatting(self, command: commands.Command[Any, ..., Any], /) -> None:
        prefix = self.context.clean_prefix
        self.paginator.add_line(self.get_command_signature(command), empty=True)
        if command.help:
            self.paginator.add_line(command.help.replace("{prefix}", prefix), empty=True)
        line = example(prefix, command)
        if line:
            self.paginator.add_line(line, empty=True)

    async def send_cog_help(self, cog: commands.Cog, /) -> None:
        if not await self.filter_commands(cog.get_commands()):
            await self.send_error_message(self.command_not_found(cog.qualified_name))
            return
        await super().send_cog_help(cog)

    async def send_command_help(self, command: commands.Command[Any, ..., Any], /) -> None:
        if command.hidden:
            await self.send_error_message(self.command_not_found(command.qualified_name))
            return
        try:
            await command.can_run(self.context)
        except commands.CommandError as refused:
            await self.send_error_message(refusal(self.context, command, refused))
            return
        await super().send_command_help(command)
