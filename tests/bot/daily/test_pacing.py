"""The scheduler's pieces that need no database: the pacer, and the budget of a command's
database work. On the fast-forwarded loop: the waits cost no real time."""

from __future__ import annotations

import asyncio

import pytest

from bot.daily import Pacer
from bot.daily.service import RATE, WRITE_BUDGET, _budget
from bot.guild_settings import NotSavedError


async def test_the_pacer_spaces_calls_by_its_rate_on_the_loops_clock() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer(10.0)
    start = loop.time()
    times = []
    for _ in range(5):
        await pacer.wait()
        times.append(round(loop.time() - start, 6))
    assert times == [0.0, 0.1, 0.2, 0.3, 0.4]


async def test_calls_together_are_spaced_too() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer(RATE)
    start = loop.time()
    times: list[float] = []

    async def one() -> None:
        await pacer.wait()
        times.append(loop.time() - start)

    await asyncio.gather(*(one() for _ in range(90)))
    # 90 posts: two seconds at 45 a second (the loop clock rounds each wait to the microsecond).
    assert max(times) == pytest.approx(89 / RATE, abs=1e-3)


async def test_a_pacer_that_was_idle_does_not_burst_to_catch_up() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer(2.0)
    await pacer.wait()
    await asyncio.sleep(10)
    start = loop.time()
    await pacer.wait()
    await pacer.wait()
    assert loop.time() - start == pytest.approx(0.5)


async def test_no_rate_no_wait() -> None:
    loop = asyncio.get_running_loop()
    pacer, start = Pacer(None), loop.time()
    for _ in range(100):
        await pacer.wait()
    assert loop.time() == start


async def test_a_command_waits_for_the_database_within_its_budget_only() -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(NotSavedError, match="it was not saved: no answer within 5 s"):
        async with _budget("it was not saved"):
            await asyncio.sleep(60)  # a database that hangs
    assert loop.time() - start == pytest.approx(WRITE_BUDGET)


async def test_a_database_error_is_not_saved_with_its_reason() -> None:
    with pytest.raises(NotSavedError, match="it was not saved: OSError: disk full"):
        async with _budget("it was not saved"):
            raise OSError("disk full")


async def test_after_the_loop_was_held_up_calls_do_not_go_back_to_back() -> None:
    now = [0.0]

    async def held_up_once(delay: float) -> None:
        now[0] += delay + (0.45 if now[0] == 0.0 else 0.0)  # the first wait overruns a lot
        await asyncio.sleep(0)

    pacer = Pacer(10.0, clock=lambda: now[0], sleep=held_up_once)
    went: list[float] = []

    async def one() -> None:
        await pacer.wait()
        went.append(round(now[0], 6))

    await asyncio.gather(*(one() for _ in range(5)))
    assert went == [0.0, 0.55, 0.65, 0.75, 0.85]  # not 0.55 four times
