"""``!sync``: only the owner may register slash commands, and nothing syncs on its own."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest.mock import AsyncMock, MagicMock

import aiohttp
import discord
import discord.ext.test as dpytest
import pytest
from discord import app_commands
from discord.ext import commands

from bot.core import CatFactBot, make_bot
from bot.database import parse_database_url
from bot.facts import CatFactClient
from bot.settings import Settings
from cogs.admin import cogs_state, shards_of, status_embed
from fakes import FACTS, FakeCatfactNinja, FakeMeowfacts
from tests.conftest import running_bot


def app_command(name: str) -> MagicMock:
    """What Discord answers for one synced command (only the name is read)."""
    command = MagicMock(spec=app_commands.AppCommand)
    command.name = name
    return command


@pytest.fixture
def tree_sync(bot: CatFactBot, monkeypatch: pytest.MonkeyPatch) -> AsyncMock:
    """Discord's side of syncing (an HTTP call dpytest cannot simulate), recorded instead.

    It answers in tree order, which is not alphabetical, like Discord.
    """
    fake = AsyncMock(return_value=[app_command(name) for name in ("sub", "catfact", "add")])
    monkeypatch.setattr(bot.tree, "sync", fake)
    return fake


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


async def test_one_synced_command_is_reported_in_the_singular(
    bot: CatFactBot, owner: discord.Member, tree_sync: AsyncMock
) -> None:
    tree_sync.return_value = [app_command("catfact")]
    await dpytest.message("!sync", member=owner)
    assert dpytest.verify().message().content("Synced 1 slash command globally: /catfact.")


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
    assert {c.name for c in bot.tree.get_commands(guild=owner.guild)} == {
        "about",
        "add",
        "catfact",
        "daily",
        "ping",
        "settings",
        "sub",
    }


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
    assert reply.endswith("Usage: `!sync [global|guild|clear]`")


async def test_guild_sync_in_a_direct_message_is_explained(
    bot: CatFactBot, owner: discord.Member, tree_sync: AsyncMock
) -> None:
    dm = await owner.create_dm()
    with pytest.raises(commands.NoPrivateMessage):
        await dpytest.message("!sync guild", channel=dm, member=owner)
    tree_sync.assert_not_awaited()
    assert (
        dpytest.verify()
        .message()
        .content("`!sync` only works in a server, not in a direct message.")
    )


async def test_owner_clears_the_server_copies(
    bot: CatFactBot, owner: discord.Member, tree_sync: AsyncMock
) -> None:
    await dpytest.message("!sync guild", member=owner)
    tree_sync.return_value = []
    await dpytest.message("!sync clear", member=owner)
    assert bot.tree.get_commands(guild=owner.guild) == []
    assert tree_sync.await_args_list[-1].kwargs == {"guild": owner.guild}
    assert (
        dpytest.get_message().content
        == "Synced 3 slash commands to this server: /add, /catfact, /sub."
    )
    assert dpytest.get_message().content == "Synced 0 slash commands to this server."


async def test_help_shows_sync_to_the_owner_only(
    bot: CatFactBot, owner: discord.Member, alice: discord.Member
) -> None:
    await dpytest.message("!help sync", member=owner)
    assert "!sync [global|guild|clear]" in dpytest.get_message().content
    await dpytest.message("!help sync", member=alice)
    # the same words as `!sync` itself answers alice with
    assert dpytest.verify().message().content("Only the bot's owner can use `!sync`.")


# --- !reload -------------------------------------------------------------------------------------

RELOADABLE = """
from discord.ext import commands

class Greeter(commands.Cog):
    @commands.command()
    async def greet(self, ctx):
        await ctx.send({reply!r})

async def setup(bot):
    await bot.add_cog(Greeter())
"""


@pytest.fixture
def greeter_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], Path]]:
    """Writes ``<package>/greeter.py`` with the given source on the import path and returns the
    file; the packages are forgotten after the test, so the next one imports afresh."""
    packages: list[str] = []

    def write(package: str, source: str) -> Path:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
        module = tmp_path / package / "greeter.py"
        module.write_text(source)
        packages.append(package)
        return module

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in [n for n in sys.modules if n.split(".")[0] in packages]:
        del sys.modules[name]


@pytest.fixture
async def greeter(bot: CatFactBot, greeter_in: Callable[[str, str], Path]) -> Path:
    """A throwaway extension ``reloadable.greeter``, loaded into the bot; its file is returned."""
    module = greeter_in("reloadable", RELOADABLE.format(reply="hello"))
    await bot.load_extension("reloadable.greeter")
    return module


async def test_owner_reloads_a_cog_and_it_keeps_working(
    bot: CatFactBot, owner: discord.Member
) -> None:
    await dpytest.message("!reload arithmetic", member=owner)
    assert dpytest.verify().message().content("Reloaded `cogs.arithmetic`.")
    await dpytest.message("!add 1 2")
    assert dpytest.verify().message().content("3")


async def test_a_reload_picks_up_the_new_code(
    bot: CatFactBot, owner: discord.Member, greeter: Path
) -> None:
    greeter.write_text(RELOADABLE.format(reply="hello again"))
    await dpytest.message("!reload reloadable.greeter", member=owner)
    assert dpytest.verify().message().content("Reloaded `reloadable.greeter`.")
    await dpytest.message("!greet")
    assert dpytest.verify().message().content("hello again")


async def test_a_failed_reload_keeps_the_old_version_running(
    bot: CatFactBot, owner: discord.Member, greeter: Path, caplog: pytest.LogCaptureFixture
) -> None:
    greeter.write_text("def broken(:\n")
    await dpytest.message("!reload reloadable.greeter", member=owner)
    reply = dpytest.get_message().content
    assert reply.startswith(
        "Reloading `reloadable.greeter` failed, so the previous version keeps running: "
        "`SyntaxError: "
    )
    assert "reloading reloadable.greeter failed" in caplog.text
    await dpytest.message("!greet")
    assert dpytest.verify().message().content("hello")


async def test_reloading_something_not_loaded_lists_what_is(
    bot: CatFactBot, owner: discord.Member
) -> None:
    await dpytest.message("!reload dogfacts", member=owner)
    assert (
        dpytest.verify()
        .message()
        .content(
            "There is no loaded cog `dogfacts`. "
            "Loaded: admin, arithmetic, catfact, daily, info, settings."
        )
    )


async def test_reload_without_a_cog_name_says_what_is_missing(
    bot: CatFactBot, owner: discord.Member
) -> None:
    with pytest.raises(commands.MissingRequiredArgument):
        await dpytest.message("!reload", member=owner)
    assert (
        dpytest.verify()
        .message()
        .content("`name` is missing. Usage: `!reload <cog>`, e.g. `!reload catfact`")
    )


async def test_only_the_owner_may_reload(bot: CatFactBot, alice: discord.Member) -> None:
    with pytest.raises(commands.NotOwner):
        await dpytest.message("!reload arithmetic", member=alice)
    assert dpytest.verify().message().content("Only the bot's owner can use `!reload`.")


async def test_a_cog_that_failed_at_start_up_can_be_loaded_once_fixed(
    bot: CatFactBot, owner: discord.Member, greeter_in: Callable[[str, str], Path]
) -> None:
    module = greeter_in("latecogs", "def broken(:\n")
    with pytest.raises(commands.ExtensionFailed) as caught:
        await bot.load_extension("latecogs.greeter")
    bot.failed_extensions["latecogs.greeter"] = caught.value  # as setup_hook records it

    await dpytest.message("!reload latecogs.greeter", member=owner)
    reply = dpytest.get_message().content
    assert reply.startswith("Reloading `latecogs.greeter` failed, so it stays unloaded: ")

    module.write_text(RELOADABLE.format(reply="better late"))
    await dpytest.message("!reload latecogs.greeter", member=owner)
    assert dpytest.verify().message().content("Loaded `latecogs.greeter`.")
    assert "latecogs.greeter" not in bot.failed_extensions
    await dpytest.message("!greet")
    assert dpytest.verify().message().content("better late")


# --- !status -------------------------------------------------------------------------------------


def status_fields(embed: discord.Embed) -> dict[str, str]:
    return {field.name or "": field.value or "" for field in embed.fields}


async def test_status_gives_the_owner_what_about_leaves_out(
    bot: CatFactBot, owner: discord.Member
) -> None:
    await bot.catfacts.refresh()
    await dpytest.message("!catfact")
    await dpytest.empty_queue()
    await dpytest.message("!status", member=owner)
    embed = dpytest.get_embed()
    assert embed.title == "Status of this process"
    assert embed.colour == discord.Colour.dark_grey()
    # Short values side by side, long ones on a line of their own.
    assert [(field.name, field.inline) for field in embed.fields] == [
        ("Shards", False),
        ("Providers", True),
        ("Facts in memory", True),
        ("Facts served", False),
        ("Fetches", False),
        ("Database", False),
        ("Daily posts", False),
        ("Cogs", False),
    ]
    assert status_fields(embed) == {
        "Shards": "unsharded (one process)",
        "Providers": "meowfacts healthy",
        "Facts in memory": f"{len(FACTS)} from meowfacts",
        "Facts served": "from memory 1, after waiting for the first fetch 0, offline 0",
        "Fetches": "1 requests, 0 failed, 1 collections",
        "Database": "none: settings are kept in memory only; 1 servers' settings in memory",
        "Daily posts": "off: they need a database",
        "Cogs": "loaded: admin, arithmetic, catfact, daily, info, settings",
    }


@pytest.mark.real_time  # the database answers from another thread
async def test_status_names_the_database_and_its_last_error_while_it_is_down(
    settings: Settings,
) -> None:
    down = dataclasses.replace(settings, database=parse_database_url("sqlite:////dev/null/x.db"))
    async with running_bot(down) as test_bot:
        owner = dpytest.get_config().members[1]
        test_bot.owner_id = owner.id
        await dpytest.message("!status", member=owner)
        value = status_fields(dpytest.get_embed())["Database"]
    assert value.startswith(
        "sqlite+aiosqlite:////dev/null/x.db: connecting: commands use the defaults until it "
        "answers; 0 servers' settings in memory\nlast error: "
    )


async def test_status_is_for_the_owner_only(bot: CatFactBot, alice: discord.Member) -> None:
    with pytest.raises(commands.NotOwner):
        await dpytest.message("!status", member=alice)
    assert dpytest.verify().message().content("Only the bot's owner can use `!status`.")


async def test_status_shows_a_provider_that_is_failing_then_down(
    bot: CatFactBot, owner: discord.Member
) -> None:
    [breaker] = bot.catfacts.breakers
    breaker.record_failure()
    await dpytest.message("!status", member=owner)
    assert status_fields(dpytest.get_embed())["Providers"] == "meowfacts failing (1 in a row)"
    for _ in range(breaker.threshold):
        breaker.record_failure()
    await dpytest.message("!status", member=owner)
    assert status_fields(dpytest.get_embed())["Providers"] == "meowfacts down"


async def test_status_lists_every_provider_in_failover_order_or_none(
    meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    settings = Settings(
        catfact_providers=(("catfact.ninja", ninja.url), ("meowfacts", meowfacts.url)),
        catfact_cooldown=0,
    )
    for providers, shown in [
        (settings, "catfact.ninja healthy, meowfacts healthy"),
        (Settings(catfact_providers=()), "none configured (offline facts only)"),
    ]:
        async with running_bot(providers) as test_bot:
            embed = status_embed(test_bot)
            assert status_fields(embed)["Providers"] == shown
            assert status_fields(embed)["Facts in memory"] == "none yet"


async def test_status_says_when_no_cog_is_loaded(settings: Settings) -> None:
    async with running_bot(settings, extensions=[]) as test_bot:
        assert status_fields(status_embed(test_bot))["Cogs"] == "loaded: none"


async def test_help_fills_in_the_prefix_in_a_command_s_help(
    bot: CatFactBot, owner: discord.Member
) -> None:
    await dpytest.message("!help sync", member=owner)
    assert dpytest.get_message().content == (
        "```\n!sync [global|guild|clear]\n\n"
        "Register the slash commands with Discord (owner only).\n\n"
        "`!sync` registers them in every server. `!sync guild` copies them to this\n"
        "server only, instantly, which is handy while developing; `!sync clear` removes\n"
        "those copies again.\n\n```"
    )


async def test_status_names_a_cog_that_failed_to_load_and_why(
    settings: Settings, greeter_in: Callable[[str, str], Path]
) -> None:
    greeter_in("brokencogs", "raise RuntimeError('no database')\n")
    async with running_bot(settings, extensions=["cogs.admin", "brokencogs.greeter"]) as test_bot:
        assert status_fields(status_embed(test_bot))["Cogs"] == (
            "loaded: admin\nfailed: brokencogs.greeter (`RuntimeError: no database`)"
        )


@pytest.mark.parametrize(
    ("env", "text"),
    [
        ({}, "unsharded (one process)"),
        ({"SHARD_COUNT": "16"}, "all 16 shards"),
        ({"SHARD_COUNT": "16", "SHARD_IDS": "0-3,8"}, "shards 0-3, 8 of 16"),
    ],
)
def test_status_names_the_shards_of_this_process(env: dict[str, str], text: str) -> None:
    assert shards_of(make_bot(Settings.from_env(env))) == text


def test_a_bot_that_is_not_sharded_says_so_whatever_the_settings() -> None:
    settings = Settings.from_env({"SHARD_COUNT": "16"})
    assert shards_of(CatFactBot(settings)) == "unsharded (one process)"


async def test_status_on_a_sharded_bot_names_its_shards(session: aiohttp.ClientSession) -> None:
    settings = Settings.from_env({"SHARD_COUNT": "16", "SHARD_IDS": "0-3"})
    client = CatFactClient(session, [], budget=settings.catfact_timeout)
    embed = status_embed(make_bot(settings, catfacts=client))
    assert status_fields(embed)["Shards"] == "shards 0-3 of 16"


async def test_many_failed_cogs_still_fit_in_the_status_embed(
    settings: Settings, greeter_in: Callable[[str, str], Path]
) -> None:
    greeter_in("brokencogs", "raise RuntimeError('x' * 400)\n")
    async with running_bot(settings, extensions=["cogs.admin"]) as test_bot:
        for n in range(5):  # as setup_hook records a cog that failed to load
            test_bot.failed_extensions[f"cogs.broken{n}"] = RuntimeError("x" * 400)
        cogs = status_fields(status_embed(test_bot))["Cogs"]
        assert len(cogs) == 1024
        assert cogs.startswith("loaded: admin\nfailed: cogs.broken0 (")
        assert cogs.endswith("…")


def test_a_cogs_field_of_exactly_discord_s_limit_is_kept_whole() -> None:
    bot = MagicMock(spec=CatFactBot)
    bot.extensions = {"cogs.admin": None}
    bot.failed_extensions = {}
    line = "\nfailed: cogs.bN (`RuntimeError: `)"
    room = 1024 - len("loaded: admin")
    for n in range(4):  # four failures of up to 250 characters each fill the field exactly
        detail = min(250, room - len(line))
        bot.failed_extensions[f"cogs.b{n}"] = RuntimeError("x" * detail)
        room -= len(line) + detail
    assert room == 0
    text = cogs_state(bot)
    assert len(text) == 1024
    assert not text.endswith("…")


async def test_status_lists_each_other_language_asked_for_and_no_stale_error(
    bot: CatFactBot, owner: discord.Member, meowfacts: FakeMeowfacts
) -> None:
    await bot.catfacts.refresh()
    await bot.catfacts.get_fact(language="ger-de")
    meowfacts.handler = meowfacts.body("down", status=503)
    await bot.catfacts.get_fact(language="fra-fr")  # none yet: meowfacts is failing
    bot.guild_settings.last_error = "OSError: an outage that is over"  # connected again
    await dpytest.message("!status", member=owner)
    fields = status_fields(dpytest.get_embed())
    assert fields["Facts in memory"].split("\n") == [
        f"{len(FACTS)} from meowfacts",
        "ger-de: 94",
        "fra-fr: none yet",
    ]
    assert "last error" not in fields["Database"]
