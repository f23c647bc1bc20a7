"""One log line per command, and the count of commands answered.

Each line says who (user name and id), what (the command, and whether it was typed or a slash
command), where (server and channel ids), how long it took, and how it ended, so that
``heroku logs --tail`` shows what the bot is doing. Message text is never logged: it is the
users' business, and the command name is enough to follow what happened.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.error_handler import unwrap

if TYPE_CHECKING:
    from bot.core import CatFactBot

log = logging.getLogger("bot.commands")


class CommandLog(commands.Cog):
    """Listens to every command's start and end; counts what was answered."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot
        self.answered = 0
        """Commands that ran to an end, successfully or with an error reply."""
        self._started: weakref.WeakKeyDictionary[commands.Context[CatFactBot], float] = (
            weakref.WeakKeyDictionary()
        )

    @commands.Cog.listener("on_command")
    async def mark_start(self, ctx: commands.Context[CatFactBot]) -> None:
        """Note when a command started; the first of the two signals below wins.

        The ``command`` event runs as its own task, so it may only run once the command is
        waiting on I/O; the bot's ``before_invoke`` hook (see :meth:`CatFactBot.setup_hook`) runs
        inline, right before the command's body, but not for a command refused earlier
        (bad arguments, a failed check). Together they cover both.
        """
        self._started.setdefault(ctx, time.perf_counter())

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
        started = self._started.pop(ctx, None)
        took = "-" if started is None else f"{(time.perf_counter() - started) * 1000:.1f} ms"
        kind = "/" if ctx.interaction is not None else ctx.clean_prefix
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


__all__ = ["CommandLog"]
