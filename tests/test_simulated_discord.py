"""What the suite relies on in dpytest's simulated Discord beyond its documented use.

Each test here breaks loudly if a new dpytest changes what ``conftest.py`` builds on, instead of
letting cooldown tests silently start depending on the machine's speed again.
"""

from __future__ import annotations

import asyncio
import datetime

import discord.ext.test as dpytest
import discord.ext.test.backend
import discord.ext.test.factories

from bot.core import CatFactBot
from fakes import forget_message_log, on_send
from tests.conftest import SIMULATED_EPOCH


async def test_messages_are_stamped_with_the_loop_s_time(bot: CatFactBot) -> None:
    first = await dpytest.message("!add 1 1")
    await asyncio.sleep(3600)
    later = await dpytest.message("!add 1 1")
    assert later.created_at - first.created_at == datetime.timedelta(seconds=3600)
    loop_time = asyncio.get_running_loop().time()
    expected = SIMULATED_EPOCH + datetime.timedelta(seconds=loop_time)
    assert abs(later.created_at - expected) < datetime.timedelta(milliseconds=1)


async def test_past_4096_ids_dpytest_s_stamps_go_wrong_so_each_test_starts_afresh(
    bot: CatFactBot,
) -> None:
    discord.ext.test.factories.generated_ids = 5000  # as after a few thousand messages...
    first = await dpytest.message("!add 1 1")
    await asyncio.sleep(10)
    later = await dpytest.message("!add 1 1")
    # ...dpytest's 12-bit counter spills into the stamp. The suite resets it for every test;
    # this test shows why, by starting past the limit within one test.
    assert later.created_at - first.created_at != datetime.timedelta(seconds=10)


def test_every_test_starts_with_dpytest_s_id_counter_at_zero() -> None:
    assert discord.ext.test.factories.generated_ids == 0


async def test_the_message_log_the_benchmark_empties_is_where_fakes_expects_it(
    bot: CatFactBot,
) -> None:
    await dpytest.message("!add 1 1")
    channel = dpytest.get_config().channels[0]
    assert discord.ext.test.backend._cur_config is not None, (
        "dpytest moved its message log: update fakes.discord_api.forget_message_log"
    )
    assert discord.ext.test.backend._cur_config.messages[channel.id]
    forget_message_log()
    assert discord.ext.test.backend._cur_config.messages[channel.id] == []


async def test_the_send_hook_still_reaches_dpytest_s_channel_lookup(bot: CatFactBot) -> None:
    # fakes.on_send supplies the `channel` local that dpytest's fake HTTP reads from its caller.
    assert callable(discord.ext.test.backend._get_higher_locs), (
        "dpytest no longer finds the channel in its caller's locals: update fakes.on_send"
    )
    payloads: list[dict[str, object]] = []
    on_send(bot, payloads.append)
    await dpytest.message("!add 1 1")
    assert [payload["content"] for payload in payloads] == ["2"]
