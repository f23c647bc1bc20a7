"""The bot core: what setup_hook creates and loads, what close releases, how it is configured."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import textwrap
from pathlib import Path
from unittest.mock import AsyncMock, MagicMock

import aiohttp
import pytest
from discord.ext import commands

from bot.core import USER_AGENT, CatFactBot, ShardedCatFactBot, discover_extensions, make_bot
from bot.facts import CatFactClient
from bot.help import BotHelp
from bot.settings import Settings
from bot.sharding import CONNECT_ALLOWANCE, IDENTIFY_WINDOW, IdentifyPacer, ShardPlan
from fakes import FACTS, FakeClock, FakeMeowfacts
from tests.conftest import running_bot


@pytest.fixture
def fake_cogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A throwaway ``fakecogs`` package: two good extensions, a private module, a broken one."""
    package = tmp_path / "fakecogs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    good = textwrap.dedent(
        """
        from discord.ext import commands

        class {name}(commands.Cog):
            @commands.command()
            async def {command}(self, ctx):
                await ctx.send("{command}")

        async def setup(bot):
            await bot.add_cog({name}())
        """
    )
    (package / "alpha.py").write_text(good.format(name="Alpha", command="alpha"))
    (package / "beta.py").write_text(good.format(name="Beta", command="beta"))
    (package / "_shared.py").write_text("raise RuntimeError('private modules are not loaded')\n")
    (package / "broken.py").write_text("async def setup(bot):\n    raise ValueError('broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "fakecogs"


def test_discovery_finds_every_public_module_in_order(fake_cogs: str) -> None:
    assert discover_extensions(fake_cogs) == ["fakecogs.alpha", "fakecogs.beta", "fakecogs.broken"]


def test_discovery_of_the_real_cogs_package() -> None:
    assert discover_extensions() == [
        "cogs.admin",
        "cogs.arithmetic",
        "cogs.catfact",
        "cogs.daily",
        "cogs.info",
        "cogs.settings",
    ]


async def test_a_broken_extension_is_logged_and_the_others_load(
    fake_cogs: str, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with CatFactBot(settings, extensions=discover_extensions(fake_cogs)) as bot:
        with caplog.at_level(logging.ERROR, logger="bot.core"):
            await bot.setup_hook()
        assert {c.name for c in bot.commands} >= {"alpha", "beta"}
        assert list(bot.failed_extensions) == ["fakecogs.broken"]
        [record] = caplog.records
        assert "fakecogs.broken" in record.getMessage()
        assert record.exc_info is not None


async def test_setup_hook_creates_one_session_and_close_closes_it(
    settings: Settings, meowfacts: FakeMeowfacts
) -> None:
    bot = CatFactBot(settings, extensions=[])
    await bot.__aenter__()  # what `async with bot` does first (the test closes it by hand)
    await bot.setup_hook()
    client = bot.catfacts
    assert isinstance(client, CatFactClient)
    assert [(p.name, str(p.url)) for p in client.providers] == settings.provider_urls()
    assert (client.budget, client.refresh_interval) == (
        settings.catfact_timeout,
        settings.catfact_refresh,
    )
    for _ in range(1000):  # let the loop run (no time passes) until the fill has landed
        if client.ready:
            break
        await asyncio.sleep(0)
    assert client.ready == len(FACTS)  # filled at start-up, before anyone asked
    assert meowfacts.user_agents == [USER_AGENT]  # through the bot's own session
    await bot.close()  # the session too: the no_leaks fixture fails a test that leaves one open
    await asyncio.sleep(2 * settings.catfact_refresh)
    assert meowfacts.requests == 1  # and no refresh after the close


async def test_one_session_serves_every_refresh_over_one_connection(
    settings: Settings, meowfacts: FakeMeowfacts
) -> None:
    # Each refresh must reuse the pooled connection rather than open a new one (what a session
    # per request would do).
    async with running_bot(settings) as bot:
        for _ in range(4):
            assert await bot.catfacts.refresh() is True
    assert meowfacts.requests == 4
    assert len(meowfacts.connections) == 1


async def test_a_client_handed_in_is_used_and_left_to_its_owner(settings: Settings) -> None:
    client = AsyncMock(spec=CatFactClient)
    async with CatFactBot(settings, catfacts=client, extensions=[]) as bot:
        await bot.setup_hook()
        assert bot.catfacts is client
    client.start.assert_not_called()
    client.aclose.assert_not_awaited()


async def test_the_session_is_closed_even_when_stopping_the_client_fails(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[aiohttp.ClientSession] = []
    close_session = aiohttp.ClientSession.close

    async def recording_close(session: aiohttp.ClientSession) -> None:
        closed.append(session)
        await close_session(session)

    monkeypatch.setattr(aiohttp.ClientSession, "close", recording_close)

    async def run_with_a_client_that_fails_to_stop() -> None:
        async with CatFactBot(settings, extensions=[]) as bot:
            await bot.setup_hook()
            stop = bot.catfacts.aclose

            async def broken_stop() -> None:
                await stop()
                raise RuntimeError("a bug in stopping")

            monkeypatch.setattr(bot.catfacts, "aclose", broken_stop)

    with pytest.raises(RuntimeError, match="a bug in stopping"):
        await run_with_a_client_that_fails_to_stop()
    [session] = closed
    assert session.closed


def test_the_client_is_not_available_before_setup(settings: Settings) -> None:
    with pytest.raises(RuntimeError, match="setup_hook"):
        _ = CatFactBot(settings).catfacts


async def test_slash_commands_are_not_synced_at_start_up(settings: Settings) -> None:
    bot = CatFactBot(settings)
    sync = AsyncMock()
    bot.tree.sync = sync  # type: ignore[method-assign]
    await bot.__aenter__()  # what `async with bot` does first (the test closes it by hand)
    await bot.setup_hook()
    try:
        assert {c.name for c in bot.tree.get_commands()} == {
            "about",
            "add",
            "catfact",
            "daily",
            "settings",
            "ping",
            "sub",
        }
        sync.assert_not_awaited()
    finally:
        await bot.close()


def test_the_bot_reads_message_content_and_pings_nobody(settings: Settings) -> None:
    bot = CatFactBot(settings)
    assert bot.intents.message_content
    assert not bot.intents.members  # privileged and not needed outside the simulator
    assert bot.allowed_mentions is not None
    assert dict(bot.allowed_mentions.to_dict()) == {"parse": []}


# --- Sharding: which class, which shards ---------------------------------------------------------


def test_without_shard_settings_the_bot_is_a_plain_unsharded_bot(settings: Settings) -> None:
    bot = make_bot(settings)
    assert type(bot) is CatFactBot
    assert not isinstance(bot, commands.AutoShardedBot)
    assert bot.shard_count is None


@pytest.mark.parametrize(
    ("env", "count", "ids"),
    [
        ({"SHARD_COUNT": "16"}, 16, None),
        ({"SHARD_COUNT": "16", "SHARD_IDS": "0-7"}, 16, list(range(8))),
        ({"SHARD_COUNT": "16", "SHARD_IDS": "8-11,15"}, 16, [8, 9, 10, 11, 15]),
    ],
)
def test_shard_settings_build_an_auto_sharded_bot(
    env: dict[str, str], count: int, ids: list[int] | None
) -> None:
    bot = make_bot(Settings.from_env(env))
    assert isinstance(bot, ShardedCatFactBot)
    assert isinstance(bot, commands.AutoShardedBot)
    assert bot.shard_count == count
    assert bot.shard_ids == ids
    assert bot.command_prefix is not None  # still the cat-fact bot, with its own set-up
    assert isinstance(bot.help_command, BotHelp)


def test_a_sharded_bot_needs_a_count(settings: Settings) -> None:
    with pytest.raises(ValueError, match=r"^a sharded bot needs SHARD_COUNT$"):
        ShardedCatFactBot(settings)


@pytest.mark.parametrize("plan", [ShardPlan(), ShardPlan(2)], ids=["unsharded", "sharded"])
async def test_make_bot_hands_its_options_to_the_bot(settings: Settings, plan: ShardPlan) -> None:
    client = AsyncMock(spec=CatFactClient)
    bot = make_bot(dataclasses.replace(settings, shards=plan), catfacts=client)
    assert isinstance(bot, ShardedCatFactBot) is plan.sharded
    assert bot.catfacts is client


async def test_identify_waits_for_the_shards_slot_on_the_shared_timetable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    bot = ShardedCatFactBot(Settings.from_env({"SHARD_COUNT": "16", "SHARD_IDS": "8-15"}))
    bot.pacer = IdentifyPacer(clock(), clock=clock, sleep=clock.sleep)
    with caplog.at_level(logging.DEBUG, logger="bot.core"):
        await bot.before_identify_hook(8, initial=True)
    # Slot 8 of the global schedule: after the connect allowance and 8 windows.
    assert clock.slept == [pytest.approx(CONNECT_ALLOWANCE + 8 * IDENTIFY_WINDOW, abs=0.05)]
    assert [r.getMessage() for r in caplog.records] == [
        f"shard 8 identifies after waiting {clock.slept[0]:.1f} s"
    ]
    await bot.before_identify_hook(9)
    assert clock.slept[-1] == pytest.approx(IDENTIFY_WINDOW, abs=0.05)


async def test_start_logs_in_then_waits_for_its_slot_then_connects(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bot = ShardedCatFactBot(Settings.from_env({"SHARD_COUNT": "16", "SHARD_IDS": "8-15"}))
    order = MagicMock()
    for name, step in [
        ("login", AsyncMock()),
        ("connect", AsyncMock()),
        ("before_connect", AsyncMock(return_value=12.5)),
    ]:
        order.attach_mock(step, name)
        monkeypatch.setattr(bot.pacer if name == "before_connect" else bot, name, step)
    with caplog.at_level(logging.INFO, logger="bot.core"):
        await bot.start("token")
    assert [call[0] for call in order.mock_calls] == ["login", "before_connect", "connect"]
    order.before_connect.assert_awaited_once_with(8)
    assert [r.getMessage() for r in caplog.records] == [
        "waited 12.5 s for this process's first identify slot"
    ]


async def test_the_process_running_shard_zero_logs_in_and_connects_at_once_with_reconnects(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bot = ShardedCatFactBot(Settings.from_env({"SHARD_COUNT": "16", "SHARD_IDS": "0-7"}))
    login, connect = AsyncMock(), AsyncMock()
    monkeypatch.setattr(bot, "login", login)
    monkeypatch.setattr(bot, "connect", connect)
    with caplog.at_level(logging.INFO, logger="bot.core"):
        await bot.start("the-token")  # the real pacer: shard 0's slot is now
    login.assert_awaited_once_with("the-token")
    connect.assert_awaited_once_with(reconnect=True)
    assert caplog.records == []  # nothing was waited, so nothing to report
