"""Owner-only commands: ``!status`` (the operator's view of the process), ``!sync``, ``!reload``.

Slash commands are registered with Discord only when the owner runs ``!sync``: syncing on every
start would burn Discord's daily quota of command creations and is not needed when nothing
changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import CatFactBot
from bot.facts import Served
from bot.text import echo

log = logging.getLogger(__name__)

MAX_DETAIL = 300
"""How much of a failed reload's error the owner sees in the reply (the log has all of it)."""

SERVED_AS = {
    Served.POOL: "from memory",
    Served.WAITED: "after waiting for the first fetch",
    Served.OFFLINE: "offline",
}
EMBED_COLOUR = discord.Colour.dark_grey()
FIELD_LIMIT = 1024
"""Discord refuses an embed field value longer than this."""


def shards_of(bot: CatFactBot) -> str:
    """Which shards this process runs (the console is never sharded, whatever the settings)."""
    if isinstance(bot, commands.AutoShardedBot):
        return bot.settings.shards.describe()
    return "unsharded (one process)"


def error_detail(error: BaseException) -> str:
    """``RuntimeError: no database``, for the error a cog raised while loading, bounded."""
    cause = error.__cause__ or error
    return echo(f"{type(cause).__name__}: {cause}", limit=MAX_DETAIL)


def cogs_state(bot: CatFactBot) -> str:
    """The loaded cogs, and each one that failed to load with its error."""
    loaded = ", ".join(sorted(name.removeprefix("cogs.") for name in bot.extensions))
    lines = [f"loaded: {loaded or 'none'}"]
    for name, error in sorted(bot.failed_extensions.items()):
        lines.append(f"failed: {name} ({error_detail(error)})")
    text = "\n".join(lines)
    return text if len(text) <= FIELD_LIMIT else text[: FIELD_LIMIT - 1] + "…"


def status_embed(bot: CatFactBot) -> discord.Embed:
    """The operator's view of this process: what ``!about`` leaves out."""
    client = bot.catfacts
    stats = client.stats
    embed = discord.Embed(title="Status of this process", colour=EMBED_COLOUR)
    embed.add_field(name="Shards", value=shards_of(bot), inline=False)
    health = ", ".join(f"{name} {state}" for name, state in client.health().items())
    embed.add_field(name="Providers", value=health or "none configured (offline facts only)")
    memory = f"{client.ready} from {client.source}" if client.source else "none yet"
    # English first, then each other language asked for so far, by code.
    others = [f"{code}: {ready or 'none yet'}" for code, ready in [*client.languages().items()][1:]]
    embed.add_field(name="Facts in memory", value="\n".join([memory, *others]))
    embed.add_field(
        name="Facts served",
        value=", ".join(f"{SERVED_AS[how]} {stats.served[how]}" for how in Served),
        inline=False,
    )
    embed.add_field(
        name="Fetches",
        value=f"{stats.requests} requests, {stats.failures} failed, {stats.fills} collections",
        inline=False,
    )
    embed.add_field(name="Database", value=database_state(bot), inline=False)
    embed.add_field(name="Daily posts", value=bot.daily.describe(), inline=False)
    embed.add_field(name="Cogs", value=cogs_state(bot), inline=False)
    return embed


def database_state(bot: CatFactBot) -> str:
    """Where servers' settings are kept, how that is going, and how many are in memory."""
    service = bot.guild_settings
    where = f"{bot.database.url.describe()}: " if bot.database is not None else ""
    text = f"{where}{service.state}; {len(service)} servers' settings in memory"
    if service.last_error and not service.healthy:
        text += f"\nlast error: {service.last_error}"
    return text


class Admin(commands.Cog):
    """Commands for the bot's owner."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.command(name="status")
    @commands.is_owner()
    async def status(self, ctx: commands.Context[CatFactBot]) -> None:
        """Show providers, counters, shards and cogs of this process (owner only)."""
        await ctx.send(embed=status_embed(self.bot))

    @commands.command(name="sync", usage="[global|guild|clear]")
    @commands.is_owner()
    async def sync(
        self,
        ctx: commands.Context[CatFactBot],
        scope: Literal["global", "guild", "clear"] = "global",
    ) -> None:
        """Register the slash commands with Discord (owner only).

        `{prefix}sync` registers them in every server. `{prefix}sync guild` copies them to this
        server only, instantly, which is handy while developing; `{prefix}sync clear` removes
        those copies again.
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

    @commands.command(name="reload", usage="<cog>", extras={"example": "catfact"})
    @commands.is_owner()
    async def reload(self, ctx: commands.Context[CatFactBot], name: str) -> None:
        """Reload one cog from disk (owner only).

        If the new code fails to load, the old version keeps running and the reply says why. A
        cog that failed to load at start-up is loaded. `{prefix}status` lists the cogs.
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
            detail = error_detail(exc)
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
