"""``!help``: discord.py's default help, made safe to expose to everyone.

Three changes from the default: it shows usage lines rather than parameter tables, it never
echoes more of the user's text than fits comfortably in a reply (``!help`` followed by 2,000
characters would otherwise produce a reply Discord refuses), and it only describes what the
asker may use, so owner-only commands and command-less cogs (the error handler) stay private.
"""

from __future__ import annotations

from typing import Any

from discord.ext import commands

from bot.error_handler import echo


class BotHelp(commands.DefaultHelpCommand):
    """The help command of the bot."""

    def __init__(self) -> None:
        super().__init__(no_category="Other", show_parameter_descriptions=False)

    def command_not_found(self, string: str, /) -> str:
        return f"There is no command called {echo(string)}."

    def subcommand_not_found(self, command: commands.Command[Any, ..., Any], string: str, /) -> str:
        return f"`{command.qualified_name}` has no subcommand called {echo(string)}."

    async def send_cog_help(self, cog: commands.Cog, /) -> None:
        if not await self.filter_commands(cog.get_commands()):
            await self.send_error_message(self.command_not_found(cog.qualified_name))
            return
        await super().send_cog_help(cog)

    async def send_command_help(self, command: commands.Command[Any, ..., Any], /) -> None:
        if not await self.filter_commands([command]):
            await self.send_error_message(self.command_not_found(command.qualified_name))
            return
        await super().send_command_help(command)
