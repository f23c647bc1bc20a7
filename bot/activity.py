"""One log line per command, and the count of commands answered.

Each line says who (user name and id), what (the command, and whether it was typed or a slash
command), where (server and channel ids), how long it took, and how it ended, so that
``heroku logs --tail`` shows what the bot is doing. Message text is never logged: it is the
users' business, and the command name is enough to follow what happened.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from discord.ext import commands

from bot.error_handler import unwrap

if TYPE_CHECKING:
    from bot.core import CatFactBot

log = logging.getLogger("bot.commands")


class TimedContext(commands.Context["CatFactBot"]):
    """The context of every command, typed or slash, stamped when discord.py creates it.

    discord.py builds the context (``Bot.get_context``) as soon as a message or an interaction
    turns out to be a command, before checks, cooldowns and argument parsing, so the stamp is
    the one start time of every command, refused ones included.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.created = time.perf_counter()


class CommandLog(commands.Cog):
    """Listens to every command's end; counts what was answered."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot
        self.answered = 0
        """Commands that ran to an end, successfully or with an error reply."""

    @commands.Cog.listener()
    async def on_command_completion(self, ctx: commands.Context[CatFactBot]) -> None:
        self._finish(ctx, "ok")

    @commands.Cog.listener()
    async def on_command_error(
        self, ctx: commands.Context[CatFactBot], error: commands.CommandError
    ) -> None:
        self._finish(ctx, f"error {type(unwrap(error)).__name__}")

    def _finish(self, ctx: commands.Context[CatFactBot], outcome: str) -> None:
        if ctx.command is None:  # an unknown command: not ours to count or log
            return
        self.answered += 1
        took = (
            f"{(time.perf_counter() - ctx.created) * 1000:.1f} ms"
            if isinstance(ctx, TimedContext)
            else "-"
        )
        kind = ctx.clean_prefix  # discord.py sets it to "/" for a slash command
        name = ctx.command.qualified_name
        where = f"guild {ctx.guild.id}" if ctx.guild else "DM"
        log.info(
            "%s%s by %s (%d) in %s channel %d: %s in %s",
            kind,
            name,
            ctx.author,
            ctx.author.id,
            where,
            ctx.channel.id,
            outcome,
            took,
        )


__all__ = ["CommandLog", "TimedContext"]
