"""What the suite relies on in dpytest's simulated Discord beyond its documented use.

Each test here breaks loudly if a new dpytest changes what ``conftest.py`` builds on, instead of
letting cooldown tests silently start depending on the machine's speed again.
"""

from __future__ import annotations

import asyncio
import datetime

import discord.ext.test as dpytest

from bot.core import CatFactBot
from tests.conftest import SIMULATED_EPOCH


async def test_messages_are_stamped_with_the_loop_s_time(bot: CatFactBot) -> None:
    first = await dpytest.message("!add 1 1")
    await asyncio.sleep(3600)
    later = await dpytest.message("!add 1 1")
    assert later.created_at - first.created_at == datetime.timedelta(seconds=3600)
    loop_time = asyncio.get_running_loop().time()
    expected = SIMULATED_EPOCH + datetime.timedelta(seconds=loop_time)
    assert abs(later.created_at - expected) < datetime.timedelta(milliseconds=1)
