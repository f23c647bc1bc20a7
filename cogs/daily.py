"""``!daily`` / ``/daily``: a cat fact posted every day in a channel, at the server's local time."""

from __future__ import annotations

import datetime
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import CatFactBot
from bot.daily import (
    DEFAULT_ZONE,
    PAUSE_AFTER,
    DailyError,
    Schedule,
    Subscription,
    missing_permissions,
    parse_time,
    parse_zone,
    zone_names,
)

USAGE = "<HH:MM> [time zone] [#channel]"
EMBED_COLOUR = discord.Colour.orange()
MAX_CHOICES = 25
EMBED_BUDGET = 5500
"""Characters of one listing embed at most: Discord refuses more than 6,000 in a message."""
_CHANNEL = re.compile(r"<#\d+>|#\S+")


def can_change(ctx: commands.Context[CatFactBot], channel: discord.abc.GuildChannel) -> bool:
    """Manage Server, or Manage Channels on that channel, changes its daily post."""
    member = ctx.author
    if not isinstance(member, discord.Member):
        return False
    return member.guild_permissions.manage_guild or channel.permissions_for(member).manage_channels


def when(instant: datetime.datetime) -> str:
    """A time every reader sees in their own time zone (Discord's timestamp markup)."""
    seconds = int(instant.timestamp())
    return f"<t:{seconds}:f> (<t:{seconds}:R>)"


def describe(subscription: Subscription, prefix: str) -> str:
    """One daily post in the listing: when, the next one, and how it has been going."""
    schedule = subscription.schedule
    lines = [f"Every day at {schedule.describe()}"]
    if subscription.paused:
        lines.append(
            f"**Paused** after {PAUSE_AFTER} days in a row I couldn't post: "
            f"{subscription.last_error}. Fix that, then set it again to resume: "
            f"`{prefix}daily {schedule.describe()} <#{subscription.channel_id}>`"
        )
        return "\n".join(lines)
    lines.append(f"Next: {when(subscription.next_at)}")
    if subscription.last_error:
        failing = ""
        if subscription.failures:
            failing = f" ({subscription.failures} day{'s' if subscription.failures > 1 else ''})"
        lines.append(f"Last problem{failing}: {subscription.last_error}")
    return "\n".join(lines)


def listing_embeds(fields: list[tuple[str, str]], footer: str) -> list[discord.Embed]:
    """The listing as embeds, as many as it takes to keep each under Discord's 6,000 characters
    (25 daily posts, each paused with a long reason, would not fit in one)."""
    embeds: list[discord.Embed] = []
    embed, size = None, 0
    for name, value in fields:
        if embed is None or size + len(name) + len(value) > EMBED_BUDGET:
            title = "Daily cat facts" if not embeds else "Daily cat facts (continued)"
            embed = discord.Embed(title=title, colour=EMBED_COLOUR)
            embeds.append(embed)
            size = len(title) + len(footer)
        embed.add_field(name=name, value=value, inline=False)
        size += len(name) + len(value)
    embeds[-1].set_footer(text=footer)
    return embeds


class DailyFacts(commands.Cog, name="Daily facts"):
    """A cat fact every day in a channel, at a time of the server's choosing."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.hybrid_group(  # type: ignore[arg-type]  # see bot/core.py
        name="daily",
        fallback="set",
        invoke_without_command=True,
        # "#nowhere" must not fall through to "this channel" unnoticed.
        ignore_extra=False,
        usage=USAGE,
        extras={"example": "09:00 Europe/Berlin #general"},
    )
    @commands.guild_only()
    @app_commands.guild_only()
    @app_commands.describe(
        time="the local time, HH:MM on a 24-hour clock, e.g. 09:00",
        zone=f"an IANA time zone such as Europe/Berlin (default {DEFAULT_ZONE})",
        channel="where to post (default: this channel)",
    )
    async def daily(
        self,
        ctx: commands.Context[CatFactBot],
        time: str | None = None,
        zone: str | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Post a cat fact here every day at a time (admins); alone, list this server's."""
        if time is None:
            await self._list(ctx)
            return
        if zone is not None and channel is None and _CHANNEL.fullmatch(zone):
            # A mention, or the channel's name as typed with its "#" (the converter wants none).
            named = zone if zone.startswith("<#") else zone.removeprefix("#")
            channel = await commands.TextChannelConverter().convert(ctx, named)
            zone = None
        prefix = ctx.clean_prefix
        schedule_time = parse_time(time, prefix=prefix)
        schedule_zone = parse_zone(zone, prefix=prefix)
        target = self._channel(ctx, channel)
        await self._require_changer(ctx, target)
        assert ctx.guild is not None  # guild_only
        missing = missing_permissions(target, ctx.guild.me)
        if missing:
            names = " and ".join([", ".join(missing[:-1]), missing[-1]] if missing[1:] else missing)
            plural = "s" if missing[1:] else ""
            raise DailyError(
                f"I can't post in {target.mention}: I need the {names} permission{plural} "
                "there. Nothing was changed."
            )
        await ctx.defer()
        subscription = await self.bot.daily.subscribe(
            ctx.guild.id, target.id, Schedule(schedule_time, schedule_zone), by=ctx.author.id
        )
        await ctx.send(
            f"Done: a cat fact in {target.mention} every day at "
            f"{subscription.schedule.describe()}. The first: {when(subscription.next_at)}."
        )

    @daily.command(name="off")  # type: ignore[arg-type]  # see bot/core.py
    @commands.guild_only()  # a group's checks are not its subcommands'
    @app_commands.describe(channel="the channel whose daily post stops (default: this one)")
    async def off(
        self, ctx: commands.Context[CatFactBot], channel: discord.TextChannel | None = None
    ) -> None:
        """Stop the daily cat fact in a channel (admins)."""
        target = self._channel(ctx, channel)
        await self._require_changer(ctx, target)
        await ctx.defer()
        if await self.bot.daily.unsubscribe(target.id):
            await ctx.send(f"Done: no more daily cat facts in {target.mention}.")
        else:
            await ctx.send(f"{target.mention} has no daily cat fact: nothing to stop.")

    @daily.command(name="list")  # type: ignore[arg-type]  # see bot/core.py
    @commands.guild_only()
    async def list_(self, ctx: commands.Context[CatFactBot]) -> None:
        """List this server's daily cat facts and when each comes next."""
        await self._list(ctx)

    @daily.autocomplete("zone")
    async def _suggest_zones(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        wanted = current.strip().casefold()
        return [
            app_commands.Choice(name=name, value=name)
            for name in zone_names()
            if wanted in name.casefold()
        ][:MAX_CHOICES]

    async def _list(self, ctx: commands.Context[CatFactBot]) -> None:
        guild = ctx.guild
        assert guild is not None  # guild_only
        subscriptions = await self.bot.daily.listing(guild.id)
        prefix = ctx.clean_prefix
        if not subscriptions:
            await ctx.send(
                "No daily cat facts here yet. Admins start one with "
                f"`{prefix}daily <HH:MM> [time zone] [#channel]`, e.g. "
                f"`{prefix}daily 09:00 Europe/Berlin #general`."
            )
            return
        manager = (
            isinstance(ctx.author, discord.Member) and ctx.author.guild_permissions.manage_guild
        )
        fields: list[tuple[str, str]] = []
        hidden = 0
        for subscription in subscriptions:
            channel = guild.get_channel(subscription.channel_id)
            seen = channel is not None and channel.permissions_for(ctx.author).view_channel  # type: ignore[arg-type]
            if not (seen or manager):  # a private channel's name and problems stay private
                hidden += 1
                continue
            name = f"#{channel.name}" if channel is not None else "a channel I can't see"
            fields.append((name, describe(subscription, prefix)))
        footer = f"Admins change them with {prefix}daily <HH:MM> [zone] [#channel]"
        if hidden:
            footer = f"And {hidden} in channels you can't see. " + footer
        if not fields:
            await ctx.send(
                f"This server's daily cat facts ({hidden}) are all in channels you can't see."
            )
            return
        for embed in listing_embeds(fields, footer):
            await ctx.send(embed=embed)

    @staticmethod
    def _channel(
        ctx: commands.Context[CatFactBot], channel: discord.TextChannel | None
    ) -> discord.TextChannel:
        if channel is not None:
            return channel
        if not isinstance(ctx.channel, discord.TextChannel):
            raise DailyError("Name a text channel for the daily post, e.g. `#general`.")
        return ctx.channel

    @staticmethod
    async def _require_changer(
        ctx: commands.Context[CatFactBot], channel: discord.TextChannel
    ) -> None:
        if not can_change(ctx, channel) and not await ctx.bot.is_owner(ctx.author):
            raise DailyError(
                f"You need the Manage Server permission, or Manage Channels in {channel.mention}, "
                "to change its daily cat fact. Anyone may list them with "
                f"`{ctx.clean_prefix}daily`."
            )


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(DailyFacts(bot))
