"""Discord's side, where dpytest's simulated guild does not reach: slash invocations (an
interaction context) and a hook on every message payload the bot hands to the HTTP layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
from discord.ext import commands
from discord.ext.test import backend, factories


def interaction_context(command: commands.Command[Any, ..., Any] | None = None) -> MagicMock:
    """A command context as discord.py builds it for a slash invocation of ``command``, Discord's
    side mocked. Its prefix is ``/``, as discord.py sets it for slash commands.

    ``spec`` makes any attribute the real classes lack an error instead of a silent pass.
    """
    ctx = MagicMock(spec=commands.Context)
    ctx.interaction = MagicMock(spec=discord.Interaction)
    ctx.command = command
    ctx.clean_prefix = "/"
    ctx.defer = AsyncMock()
    ctx.send = AsyncMock()
    return ctx


async def call_slash(bot: commands.Bot, name: str, ctx: MagicMock, **options: Any) -> None:
    """Run a hybrid command's callback the way its slash face does, with ``options`` as values."""
    command = bot.get_command(name)
    assert command is not None, f"no command {name!r}"
    callback: Any = command.callback
    await callback(command.cog, ctx, **options)


def on_send(bot: commands.Bot, noticed: Callable[[dict[str, Any]], object]) -> None:
    """Call ``noticed`` with every message payload ``bot`` hands to Discord's HTTP layer from now
    on (dpytest's, here), just before it goes. The bot is the caller's own: the hook goes with it.
    """
    send_message = bot.http.send_message

    async def spy(channel_id: int, *, params: Any) -> Any:
        noticed(params.payload)
        # dpytest's fake HTTP finds the channel in its caller's local variables: provide one.
        channel = bot.get_channel(channel_id)  # noqa: F841
        return await send_message(channel_id, params=params)

    bot.http.send_message = spy  # type: ignore[method-assign,assignment]


def forget_message_log() -> None:
    """Empty dpytest's log of every message of the simulated guild, which only grows.

    dpytest has no public way to do this; the one private name used is here, and
    ``tests/test_simulated_discord.py`` fails by name if dpytest changes it.
    """
    state = backend._cur_config
    assert state is not None, "dpytest is not configured"
    for messages in state.messages.values():
        messages.clear()


def restart_ids() -> None:
    """Start dpytest's id counter afresh. It fills 12 bits of every id it makes; past 4,096 ids in
    one process it spills into the time stamp, and ids soon pass 2**63, which Discord's never do
    (and a database's 64-bit integer refuses). The suite does this for every test."""
    factories.generated_ids = 0
