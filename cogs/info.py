"""``!ping`` and ``!about``: what anyone can see of a running bot, in plain words.

The operator's view (providers, counters, shards, cogs that failed to load) is ``!status`` in
:mod:`cogs.admin`, for the owner only.
"""

from __future__ import annotations

import asyncio
import math
import time

import discord
from discord.ext import commands

from bot import __version__
from bot.core import CatFactBot

EMBED_COLOUR = discord.Colour.blurple()


def milliseconds(seconds: float) -> str:
    """``42 ms``, or a plain word when the gateway has not measured anything yet."""
    return f"{seconds * 1000:.0f} ms" if math.isfinite(seconds) else "not measured yet"


def duration(seconds: float) -> str:
    """A short uptime: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def facts_state(bot: CatFactBot) -> str:
    """How the cat facts are doing, in a member's words."""
    client = bot.catfacts
    if client.ready:
        return f"{client.ready} ready to tell"
    if client.offline:
        return "from my own collection for now: the cat-fact service can't be reached"
    return "on their way: I have only just started"


class Info(commands.Cog, name="Bot info"):
    """How the bot is doing."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.hybrid_command(name="ping")  # type: ignore[arg-type]  # see bot/core.py
    async def ping(self, ctx: commands.Context[CatFactBot]) -> None:
        """Show how quickly the bot and Discord talk to each other."""
        started = time.perf_counter()
        message = await ctx.send("Pong!")
        round_trip = time.perf_counter() - started
        await message.edit(
            content=(
                f"Pong! Gateway latency: {milliseconds(self.bot.latency)}. "
                f"Reply round trip: {milliseconds(round_trip)}."
            )
        )

    @commands.hybrid_command(name="about")  # type: ignore[arg-type]  # see bot/core.py
    async def about(self, ctx: commands.Context[CatFactBot]) -> None:
        """Show the bot's version, uptime and what it has done."""
        await ctx.send(embed=self.about_embed())

    def about_embed(self) -> discord.Embed:
        bot = self.bot
        embed = discord.Embed(
            title="About this bot",
            description=f"catfact-bot {__version__}: cat facts and exact arithmetic.",
            colour=EMBED_COLOUR,
        )
        uptime = asyncio.get_running_loop().time() - bot.started_at
        embed.add_field(name="Uptime", value=duration(uptime))
        embed.add_field(name="Servers", value=str(len(bot.guilds)))
        embed.add_field(name="Commands answered", value=str(bot.commands_answered))
        embed.add_field(name="Facts told", value=str(sum(bot.catfacts.stats.served.values())))
        embed.add_field(name="Cat facts", value=facts_state(bot), inline=False)
        return embed


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Info(bot))
