"""``!catfact`` / ``/catfact``: a random cat fact, as an embed."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.core import CatFactBot
from bot.facts import Fact

EMBED_TITLE = "\N{CAT FACE} Cat fact"
EMBED_COLOUR = discord.Colour.orange()
OFFLINE_FOOTER = "From the bot's own collection: the cat-fact service can't be reached right now."


def fact_embed(fact: Fact) -> discord.Embed:
    """The reply for one fact (already cleaned and bounded by the client)."""
    embed = discord.Embed(title=EMBED_TITLE, description=fact.text, colour=EMBED_COLOUR)
    if fact.offline:
        embed.set_footer(text=OFFLINE_FOOTER)
    return embed


def per_user_cooldown(ctx: commands.Context[CatFactBot]) -> commands.Cooldown | None:
    """One fact per user per ``CATFACT_COOLDOWN`` seconds; none when that is 0."""
    seconds = ctx.bot.settings.catfact_cooldown
    return commands.Cooldown(1, seconds) if seconds else None


class CatFacts(commands.Cog, name="Cat facts"):
    """Facts about cats, from the shared cat-fact client."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.hybrid_command(name="catfact")  # type: ignore[arg-type]  # see bot/core.py
    @commands.dynamic_cooldown(per_user_cooldown, type=commands.BucketType.user)
    async def catfact(self, ctx: commands.Context[CatFactBot]) -> None:
        """Tell a random cat fact."""
        # A slash command must be acknowledged within 3 s; a fact may have to be fetched first.
        await ctx.defer()
        fact = await self.bot.catfacts.get_fact(channel=ctx.channel.id)
        await ctx.send(embed=fact_embed(fact))


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(CatFacts(bot))
