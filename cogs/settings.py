"""``!settings`` / ``/settings``: read this server's settings, or change one (its admins)."""

from __future__ import annotations

from collections.abc import Mapping

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import CatFactBot
from bot.facts import LANGUAGES
from bot.guild_settings import NAMES, GuildSettings, InvalidSetting, check_name, parse
from bot.text import neutralise_mentions

RESET = "reset"
USAGE = "[prefix|language|cooldown|reset] [value]"
NAME_HELP = "prefix, language or cooldown (or reset, for the defaults); empty to show them all"
VALUE_HELP = "the new value, e.g. ? for prefix, German for language, 10 for cooldown"
EMBED_COLOUR = discord.Colour.blurple()
MAX_CHOICES = 25
"""Discord shows at most 25 suggestions."""
IN_A_DM = "Settings belong to a server: use `{prefix}settings` in one, not in a DM."


def in_a_server(ctx: commands.Context[CatFactBot]) -> bool:
    """Settings are a server's; in a DM, say so."""
    if ctx.guild is None:
        raise commands.NoPrivateMessage(IN_A_DM.format(prefix=ctx.clean_prefix))
    return True


async def can_manage(ctx: commands.Context[CatFactBot]) -> bool:
    """Members with the Manage Server permission, and the bot's owner, change settings."""
    member = ctx.author
    manager = isinstance(member, discord.Member) and member.guild_permissions.manage_guild
    return manager or await ctx.bot.is_owner(member)


def describe(name: str, settings: GuildSettings) -> str:
    """One setting's value in words, saying when it is the default."""
    match name:
        case "prefix":
            text = f"`{settings.prefix}` (mentioning me works too)"
        case "language":
            language = settings.language
            text = language.english
            if language.native != language.english:  # "Spanish (Mexico), Español (México)"
                text += f", {language.native}" if "(" in text else f" ({language.native})"
        case _:
            seconds = settings.cooldown
            text = "off" if not seconds else f"{seconds:g} s between two cat facts per person"
    return f"{text}, the default" if settings.is_default(name) else text


def settings_embed(guild: discord.Guild, settings: GuildSettings, prefix: str) -> discord.Embed:
    """Every setting of ``guild``, and how to change them."""
    embed = discord.Embed(
        title=f"Settings for {neutralise_mentions(guild.name)}", colour=EMBED_COLOUR
    )
    for name in NAMES:
        embed.add_field(name=name.capitalize(), value=describe(name, settings), inline=False)
    stored = settings.stored
    footer = f"Admins change them with {prefix}settings <name> <value>, or {prefix}settings reset."
    # Equivalent mutants: a change always writes both
    if stored.changed_by is not None and stored.changed_at is not None:  # pragma: no mutate
        # Without the members intent the cache holds almost nobody: Discord shows a mention in
        # an embed as the member's name (and never pings from one).
        who = f"<@{stored.changed_by}>"
        member = guild.get_member(stored.changed_by)
        if member is not None:
            who = neutralise_mentions(member.display_name)
        embed.add_field(
            name="Last changed", value=f"by {who} on {stored.changed_at:%Y-%m-%d}", inline=False
        )
    embed.set_footer(text=footer)
    return embed


def confirmation(name: str, settings: GuildSettings) -> str:
    """What the reply to a change says (in the prefix now in force)."""
    match name:
        case "prefix":
            return f"Done: the prefix here is now `{settings.prefix}`. Mentioning me works too."
        case "language":
            return f"Done: cat facts here are now in {describe('language', settings)}."
        case _:
            if not settings.cooldown:
                return f"Done: `{settings.prefix}catfact` has no cooldown here now."
            return f"Done: each person now waits {settings.cooldown:g} s between two cat facts."


class ServerSettings(commands.Cog, name="Settings"):
    """This server's own settings: its prefix, language and cooldown."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot

    @commands.hybrid_command(name="settings", usage=USAGE, extras={"example": "language German"})  # type: ignore[arg-type]  # see bot/core.py
    @commands.check(in_a_server)
    @app_commands.guild_only()
    @app_commands.describe(name=NAME_HELP, value=VALUE_HELP)
    async def settings(
        self,
        ctx: commands.Context[CatFactBot],
        name: str | None = None,
        *,
        value: str | None = None,
    ) -> None:
        """Show this server's settings, or change one (admins)."""
        guild = ctx.guild
        assert guild is not None  # in_a_server
        if name is None:
            current = self.bot.settings_for(guild)
            await ctx.send(embed=settings_embed(guild, current, ctx.clean_prefix))
            return
        if name.strip().lower() == RESET:
            if value is not None:
                raise InvalidSetting(
                    f"`{ctx.clean_prefix}settings reset` takes nothing after it: it puts every "
                    "setting back to its default."
                )
            await self._require_manager(ctx)
            await self._save(ctx, guild, None)
            await ctx.send("Done: every setting here is back to its default.")
            return
        setting = check_name(name)
        if value is None:
            current = self.bot.settings_for(guild)
            await ctx.send(
                f"{setting.capitalize()}: {describe(setting, current)}. Change it with "
                f"`{ctx.clean_prefix}settings {setting} <value>`."
            )
            return
        await self._require_manager(ctx)
        await self._save(ctx, guild, parse(setting, value))
        await ctx.send(confirmation(setting, self.bot.settings_for(guild)))

    @settings.autocomplete("name")
    async def _suggest_names(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=name, value=name)
            for name in (*NAMES, RESET)
            if name.startswith(current.strip().lower())
        ]

    @settings.autocomplete("value")
    async def _suggest_values(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The languages, when the setting being changed is the language."""
        if str(getattr(interaction.namespace, "name", "")).strip().lower() != "language":
            return []
        wanted = current.strip().casefold()
        return [
            app_commands.Choice(name=f"{language.english} ({language.native})", value=language.code)
            for language in LANGUAGES
            if wanted in f"{language.english} {language.native} {language.code}".casefold()
        ][:MAX_CHOICES]

    async def _require_manager(self, ctx: commands.Context[CatFactBot]) -> None:
        if not await can_manage(ctx):
            raise commands.MissingPermissions(["manage_guild"])

    async def _save(
        self,
        ctx: commands.Context[CatFactBot],
        guild: discord.Guild,
        changes: Mapping[str, str | int] | None,
    ) -> None:
        """Save the checked ``changes`` (None: a reset); the error handler answers a refused
        one (:class:`~bot.guild_settings.NotSavedError`)."""
        service = self.bot.guild_settings
        # Checked: now the write, which may take longer than the 3 s a slash command is given.
        await ctx.defer()
        if ctx.interaction is not None:
            at = ctx.interaction.created_at
        else:
            at = ctx.message.edited_at or ctx.message.created_at
        if changes is None:
            await service.reset(guild.id, by=ctx.author.id, at=at)
        else:
            await service.change(guild.id, changes, by=ctx.author.id, at=at)


async def setup(bot: CatFactBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ServerSettings(bot))
