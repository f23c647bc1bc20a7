"""``!sync``: only the owner may register slash commands, and nothing syncs on its own."""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock

import discord
import discord.ext.test as dpytest
import pytest
from discord import app_commands
from discord.ext import commands

from bot.core import CatFactBot


@pytest.fixture
def tree_sync(bot: CatFactBot, monkeypatch: pytest.MonkeyPatch) -> AsyncMock:
    """Discord's side of syncing (an HTTP call dpytest cannot simulate), recorded instead."""
    synced: list[app_commands.Command[Any, ..., Any]] = [
        app_commands.Command(name=name, description="d", callback=_noop)
        for name in ("add", "catfact", "sub")
    ]
    fake = AsyncMock(return_value=synced)
    monkeypatch.setattr(bot.tree, "sync", fake)
    return fake


async def _noop(interaction: discord.Interaction) -> None:
    """A callback for the stand-in commands that the fake sync returns."""


async def test_owner_syncs_globally(
    bot: CatFactBot, owner: discord.Member, tree_sync: AsyncMock
) -> None:
    await dpytest.message("!sync", member=owner)
    tree_sync.assert_awaited_once_with()
    assert (
        dpytest.verify()
        .message()
        .content("Synced 3 slash commands globally: /add, /catfact, /sub.")
    )


async def test_owner_syncs_to_the_current_server(
    bot: CatFactBot, owner: discord.Member, tree_sync: AsyncMock
) -> None:
    await dpytest.message("!sync guild", member=owner)
    tree_sync.assert_awaited_once_with(guild=owner.guild)
    assert (
        dpytest.verify()
        .message()
        .content("Synced 3 slash commands to this server: /add, /catfact, /sub.")
    )
    assert {c.name for c in bot.tree.get_commands(guild=owner.guild)} >= {"add", "sub", "catfact"}


async def test_anyone_else_is_refused(
    bot: CatFactBot, alice: discord.Member, tree_sync: AsyncMock
) -> None:
    with pytest.raises(commands.NotOwner):
        await dpytest.message("!sync", member=alice)
    tree_sync.assert_not_awaited()
    assert dpytest.verify().message().content("Only the bot's owner can use `!sync`.")


async def test_an_unknown_scope_is_explained(
    bot: CatFactBot, owner: discord.Member, tree_sync: AsyncMock
) -> None:
    with pytest.raises(commands.BadLiteralArgument):
        await dpytest.message("!sync everywhere", member=owner)
    tree_sync.assert_not_awaited()
    reply = dpytest.get_message().content
    assert reply.endswith("Usage: `!sync [global|guild]`")


async def test_guild_sync_in_a_direct_message_is_explained(
    bot: CatFactBot, owner: discord.Member, tree_sync: AsyncMock
) -> None:
    dm = await owner.create_dm()
    with pytest.raises(commands.NoPrivateMessage):
        await dpytest.message("!sync guild", channel=dm, member=owner)
    tree_sync.assert_not_awaited()
    assert dpytest.verify().message().content("You can't use `!sync` here.")
