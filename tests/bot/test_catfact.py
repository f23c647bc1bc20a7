"""The cat-fact client's strategy: buffer, single flight, variety, retries, breaker, failover.

Here the providers are scripted stand-ins (the HTTP side has its own tests in
``test_providers.py`` and, end to end, in ``tests/test_faults.py``), and time is a
:class:`~tests.fakes.FakeClock`: backoff sleeps and breaker cool-downs cost nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
from typing import ClassVar
from unittest.mock import MagicMock

import aiohttp
import pytest
import yarl
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.catfact
from bot.breaker import CircuitBreaker, State
from bot.catfact import (
    BACKOFF_MAX,
    MAX_ATTEMPTS,
    OFFLINE,
    CatFactClient,
    Served,
)
from bot.offline_facts import FACTS as OFFLINE_FACTS
from bot.providers import Provider, UpstreamError
from tests.fakes import FakeClock, refilled

Step = list[str] | BaseException | asyncio.Event
"""One scripted answer: facts, an error to raise, or an event to hang on until set."""


class Scripted(Provider):
    """A provider that answers from a script; the last step repeats."""

    name: ClassVar[str] = "scripted"
    max_batch: ClassVar[int] = 100

    def __init__(self, *script: Step) -> None:
        super().__init__("http://scripted.invalid/")
        self.script = list(script)
        self.calls = 0
        self.counts: list[int] = []

    def request_url(self, count: int) -> yarl.URL:  # pragma: no cover - fetch is replaced
        return self.url

    def extract(self, payload: object) -> list[object]:  # pragma: no cover - fetch is replaced
        return []

    async def fetch(
        self, session: aiohttp.ClientSession, count: int, time_limit: float
    ) -> list[str]:
        self.calls += 1
        self.counts.append(count)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, asyncio.Event):
            try:
                await asyncio.wait_for(step.wait(), time_limit)
            except TimeoutError:
                raise UpstreamError("hung", retryable=True) from None
            return ["Late fact."]
        if isinstance(step, BaseException):
            raise step
        return list(step)


class Backup(Scripted):
    name: ClassVar[str] = "backup"


def batch(size: int, start: int = 0) -> list[str]:
    return [f"Fact {n}." for n in range(start, start + size)]


def make_client(
    clock: FakeClock, *providers: Provider, budget: float = 3.0, batch_size: int = 10, **kw: object
) -> CatFactClient:
    return CatFactClient(
        MagicMock(spec=aiohttp.ClientSession),
        providers,
        budget=budget,
        batch_size=batch_size,
        clock=clock,
        sleep=clock.sleep,
        **kw,  # type: ignore[arg-type]
    )


async def settle(client: CatFactClient) -> None:
    """Let a background refill, if any, finish."""
    task = client._refill
    if task is not None:
        await task


RETRYABLE = UpstreamError("503", retryable=True)
FATAL = UpstreamError("400")


# The buffer --------------------------------------------------------------------------------------


async def test_one_request_fills_the_buffer_for_many_commands(clock: FakeClock) -> None:
    provider = Scripted(batch(10))
    client = make_client(clock, provider, batch_size=10, low_water=2)
    first = await client.get_fact()
    assert (first.text, first.source, first.offline) == ("Fact 0.", "scripted", False)
    facts = [(await client.get_fact()).text for _ in range(7)]
    assert facts == batch(7, start=1)
    assert provider.calls == 1
    assert provider.counts == [10]
    assert client.stats.served == {Served.UPSTREAM: 1, Served.BUFFER: 7}
    assert client.buffered == 2


async def test_the_buffer_is_refilled_in_the_background_below_the_low_water_mark(
    clock: FakeClock,
) -> None:
    provider = Scripted(batch(10), batch(10, start=10))
    client = make_client(clock, provider, batch_size=10, low_water=3)
    for _ in range(7):
        await client.get_fact()
    await settle(client)
    assert provider.calls == 1  # 3 left: not below the mark yet
    await client.get_fact()
    await settle(client)
    assert provider.calls == 2
    assert client.buffered == 2 + 10


async def test_prefetch_fills_the_buffer_before_the_first_command(clock: FakeClock) -> None:
    provider = Scripted(batch(10))
    client = make_client(clock, provider)
    refill = client.prefetch()
    assert refill is not None
    assert await refill is True
    assert client.buffered == 10
    assert (await client.get_fact()).text == "Fact 0."
    assert client.stats.served == {Served.BUFFER: 1}


async def test_the_default_low_water_mark_is_a_quarter_batch(clock: FakeClock) -> None:
    assert make_client(clock, Scripted(batch(1)), batch_size=40).low_water == 10
    assert make_client(clock, Scripted(batch(1)), batch_size=2).low_water == 1


async def test_facts_already_buffered_are_not_buffered_twice(clock: FakeClock) -> None:
    provider = Scripted(["A", "B", "A"], ["B", "C"])
    client = make_client(clock, provider, low_water=0)
    assert await refilled(client) is True
    assert client.buffered == 2
    assert await refilled(client) is True  # "C" is new, "B" is not
    assert client.buffered == 3


async def test_a_batch_of_nothing_new_counts_as_no_progress(clock: FakeClock) -> None:
    client = make_client(clock, Scripted(["A"]), low_water=0)
    assert await refilled(client) is True
    assert await refilled(client) is False


# Single flight -----------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 7, 50])
async def test_a_burst_on_a_cold_buffer_shares_refills(clock: FakeClock, batch_size: int) -> None:
    served = 0

    class Counting(Scripted):
        async def fetch(
            self, session: aiohttp.ClientSession, count: int, time_limit: float
        ) -> list[str]:
            nonlocal served
            self.calls += 1
            await asyncio.sleep(0)  # let every caller pile up on the same refill
            facts = batch(count, start=served)
            served += count
            return facts

    provider = Counting(batch(1))
    client = make_client(clock, provider, batch_size=batch_size)
    burst = 300
    facts = await asyncio.gather(*(client.get_fact(channel=n % 5) for n in range(burst)))
    assert all(not fact.offline for fact in facts)
    assert len({fact.text for fact in facts}) == burst
    assert provider.calls <= math.ceil(burst / batch_size) + 2


# Variety -----------------------------------------------------------------------------------------


async def test_a_channel_never_gets_the_same_fact_twice_in_a_row(clock: FakeClock) -> None:
    client = make_client(clock, Scripted(["A", "A", "B"], ["A"]), low_water=0)
    await refilled(client)
    assert (await client.get_fact(channel=1)).text == "A"
    assert (await client.get_fact(channel=1)).text == "B"  # skips the second "A"
    assert (await client.get_fact(channel=2)).text == "A"  # another channel may have it


async def test_when_only_the_last_fact_is_available_an_offline_one_is_told(
    clock: FakeClock,
) -> None:
    provider = Scripted(["A"])
    client = make_client(clock, provider, low_water=0)
    assert (await client.get_fact(channel=1)).text == "A"
    fact = await client.get_fact(channel=1)
    assert fact.offline
    assert provider.calls == 3  # it asked twice more for something new, then gave up


@settings(max_examples=30, deadline=None)
@given(channels=st.lists(st.integers(0, 4), min_size=1, max_size=60))
def test_no_channel_ever_sees_a_repeat(channels: list[int]) -> None:
    async def scenario() -> None:
        clock = FakeClock()
        client = make_client(clock, Scripted(["A", "B", "C"], ["C", "A"], ["B"]), batch_size=3)
        last: dict[int, str] = {}
        for channel in channels:
            fact = await client.get_fact(channel=channel)
            assert fact.text != last.get(channel)
            last[channel] = fact.text
        await client.aclose()

    asyncio.run(scenario())


async def test_channel_memory_is_bounded(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.catfact, "MAX_CHANNELS", 3)
    client = make_client(clock, Scripted(["A", "B"]), low_water=0)
    await client.get_fact(channel="x")
    for channel in ("a", "b", "c"):
        await client.get_fact(channel=channel)
    assert list(client._last_in_channel) == ["a", "b", "c"]  # "x", the oldest, is forgotten
    await client.get_fact(channel="a")
    assert list(client._last_in_channel) == ["b", "c", "a"]  # "a" is now the most recent


# Retries -----------------------------------------------------------------------------------------


async def test_retryable_failures_are_retried_with_jittered_backoff(clock: FakeClock) -> None:
    provider = Scripted(RETRYABLE, RETRYABLE, batch(5))
    client = make_client(clock, provider)
    fact = await client.get_fact()
    assert not fact.offline
    assert provider.calls == 3
    assert len(clock.slept) == 2
    assert all(0 <= pause <= BACKOFF_MAX for pause in clock.slept)
    assert client.stats.requests == 3
    assert client.stats.failures == 2


async def test_retries_stop_after_the_attempt_limit(clock: FakeClock) -> None:
    provider = Scripted(RETRYABLE)
    client = make_client(clock, provider)
    assert (await client.get_fact()).offline
    assert provider.calls == MAX_ATTEMPTS


async def test_other_failures_are_not_retried(clock: FakeClock) -> None:
    provider = Scripted(FATAL)
    client = make_client(clock, provider)
    assert (await client.get_fact()).offline
    assert provider.calls == 1
    assert clock.slept == []


async def test_retry_after_is_honoured_when_it_fits_the_budget(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    provider = Scripted(
        UpstreamError("429 Too Many Requests", retryable=True, retry_after=1.5), batch(5)
    )
    client = make_client(clock, provider, budget=3.0)
    with caplog.at_level(logging.INFO, logger="bot.catfact"):
        assert not (await client.get_fact()).offline
    assert clock.slept == [1.5]
    # The operator sees why the answer was slow: the wait and the error that caused it.
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "retrying in 1.50 s after: 429 Too Many Requests"
    ]


async def test_retry_after_beyond_the_budget_fails_over_and_pauses_the_provider(
    clock: FakeClock,
) -> None:
    slow = Scripted(UpstreamError("429", retryable=True, retry_after=60), batch(5))
    backup = Backup(batch(1, start=100))
    client = make_client(clock, slow, backup, budget=3.0)
    assert (await client.get_fact()).source == "backup"
    assert (slow.calls, clock.slept) == (1, [])
    assert client.health() == {"scripted": State.OPEN, "backup": State.CLOSED}
    clock.advance(60)
    await settle(client)
    await client.get_fact()
    await settle(client)
    assert slow.calls == 2  # probed once the server's pause was over


async def test_no_attempt_starts_without_time_to_finish(clock: FakeClock) -> None:
    provider = Scripted(RETRYABLE)
    client = make_client(clock, provider, budget=0.01)
    assert (await client.get_fact()).offline
    assert provider.calls == 0
    assert client.stats.requests == 0


# The budget and the breaker ----------------------------------------------------------------------


async def test_the_budget_holds_even_when_a_provider_overruns_its_time_limit(
    clock: FakeClock,
) -> None:
    class Overrunning(Scripted):
        async def fetch(
            self, session: aiohttp.ClientSession, count: int, time_limit: float
        ) -> list[str]:
            self.calls += 1
            await never.wait()  # ignores time_limit, as a buggy provider or resolver might
            return ["Too late."]  # pragma: no cover - never released

    never = asyncio.Event()
    client = make_client(clock, Overrunning(batch(1)), budget=0.2)
    started = clock()
    fact = await asyncio.wait_for(client.get_fact(), 2)  # the guard only stops a broken client
    assert fact.offline
    assert clock() - started < 0.2 + 0.5  # the budget, plus scheduling slack
    await client.aclose()


async def test_a_hanging_provider_costs_at_most_the_budget(clock: FakeClock) -> None:
    never = asyncio.Event()
    provider = Scripted(never)
    client = make_client(clock, provider, budget=0.2)
    started = clock()
    fact = await client.get_fact()
    assert fact.offline
    assert provider.calls == 1  # a hang leaves no time for a retry
    assert clock() - started < 0.2 + 0.5  # the budget, plus scheduling slack
    await client.aclose()


async def test_the_breaker_opens_and_then_answers_at_once(clock: FakeClock) -> None:
    provider = Scripted(FATAL)
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    client = make_client(clock, provider, breakers=[breaker])
    await client.get_fact()
    await client.get_fact()
    assert client.health() == {"scripted": State.OPEN}
    calls = provider.calls
    for _ in range(5):
        assert (await client.get_fact()).offline
    assert provider.calls == calls  # not called while open
    assert client.stats.served[Served.FALLBACK] == 7


async def test_the_breaker_probes_after_the_cooldown_and_recovers(clock: FakeClock) -> None:
    provider = Scripted(FATAL, FATAL, batch(10))
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    client = make_client(clock, provider, breakers=[breaker])
    await client.get_fact()
    await client.get_fact()
    clock.advance(30)
    assert client.health() == {"scripted": State.HALF_OPEN}
    fact = await client.get_fact()
    assert not fact.offline
    assert client.health() == {"scripted": State.CLOSED}


# Failover and the offline collection -------------------------------------------------------------


async def test_failover_to_the_next_provider(clock: FakeClock) -> None:
    first, second = Scripted(FATAL), Backup(["From the backup."])
    client = make_client(clock, first, second)
    fact = await client.get_fact()
    assert (fact.text, fact.source) == ("From the backup.", "backup")
    assert (first.calls, second.calls) == (1, 1)


async def test_an_open_provider_is_skipped_straight_to_the_next(clock: FakeClock) -> None:
    first, second = Scripted(FATAL), Backup(batch(1))
    breakers = [CircuitBreaker(threshold=1, clock=clock), CircuitBreaker(clock=clock)]
    client = make_client(clock, first, second, breakers=breakers)
    await client.get_fact()
    await client.get_fact()
    assert (first.calls, second.calls) == (1, 2)


async def test_the_budget_is_shared_between_providers(clock: FakeClock) -> None:
    never = asyncio.Event()
    first, second = Scripted(never), Backup(["Saved."])
    client = make_client(clock, first, second, budget=0.2)
    fact = await client.get_fact()
    assert fact.text == "Saved."  # the hang used only its share
    await client.aclose()


async def test_when_every_provider_fails_the_offline_fact_is_marked(clock: FakeClock) -> None:
    client = make_client(clock, Scripted(FATAL), Backup(RETRYABLE))
    fact = await client.get_fact()
    assert fact.offline
    assert fact.source == OFFLINE
    assert fact.text in OFFLINE_FACTS


async def test_with_no_providers_every_fact_is_offline_and_instant(clock: FakeClock) -> None:
    client = make_client(clock)
    facts = [await client.get_fact(channel=1) for _ in range(20)]
    assert all(fact.offline for fact in facts)
    assert all(a.text != b.text for a, b in itertools.pairwise(facts))
    assert client.prefetch() is None


async def test_a_bug_in_a_provider_is_logged_and_does_not_reach_the_user(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(clock, Scripted(RuntimeError("bug")), Backup(["Fine."]))
    with caplog.at_level(logging.ERROR):
        assert (await client.get_fact()).text == "Fine."
    assert "failed unexpectedly" in caplog.text


async def test_after_a_failed_refill_no_background_refill_starts_at_once(clock: FakeClock) -> None:
    provider = Scripted(FATAL)
    client = make_client(clock, provider)
    await client.get_fact()
    assert client._refill is not None
    assert client._refill.done()


# Life cycle --------------------------------------------------------------------------------------


async def test_aclose_stops_a_refill_in_flight(clock: FakeClock) -> None:
    never = asyncio.Event()
    client = make_client(clock, Scripted(never), budget=60)
    refill = client.prefetch()
    assert refill is not None
    await asyncio.sleep(0)
    await client.aclose()
    assert refill.cancelled()
    await client.aclose()  # twice is fine


def test_one_breaker_per_provider(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="one breaker per provider"):
        make_client(clock, Scripted(batch(1)), breakers=[])


# Found in review: concurrency, budget edges and shutdown -----------------------------------------


async def test_two_commands_at_once_in_one_channel_get_different_facts(clock: FakeClock) -> None:
    client = make_client(clock, Scripted(["A"]), low_water=0)
    first, second = await asyncio.gather(client.get_fact(channel=1), client.get_fact(channel=1))
    assert first.text != second.text


async def test_concurrent_offline_answers_in_one_channel_differ(clock: FakeClock) -> None:
    for _ in range(50):
        client = make_client(clock, Scripted(FATAL))
        pair = await asyncio.gather(client.get_fact(channel=1), client.get_fact(channel=1))
        assert all(fact.offline for fact in pair)
        assert pair[0].text != pair[1].text


async def test_a_provider_there_is_no_time_for_is_skipped_not_blamed(clock: FakeClock) -> None:
    first, second = Scripted(batch(1)), Backup(["From the backup."])
    client = make_client(clock, first, second, budget=0.08)  # half of it is under a try's minimum
    assert (await client.get_fact()).text == "From the backup."
    assert first.calls == 0
    assert client.breakers[0].failures == 0


async def test_a_cancelled_probe_is_released(clock: FakeClock) -> None:
    never = asyncio.Event()
    breaker = CircuitBreaker(threshold=1, cooldown=30, clock=clock)
    client = make_client(clock, Scripted(FATAL, never), breakers=[breaker], budget=60)
    await client.get_fact()
    clock.advance(30)
    probe = client.prefetch()
    assert probe is not None
    await asyncio.sleep(0)
    assert not breaker.available()  # the probe is out
    await client.aclose()
    assert breaker.available()  # and it was handed back, not lost


async def test_a_command_cancelled_while_the_client_closes_stays_cancelled(
    clock: FakeClock,
) -> None:
    client = make_client(clock, Scripted(asyncio.Event()), budget=60)
    waiting = asyncio.create_task(client.get_fact(channel=1))
    await asyncio.sleep(0)  # the command starts a refill and waits on it
    closing = asyncio.create_task(client.aclose())
    await asyncio.sleep(0)  # the client cancels the refill; the refill has not ended yet
    waiting.cancel()  # and the command is cancelled too, e.g. by a shutdown or a timeout
    with pytest.raises(asyncio.CancelledError):
        await waiting  # the cancellation reaches the caller, not an offline fact
    await closing


async def test_offline_facts_never_repeat_in_a_channel(clock: FakeClock) -> None:
    client = make_client(clock, rng=random.Random(0))  # noqa: S311  # a fixed, repeatable draw
    told = [(await client.get_fact(channel="general")).text for _ in range(200)]
    assert all(a != b for a, b in itertools.pairwise(told))


async def test_after_aclose_no_refill_starts(clock: FakeClock) -> None:
    provider = Scripted(batch(10))
    client = make_client(clock, provider)
    await client.aclose()
    assert client.prefetch() is None
    assert (await client.get_fact()).offline
    assert provider.calls == 0


async def test_a_command_waiting_when_the_client_closes_gets_an_offline_fact(
    clock: FakeClock,
) -> None:
    client = make_client(clock, Scripted(asyncio.Event()), budget=60)
    waiting = asyncio.create_task(client.get_fact(channel=1))
    await asyncio.sleep(0.01)
    await client.aclose()
    assert (await waiting).offline


async def test_a_provider_with_nothing_new_hands_over_to_the_next(clock: FakeClock) -> None:
    client = make_client(clock, Scripted(["A"]), Backup(["B"]), low_water=0)
    assert await refilled(client) is True
    assert await refilled(client) is True  # meowfacts had nothing new; the backup had
    assert [(await client.get_fact()).text for _ in range(2)] == ["A", "B"]
