"""Turns every command error into a reply a person can act on.

All user-facing wording of failures lives here (but for the rules of a server setting, worded
next to them in :mod:`bot.guild_settings.rules`); cogs only raise. Errors are handled in this order:

1. ``CommandNotFound``: ignored, so typos and other bots' commands do not cause chatter.
2. Wrappers (``CommandInvokeError``, ``HybridCommandError`` and the app-command equivalents) are
   unwrapped to the exception the command really raised.
3. :class:`~bot.operands.OperandError`: which number is wrong and why, plus the usage.
4. :class:`~bot.guild_settings.InvalidSetting`: what is wrong with the setting, and what would do.
   Other user-input errors (a missing or unparsable argument): the problem plus the usage.
5. ``NotOwner``: owner-only commands say so instead of failing silently; a missing permission
   is named; a server-only command used in a DM says it belongs to a server.
6. Other failed checks.
7. ``CommandOnCooldown``: when the command can be used again, in whole seconds, said once per
   cooldown: a typed command repeated while it lasts gets no further reply, so spam is not
   echoed one for one.
8. :class:`~bot.guild_settings.NotSavedError`: the database could not take a change, so nothing
   changed.
9. Anything else: logged with its traceback and answered with a generic apology, never silence.

A reply to a slash command is ephemeral: only the person who asked sees it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.daily import DailyError, InvalidSchedule
from bot.guild_settings import InvalidSetting, NotSavedError
from bot.operands import MAX_OPERAND_LENGTH, MAX_OPERANDS, OperandError, Problem
from bot.text import echo

if TYPE_CHECKING:
    from bot.core import CatFactBot

log = logging.getLogger(__name__)

UNEXPECTED = "Sorry, something went wrong on my side. It has been logged."
NOT_OWNER = "Only the bot's owner can use `{command}`."
CHECK_FAILED = "You can't use `{command}` here."
ON_COOLDOWN = "Easy there! You can use `{command}` again in {seconds} s."
MISSING_PERMISSION = "You need the {permissions} permission to do that."
NOT_IN_DMS = "`{command}` only works in a server, not in a direct message."
NOT_SAVED = (
    "I couldn't save that: the database can't be reached right now. Nothing was changed; "
    "please try again in a minute."
)
PERMISSION_NAMES = {"manage_guild": "Manage Server"}
"""Discord's names for the permissions a command may ask for, as its apps show them."""

MAX_COOLDOWN_NOTICES = 10_000
"""Cooldown notices remembered at most; past that, the ones whose cooldown is over are forgotten."""

_WRAPPERS = (
    commands.CommandInvokeError,
    commands.HybridCommandError,
    commands.ConversionError,
    app_commands.CommandInvokeError,
)


def unwrap(error: BaseException) -> BaseException:
    """The exception a command actually raised, without discord.py's wrapper layers."""
    while isinstance(error, _WRAPPERS):
        error = error.original
    return error


def describe_operand_error(error: OperandError) -> str:
    """One sentence naming what is wrong with the numbers."""
    match error.problem:
        case Problem.NOT_A_NUMBER:
            return f"{echo(error.token)} isn't a number."
        case Problem.NOT_FINITE:
            return f"{echo(error.token)} isn't a finite number; I only work with real numbers."
        case Problem.EXPONENT:
            how = f"`{error.plain}`" if error.plain else "digits, without the exponent"
            return f"{echo(error.token)} has an exponent, which I don't read: write it as {how}."
        case Problem.TOO_LONG:
            return (
                f"{echo(error.token)} is too long: a number can have at most "
                f"{MAX_OPERAND_LENGTH} characters."
            )
        case Problem.TOO_FEW:
            return "I need at least two numbers."
        case Problem.TOO_MANY:
            return f"That's too many numbers: I take at most {MAX_OPERANDS} at a time."


def usage(ctx: commands.Context[CatFactBot]) -> str:
    """How to call the command, in the form the user just used.

    Typed: ``Usage: `!add <number> <number> [more numbers...]`, e.g. `!add 2 3```.
    Slash: ``Usage: `/add numbers: 2 3```, since slash options are filled in by name.
    """
    command = ctx.command
    if command is None:  # pragma: no cover - discord.py always sets it before invoking
        # Equivalent mutants: unreachable: discord.py sets the command before any error
        return ""  # pragma: no mutate
    example = command.extras.get("example")
    if ctx.interaction is not None:
        names = list(command.clean_params)
        values = [example] if example and len(names) == 1 else ["…"] * len(names)
        # Equivalent mutants: names and values are built with the same length
        pairs = zip(names, values, strict=True)  # pragma: no mutate
        options = " ".join(f"{name}: {value}" for name, value in pairs)
        return f"Usage: `/{command.qualified_name} {options}`"
    call = f"{ctx.clean_prefix}{command.qualified_name}"
    text = f"Usage: `{call} {command.signature}`"
    if example:
        text += f", e.g. `{call} {example}`"
    return text


def refusal(
    ctx: commands.Context[Any], command: commands.Command[Any, ..., Any], error: Exception
) -> str:
    """Why ``command`` may not be used here, as its invocation and ``!help`` both say it."""
    name = f"{ctx.clean_prefix}{command.qualified_name}"
    if isinstance(error, commands.NotOwner):
        return NOT_OWNER.format(command=name)
    if isinstance(error, commands.MissingPermissions):
        wanted = [
            PERMISSION_NAMES.get(p) or p.replace("_", " ").title()
            for p in error.missing_permissions
        ]
        return MISSING_PERMISSION.format(permissions=" and ".join(wanted))
    if isinstance(error, commands.NoPrivateMessage):
        # A command may say why in its own words; discord.py's default message is not for users.
        own = str(error) if str(error) != str(commands.NoPrivateMessage()) else None
        return own or NOT_IN_DMS.format(command=name)
    return CHECK_FAILED.format(command=name)


class CooldownNotices:
    """Which users were already told about a command's cooldown, until it ends.

    Times are the messages' own (Discord's timestamps), the clock discord.py's cooldowns use.
    """

    def __init__(self, limit: int = MAX_COOLDOWN_NOTICES) -> None:
        self.limit = limit
        self._until: dict[tuple[str, Hashable], float] = {}

    def __len__(self) -> int:
        return len(self._until)

    def first(self, command: str, user: Hashable, now: float, retry_after: float) -> bool:
        """True if this refusal is the first of its cooldown (and remember it), else False.

        ``user`` is whose cooldown it is: the person, in the server they typed in."""
        key = (command, user)
        if self._until.get(key, -math.inf) > now:
            return False
        if len(self._until) >= self.limit:
            self._until = {k: until for k, until in self._until.items() if until > now}
            if len(self._until) >= self.limit:  # all still running: forget the oldest
                del self._until[next(iter(self._until))]
        self._until[key] = now + retry_after
        return True


class ErrorHandler(commands.Cog):
    """The bot's one place for answering command errors."""

    def __init__(self, bot: CatFactBot) -> None:
        self.bot = bot
        self.cooldown_notices = CooldownNotices()

    @commands.Cog.listener()
    async def on_command_error(
        self, ctx: commands.Context[CatFactBot], error: commands.CommandError
    ) -> None:
        """Reply to the author according to the order in the module docstring."""
        if isinstance(error, commands.CommandNotFound):
            return
        original = unwrap(error)
        slash = ctx.interaction is not None
        if isinstance(original, commands.CommandOnCooldown) and not slash and ctx.command:
            stamp = (ctx.message.edited_at or ctx.message.created_at).timestamp()
            name = ctx.command.qualified_name
            who = (ctx.guild.id if ctx.guild else None, ctx.author.id)  # as the cooldown counts
            if not self.cooldown_notices.first(name, who, stamp, original.retry_after):
                return  # already told; a slash command is always answered, only to the asker
        reply = self.reply_for(ctx, original)
        try:
            await ctx.send(reply, ephemeral=slash)
        except discord.HTTPException:
            log.warning("could not send the error reply in %s", ctx.channel, exc_info=True)

    def reply_for(self, ctx: commands.Context[CatFactBot], error: BaseException) -> str:
        """The text that answers ``error`` (already unwrapped)."""
        command = f"{ctx.clean_prefix}{ctx.command.qualified_name}" if ctx.command else "that"
        if isinstance(error, OperandError):
            return f"{describe_operand_error(error)} {usage(ctx)}"
        if isinstance(error, commands.MissingRequiredArgument):
            wanted = error.param.description
            missing = f"Please give me {wanted}." if wanted else f"`{error.param.name}` is missing."
            return f"{missing} {usage(ctx)}"
        if isinstance(error, InvalidSetting | InvalidSchedule | DailyError):
            return str(error)  # names the problem and what would do instead
        if isinstance(error, commands.UserInputError):
            return f"{error} {usage(ctx)}"
        if isinstance(error, commands.CheckFailure) and ctx.command is not None:
            return refusal(ctx, ctx.command, error)
        if isinstance(error, commands.CommandOnCooldown):
            return ON_COOLDOWN.format(command=command, seconds=math.ceil(error.retry_after))
        if isinstance(error, NotSavedError):
            log.warning("a change in %s was not saved: %s", ctx.guild, error)
            return NOT_SAVED
        log.error("unexpected error in %s", command, exc_info=error)
        return UNEXPECTED
