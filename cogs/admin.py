"""Owner-only maintenance commands.

Slash commands are registered with Discord only when the owner runs ``!sync``: syncing on every
start would burn Discord's daily quota of command creations and is not needed when nothing
changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from discord import app_commands
from discord.ext import commands

from bot.core import CatFactBot
from bot.error_handler import echo

log = logging.getLogger(__name__)

MAX_DETAIL = 300
"""How much of a failed reload's error the owner sees in the reply (the log has all of it)."""


class Admin(commands.Cog):
    """Commands for the bot's owner."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.command(name="sync", usage="[global|guild|clear]")
    @commands.is_owner()
    async def sync(
        self,
        ctx: commands.Context[CatFactBot],
        scope: Literal["global", "guild", "clear"] = "global",
    ) -> None:
        """Register the slash commands with Discord (owner only).

        `sync` registers them in every server. `sync guild` copies them to this server only,
        instantly, which is handy while developing; `sync clear` removes those copies again.
        """
        if scope == "global":
            synced = await self.bot.tree.sync()
            await ctx.send(report(synced, "globally"))
            return
        if ctx.guild is None:
            raise commands.NoPrivateMessage
        if scope == "guild":
            self.bot.tree.copy_global_to(guild=ctx.guild)
        else:
            self.bot.tree.clear_commands(guild=ctx.guild)
        synced = await self.bot.tree.sync(guild=ctx.guild)
        await ctx.send(report(synced, "to this server"))

    @commands.command(name="reload", usage="<cog>")
    @commands.is_owner()
    async def reload(self, ctx: commands.Context[CatFactBot], name: str) -> None:
        """Reload one cog from disk, e.g. `reload catfact` (owner only).

        If the new code fails to load, the old version keeps running and the reply says why. A
        cog that failed to load at start-up is loaded.
        """
        extension = name if "." in name else f"cogs.{name}"
        failed_at_start = extension in self.bot.failed_extensions
        if extension not in self.bot.extensions and not failed_at_start:
            loaded = ", ".join(sorted(n.removeprefix("cogs.") for n in self.bot.extensions))
            await ctx.send(f"There is no loaded cog {echo(name)}. Loaded: {loaded}.")
            return
        try:
            if failed_at_start:
                await self.bot.load_extension(extension)
            else:
                await self.bot.reload_extension(extension)
        except commands.ExtensionError as exc:
            log.exception("reloading %s failed; the previous version keeps running", extension)
            cause = exc.__cause__ or exc
            detail = echo(f"{type(cause).__name__}: {cause}", limit=MAX_DETAIL)
            keeps = "it stays unloaded" if failed_at_start else "the previous version keeps running"
            await ctx.send(f"Reloading `{extension}` failed, so {keeps}: {detail}")
        else:
            self.bot.failed_extensions.pop(extension, None)
            log.info("%s %s", "loaded" if failed_at_start else "reloaded", extension)
            await ctx.send(f"{'Loaded' if failed_at_start else 'Reloaded'} `{extension}`.")


def report(synced: Sequence[app_commands.AppCommand], where: str) -> str:
    """``Synced 3 slash commands globally: /add, /catfact, /sub.``, names sorted."""
    count = f"{len(synced)} slash command{'' if len(synced) == 1 else 's'}"
    names = ", ".join(sorted(f"/{command.name}" for command in synced))
    return f"Synced {count} {where}: {names}." if synced else f"Synced {count} {where}."


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Admin(bot))
