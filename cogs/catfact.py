"""``!catfact`` / ``/catfact``: a random cat fact, as an embed."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.core import CatFactBot
from bot.facts import ENGLISH, Fact, Language

EMBED_TITLE = "\N{CAT FACE} Cat fact"
EMBED_COLOUR = discord.Colour.orange()
OFFLINE_FOOTER = "From the bot's own collection: the cat-fact service can't be reached right now."
OFFLINE_IN_ENGLISH_FOOTER = (
    "From the bot's own collection, in English: the cat-fact service can't be reached right now."
)


def fact_embed(fact: Fact, language: Language = ENGLISH) -> discord.Embed:
    """The reply for one fact (already cleaned and bounded by the client), for a server that
    speaks ``language``: an offline fact is in English, and the footer says so when that is not
    what the server asked for."""
    embed = discord.Embed(title=EMBED_TITLE, description=fact.text, colour=EMBED_COLOUR)
    if fact.offline:
        english = language == ENGLISH
        embed.set_footer(text=OFFLINE_FOOTER if english else OFFLINE_IN_ENGLISH_FOOTER)
    return embed


def per_user_cooldown(ctx: commands.Context[CatFactBot]) -> commands.Cooldown | None:
    """One fact per user per the server's cooldown (``CATFACT_COOLDOWN`` unless the server chose
    one) seconds; none when that is 0."""
    seconds = ctx.bot.settings_for(ctx.guild).cooldown
    return commands.Cooldown(1, seconds) if seconds else None


def cooldown_key(ctx: commands.Context[CatFactBot]) -> tuple[int | None, int, float]:
    """Whose cooldown a command counts against: the user in this server (or in DMs), under the
    cooldown now in force, so a changed cooldown applies from the next command on."""
    guild_id = ctx.guild.id if ctx.guild else None
    return guild_id, ctx.author.id, ctx.bot.settings_for(ctx.guild).cooldown


class CatFacts(commands.Cog, name="Cat facts"):
    """Facts about cats, from the shared cat-fact client."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.hybrid_command(name="catfact")  # type: ignore[arg-type]  # see bot/core.py
    @commands.dynamic_cooldown(per_user_cooldown, type=cooldown_key)
    async def catfact(self, ctx: commands.Context[CatFactBot]) -> None:
        """Tell a random cat fact."""
        # A slash command must be acknowledged within 3 s; a fact may have to be fetched first.
        await ctx.defer()
        language = self.bot.settings_for(ctx.guild).language
        fact = await self.bot.catfacts.get_fact(channel=ctx.channel.id, language=language.code)
        await ctx.send(embed=fact_embed(fact, language))


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(CatFacts(bot))
