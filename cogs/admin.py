"""Owner-only maintenance commands.

Slash commands are registered with Discord only when the owner runs ``!sync``: syncing on every
start would burn Discord's daily quota of command creations and is not needed when nothing
changed.
"""

from __future__ import annotations

from typing import Literal

from discord.ext import commands

from bot.core import CatFactBot


class Admin(commands.Cog):
    """Commands for the bot's owner."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.command(name="sync", usage="[global|guild]")
    @commands.is_owner()
    async def sync(
        self, ctx: commands.Context[CatFactBot], scope: Literal["global", "guild"] = "global"
    ) -> None:
        """Register the slash commands with Discord (owner only).

        `sync` registers them in every server; `sync guild` in this server only, instantly,
        which is handy while developing.
        """
        if scope == "guild":
            if ctx.guild is None:
                raise commands.NoPrivateMessage("`sync guild` only works in a server.")
            self.bot.tree.copy_global_to(guild=ctx.guild)
            synced = await self.bot.tree.sync(guild=ctx.guild)
            where = "to this server"
        else:
            synced = await self.bot.tree.sync()
            where = "globally"
        names = ", ".join(f"/{command.name}" for command in synced) or "none"
        await ctx.send(f"Synced {len(synced)} slash commands {where}: {names}.")


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Admin(bot))
