"""``!catfact`` / ``/catfact``: a random cat fact, as an embed."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.core import CatFactBot

EMBED_TITLE = "\N{CAT FACE} Cat fact"
EMBED_COLOUR = discord.Colour.orange()


MAX_DESCRIPTION = 4096
"""Discord refuses an embed whose description is longer."""


def fact_embed(fact: str) -> discord.Embed:
    """The reply for one fact, shortened to what an embed can hold."""
    if len(fact) > MAX_DESCRIPTION:
        fact = fact[: MAX_DESCRIPTION - 1] + "…"
    return discord.Embed(title=EMBED_TITLE, description=fact, colour=EMBED_COLOUR)


class CatFacts(commands.Cog, name="Cat facts"):
    """Facts about cats, from the shared cat-fact client."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.hybrid_command(name="catfact")  # type: ignore[arg-type]  # see bot/core.py
    async def catfact(self, ctx: commands.Context[CatFactBot]) -> None:
        """Tell a random cat fact."""
        # A slash command must be acknowledged within 3 s; the fetch may take longer.
        await ctx.defer()
        fact = await self.bot.catfacts.get_fact()
        await ctx.send(embed=fact_embed(fact))


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(CatFacts(bot))
