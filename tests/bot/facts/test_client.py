"""The cat-fact client's strategy: the pool, the first fill, refreshes, retries, breakers,
failover, the budget and the offline collection.

Two kinds of upstream play here. Where the question is how the client survives the network
(retries, ``Retry-After``, hangs, failover), the real HTTP path runs against the local fakes
(:class:`~fakes.FakeMeowfacts`). Where it is about waiting, order and time (a burst on a cold
start, a provider that ignores its time limit), a :class:`Scripted` provider answers without any
I/O. Either way the event loop is fast-forwarded (``conftest.py``), so every duration asserted
below is loop time: exact, and the same on any machine.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import aiohttp
import pytest
import pytest_asyncio

from bot.facts.breaker import CircuitBreaker, State
from bot.facts.client import (
    BACKOFF_BASE,
    MAX_ATTEMPTS,
    REFRESH_JITTER,
    RETRY_INTERVAL,
    CatFactClient,
    Served,
)
from bot.facts.languages import ENGLISH
from bot.facts.offline import FACTS as OFFLINE_FACTS
from bot.facts.pool import OFFLINE
from bot.facts.providers import CatFactNinja, JsonGetter, Meowfacts, Provider, UpstreamError
from fakes import FACTS, GERMAN_FACTS, NINJA_FACTS, FakeCatfactNinja, FakeMeowfacts


class Hang:
    """A scripted step that never answers, whatever time limit it was meant to keep."""


Step = list[str] | BaseException | Hang | float
"""One scripted answer: facts, an error to raise, a hang, or seconds to take before answering."""


class Scripted(Provider):
    """A provider that answers from a script without any I/O; the last step repeats. A language
    may have a script of its own in :attr:`scripts`; the others share :attr:`script`."""

    name: ClassVar[str] = "scripted"

    def __init__(self, *script: Step) -> None:
        super().__init__("http://scripted.invalid/")
        self.script = list(script)
        self.scripts: dict[str, list[Step]] = {}
        self.calls = 0
        self.asked: list[str] = []
        """The language of each call."""

    async def collect(self, get: JsonGetter, language: str) -> list[str]:
        self.calls += 1
        self.asked.append(language)
        script = self.scripts.get(language, self.script)
        step = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(step, Hang):
            await asyncio.Event().wait()
        if isinstance(step, float):
            await asyncio.sleep(step)
            return facts(10)
        if isinstance(step, BaseException):
            raise step
        assert isinstance(step, list)
        return list(step)


class Backup(Scripted):
    name: ClassVar[str] = "backup"


GERMAN = "ger-de"
FRENCH = "fra-fr"


class Polyglot(Scripted):
    """A scripted provider with facts in English, German and French."""

    name: ClassVar[str] = "polyglot"
    languages: ClassVar[frozenset[str]] = frozenset({ENGLISH.code, GERMAN, FRENCH})


class PolyglotBackup(Polyglot):
    name: ClassVar[str] = "polyglot-backup"


def facts(size: int, start: int = 0) -> list[str]:
    return [f"Fact {n}." for n in range(start, start + size)]


RETRYABLE = UpstreamError("503", retryable=True)
FATAL = UpstreamError("400")


def now() -> float:
    return asyncio.get_running_loop().time()


async def until(condition: Callable[[], bool], step: float = 10.0) -> None:
    """Let loop time pass, ``step`` seconds at a time, until ``condition`` holds (at most a day)."""
    for _ in range(int(86_400 / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError("the condition never held")


@pytest_asyncio.fixture
async def clients(session: aiohttp.ClientSession) -> AsyncIterator[Callable[..., CatFactClient]]:
    """Builds clients on the test's session, seeded for repeatable orders; closes them all."""
    made: list[CatFactClient] = []

    def make(*providers: Provider, budget: float = 3.0, **options: Any) -> CatFactClient:
        options.setdefault("rng", random.Random(0))  # noqa: S311
        client = CatFactClient(session, providers, budget=budget, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


Make = Callable[..., CatFactClient]


async def started(make: Make, meowfacts: FakeMeowfacts, **options: Any) -> CatFactClient:
    """A client on the fake meowfacts, started as the bot starts it, its first fill landed."""
    client = make(Meowfacts(meowfacts.url), **options)
    client.start()
    assert await client.refresh() is True  # joins the first fill
    return client


# The pool -------------------------------------------------------------------------------------


async def test_one_request_brings_the_whole_collection(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url))
    assert await client.refresh() is True
    assert (client.ready, client.source) == (len(FACTS), "meowfacts")
    assert meowfacts.requests == 1


async def test_after_the_first_fill_no_command_touches_the_network(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url))
    await client.refresh()
    started = now()
    told = [await client.get_fact(channel=n % 7) for n in range(2000)]
    assert all(not fact.offline for fact in told)
    assert meowfacts.requests == 1
    assert now() == started  # not one wait, not even a timer
    assert client.stats.served == {Served.POOL: 2000}


async def test_a_channel_hears_the_whole_collection_before_any_fact_again(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url))
    await client.refresh()
    told = [(await client.get_fact(channel="general")).text for _ in range(3 * len(FACTS))]
    for start in range(0, len(told), len(FACTS)):
        assert sorted(told[start : start + len(FACTS)]) == sorted(FACTS)
    assert all(a != b for a, b in itertools.pairwise(told))


async def test_a_refresh_with_the_same_facts_keeps_each_channel_s_place(
    clients: Make, meowfacts: FakeMeowfacts, caplog: pytest.LogCaptureFixture
) -> None:
    client = clients(Meowfacts(meowfacts.url))
    await client.refresh()
    before = [(await client.get_fact(channel=1)).text for _ in range(40)]
    with caplog.at_level(logging.DEBUG, logger="bot.facts.client"):
        assert await client.refresh() is True  # in a new order, as meowfacts answers
    assert caplog.messages == ["the 91 facts from meowfacts are unchanged"]
    after = [(await client.get_fact(channel=1)).text for _ in range(len(FACTS) - 40)]
    assert sorted(before + after) == sorted(FACTS)  # still one round: nothing repeated


async def test_a_refresh_with_other_facts_serves_them_from_then_on(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url))
    await client.refresh()
    meowfacts.collection = facts(5)
    assert await client.refresh() is True
    told = {(await client.get_fact(channel=1)).text for _ in range(5)}
    assert told == set(facts(5))


async def test_the_collection_is_refreshed_every_interval(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url), refresh_interval=3600)
    client.start()
    client.start()  # a second start changes nothing
    await client.refresh()  # joins the first fill
    assert meowfacts.requests == 1
    await asyncio.sleep(3600 * (1 + REFRESH_JITTER))
    assert meowfacts.requests == 2
    await asyncio.sleep(3600 * (1 + REFRESH_JITTER))
    assert meowfacts.requests == 3


async def test_refreshes_are_spread_around_the_interval(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url), refresh_interval=1000)
    client.start()
    await asyncio.sleep(10_000)
    gaps = [b - a for a, b in itertools.pairwise(meowfacts.times)]
    assert all(900 <= gap <= 1100 for gap in gaps)
    assert len(set(gaps)) > 1  # jittered, so processes started together drift apart


async def test_a_failed_refresh_keeps_the_pool_and_tries_again_sooner(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = await started(clients, meowfacts, refresh_interval=3600)
    healthy = meowfacts.handler
    meowfacts.handler = meowfacts.body("down", status=503)
    await until(lambda: meowfacts.requests > 1)  # the hourly refresh...
    await asyncio.sleep(10)  # (its retries take a fraction of a second)
    assert meowfacts.requests == 1 + MAX_ATTEMPTS  # ...was tried, and failed
    fact = await client.get_fact(channel=1)
    assert (fact.offline, client.ready) == (False, len(FACTS))  # stale beats offline
    meowfacts.handler = healthy
    await asyncio.sleep(RETRY_INTERVAL * (1 + REFRESH_JITTER))
    assert meowfacts.requests == 2 + MAX_ATTEMPTS  # a minute later, not an hour
    assert client.stats.fills == 2


async def test_refreshes_that_keep_failing_are_spaced_out_up_to_the_interval(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = await started(clients, meowfacts, refresh_interval=3600)
    meowfacts.handler = meowfacts.body("Invalid", status=400)  # one request per failed refresh
    await asyncio.sleep(12 * 3600)
    gaps = [b - a for a, b in itertools.pairwise(meowfacts.times[1:])]
    expected = [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert len(gaps) >= len(expected)
    for gap, nominal in zip(gaps, expected, strict=False):
        assert nominal * (1 - REFRESH_JITTER) <= gap <= nominal * (1 + REFRESH_JITTER)
    assert client.ready == len(FACTS)  # and the facts stayed all along


async def test_without_any_collection_yet_it_tries_again_within_a_minute(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    healthy = meowfacts.handler
    meowfacts.handler = meowfacts.body("Invalid", status=400)
    client = clients(Meowfacts(meowfacts.url))
    client.start()
    await asyncio.sleep(1)
    assert client.ready == 0
    meowfacts.handler = healthy
    await asyncio.sleep(RETRY_INTERVAL * (1 + REFRESH_JITTER))
    assert client.ready == len(FACTS)


# A cold start ---------------------------------------------------------------------------------


async def test_commands_before_the_first_fill_share_it_and_are_answered_in_arrival_order(
    clients: Make,
) -> None:
    provider = Scripted(0.5)  # the fill takes half a second
    client = clients(provider)
    answered: list[int] = []

    async def command(n: int) -> bool:
        fact = await client.get_fact(channel=n % 5)
        answered.append(n)
        return fact.offline

    offline = await asyncio.gather(*(command(n) for n in range(1000)))
    assert not any(offline)
    assert answered == list(range(1000))
    assert provider.calls == 1
    assert client.stats.served == {Served.WAITED: 1000}


async def test_a_burst_costs_work_in_proportion_to_its_size(clients: Make) -> None:
    # Work is counted, not timed: every callback the event loop is asked to run, and every
    # function called (Python's and the built-ins'). A burst of n waiters on a cold start must
    # cost about n of each (each waiter is woken once and takes a fact once), never n * n.
    loop = asyncio.get_running_loop()

    async def work_for(burst: int) -> tuple[int, int]:
        client = clients(Scripted(0.5))
        callbacks = calls = 0
        original = loop.call_soon

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal callbacks
            callbacks += 1
            return original(*args, **kwargs)

        def profile(frame: object, event: str, arg: object) -> None:
            nonlocal calls
            calls += event in ("call", "c_call")

        loop.call_soon = counting  # type: ignore[method-assign,assignment]
        sys.setprofile(profile)
        try:
            await asyncio.gather(*(client.get_fact(channel=n) for n in range(burst)))
        finally:
            sys.setprofile(None)
            del loop.call_soon
        return callbacks, calls

    small, large = await work_for(100), await work_for(1000)
    assert large[0] < 12 * small[0]  # callbacks: ten times the waiters, about ten times the work
    assert large[1] < 12 * small[1]  # function calls: the same


async def test_a_command_waits_no_longer_than_its_budget(clients: Make) -> None:
    client = clients(Scripted(Hang()), budget=0.5)
    started = now()
    fact = await client.get_fact(channel=1)
    assert fact.offline
    assert now() - started == pytest.approx(0.5)


async def test_a_command_that_arrives_late_in_a_fill_gets_its_fact(clients: Make) -> None:
    client = clients(Scripted(2.5), budget=3.0)
    client.start()
    await asyncio.sleep(2.0)
    started = now()
    fact = await client.get_fact(channel=1)
    assert not fact.offline
    assert now() - started == pytest.approx(0.5)


async def test_the_fill_holds_its_budget_even_when_a_provider_does_not(clients: Make) -> None:
    client = clients(Scripted(Hang()), Backup(facts(3)), budget=1.0)
    started = now()
    assert await client.refresh() is True
    assert client.source == "backup"
    assert now() - started <= 1.0  # the hang was cut at its half of the budget
    assert client.breakers[0].failures == 1


# Retries, over real HTTP ----------------------------------------------------------------------


async def test_retryable_failures_are_retried_with_jittered_backoff(
    clients: Make, meowfacts: FakeMeowfacts, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = meowfacts.handler
    down = meowfacts.body("down", status=503)
    meowfacts.handler = meowfacts.sequence(down, down, healthy)
    client = clients(Meowfacts(meowfacts.url))
    started = now()
    with caplog.at_level(logging.INFO, logger="bot.facts.client"):
        assert not (await client.get_fact()).offline
    assert meowfacts.requests == 3
    assert (client.stats.requests, client.stats.failures) == (3, 2)
    # Full jitter: the n-th retry waits up to BACKOFF_BASE * 2 ** (n - 1).
    assert 0 < now() - started <= BACKOFF_BASE * (1 + 2)
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert [message.split(" after: ")[1] for message in retries] == [
        "127.0.0.1 answered HTTP 503"
    ] * 2


async def test_retries_stop_after_the_attempt_limit(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.body("down", status=500)
    client = clients(Meowfacts(meowfacts.url))
    assert (await client.get_fact()).offline
    assert meowfacts.requests == MAX_ATTEMPTS


async def test_other_failures_are_not_retried(clients: Make, meowfacts: FakeMeowfacts) -> None:
    meowfacts.handler = meowfacts.body("Invalid language", status=400)
    client = clients(Meowfacts(meowfacts.url))
    started = now()
    assert (await client.get_fact()).offline
    assert meowfacts.requests == 1
    assert now() == started


async def test_retry_after_is_honoured_when_it_fits_the_budget(
    clients: Make, meowfacts: FakeMeowfacts, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = meowfacts.handler
    limited = meowfacts.body("slow down", status=429, headers={"Retry-After": "2"})
    meowfacts.handler = meowfacts.sequence(limited, healthy)
    client = clients(Meowfacts(meowfacts.url), budget=3.0)
    started = now()
    with caplog.at_level(logging.INFO, logger="bot.facts.client"):
        assert not (await client.get_fact()).offline
    assert now() - started == pytest.approx(2.0)
    # The operator sees why the answer was slow: the wait and the error that caused it.
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "retrying in 2.00 s after: 127.0.0.1 answered HTTP 429",
        "serving 91 facts from meowfacts",
    ]


async def test_retry_after_beyond_the_budget_fails_over_and_pauses_the_provider(
    clients: Make, meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    healthy = meowfacts.handler
    limited = meowfacts.body("slow down", status=429, headers={"Retry-After": "60"})
    meowfacts.handler = meowfacts.sequence(limited, healthy)
    client = clients(Meowfacts(meowfacts.url), CatFactNinja(ninja.url), budget=3.0)
    started = now()
    assert (await client.get_fact()).source == "catfact.ninja"
    assert now() == started  # no waiting on a wait that does not fit
    assert meowfacts.requests == 1
    assert client.health() == {"meowfacts": State.OPEN, "catfact.ninja": State.CLOSED}
    await asyncio.sleep(59)
    assert await client.refresh() is True
    assert meowfacts.requests == 1  # still paused: the backup answered again
    await asyncio.sleep(1)
    assert await client.refresh() is True
    assert (meowfacts.requests, client.source) == (2, "meowfacts")  # probed once it was over


async def test_no_request_starts_without_time_to_finish(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url), budget=0.01)
    assert (await client.get_fact()).offline
    assert (meowfacts.requests, client.stats.requests) == (0, 0)


async def test_a_hang_costs_one_request_and_the_budget(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.hang()
    client = clients(Meowfacts(meowfacts.url), budget=0.5)
    started = now()
    assert (await client.get_fact()).offline
    assert now() - started == pytest.approx(0.5)
    assert meowfacts.requests == 1  # a hang leaves no time for a retry


# The breaker and failover ---------------------------------------------------------------------


async def test_the_breaker_opens_and_then_answers_at_once(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.body("Invalid", status=400)
    breaker = CircuitBreaker(threshold=2, cooldown=30)
    client = clients(Meowfacts(meowfacts.url), breakers=[breaker])
    await client.get_fact()
    await client.get_fact()
    assert client.health() == {"meowfacts": State.OPEN}
    started = now()
    for _ in range(5):
        assert (await client.get_fact()).offline
    assert meowfacts.requests == 2  # not called while open
    assert now() == started
    assert client.stats.served[Served.OFFLINE] == 7


async def test_the_breaker_probes_after_the_cooldown_and_recovers(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    healthy = meowfacts.handler
    meowfacts.handler = meowfacts.body("Invalid", status=400)
    breaker = CircuitBreaker(threshold=2, cooldown=30)
    client = clients(Meowfacts(meowfacts.url), breakers=[breaker])
    await client.get_fact()
    await client.get_fact()
    await asyncio.sleep(29.9)
    assert client.health() == {"meowfacts": State.OPEN}
    await asyncio.sleep(0.1)
    assert client.health() == {"meowfacts": State.HALF_OPEN}
    meowfacts.handler = healthy
    assert not (await client.get_fact()).offline
    assert client.health() == {"meowfacts": State.CLOSED}


async def test_failover_to_the_next_provider(
    clients: Make, meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    meowfacts.handler = meowfacts.body("Invalid", status=400)
    client = clients(Meowfacts(meowfacts.url), CatFactNinja(ninja.url))
    fact = await client.get_fact()
    assert (fact.source, fact.text in NINJA_FACTS) == ("catfact.ninja", True)
    assert client.ready == len(NINJA_FACTS)
    assert (meowfacts.requests, ninja.requests) == (1, 3)  # one refusal, three pages


async def test_an_open_provider_is_skipped_straight_to_the_next(clients: Make) -> None:
    first, second = Scripted(FATAL), Backup(facts(1))
    client = clients(first, second, breakers=[CircuitBreaker(threshold=1), CircuitBreaker()])
    await client.refresh()
    await client.refresh()
    assert (first.calls, second.calls) == (1, 2)


async def test_the_budget_is_shared_between_providers(
    clients: Make, meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    meowfacts.handler = meowfacts.hang()
    client = clients(Meowfacts(meowfacts.url), CatFactNinja(ninja.url), budget=1.0)
    started = now()
    fact = await client.get_fact()
    assert fact.source == "catfact.ninja"  # the hang used only its half
    assert now() - started == pytest.approx(0.5)


async def test_a_provider_there_is_no_time_for_is_skipped_not_blamed(clients: Make) -> None:
    first, second = Scripted(facts(1)), Backup(["From the backup."])
    client = clients(first, second, budget=0.08)  # half of it is under a try's minimum
    assert (await client.get_fact()).text == "From the backup."
    assert first.calls == 0
    assert client.breakers[0].failures == 0


async def test_when_every_provider_fails_the_offline_fact_is_marked(clients: Make) -> None:
    client = clients(Scripted(FATAL), Backup(RETRYABLE))
    fact = await client.get_fact()
    assert (fact.offline, fact.source) == (True, OFFLINE)
    assert fact.text in OFFLINE_FACTS


async def test_with_no_providers_every_fact_is_offline_instant_and_not_repeated(
    clients: Make,
) -> None:
    client = clients()
    started = now()
    told = [await client.get_fact(channel=1) for _ in range(len(OFFLINE_FACTS))]
    assert all(fact.offline for fact in told)
    assert len({fact.text for fact in told}) == len(OFFLINE_FACTS)
    assert now() == started
    assert await client.refresh() is False


async def test_a_provider_that_brings_nothing_counts_as_failed(clients: Make) -> None:
    client = clients(Scripted([]), Backup(["B"]))
    assert (await client.get_fact()).text == "B"
    assert client.breakers[0].failures == 1


async def test_a_bug_in_the_fill_itself_is_logged_and_answered_offline(
    clients: Make, caplog: pytest.LogCaptureFixture
) -> None:
    # A provider whose answer the pool cannot even sort (a str and an int) breaks the fill
    # itself, past the provider's own error handling.
    client = clients(Scripted(["b", 1]))  # type: ignore[list-item]
    with caplog.at_level(logging.ERROR):
        assert (await client.get_fact()).offline
        assert await client.refresh() is False
    assert "filling the fact pool failed unexpectedly" in caplog.text


async def test_a_bug_in_a_provider_is_logged_and_does_not_reach_the_user(
    clients: Make, caplog: pytest.LogCaptureFixture
) -> None:
    client = clients(Scripted(RuntimeError("bug")), Backup(["Fine."]))
    with caplog.at_level(logging.ERROR):
        assert (await client.get_fact()).text == "Fine."
    assert "failed unexpectedly" in caplog.text


async def test_a_provider_with_nothing_usable_hands_over_to_the_next(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    meowfacts.handler = meowfacts.json({"data": [None, " "]})
    client = clients(Meowfacts(meowfacts.url), Backup(["B"]))
    assert (await client.get_fact()).text == "B"


# Languages ------------------------------------------------------------------------------------


def asked_in(meowfacts: FakeMeowfacts, language: str) -> list[float]:
    """When the fake meowfacts was asked for ``language``'s collection."""
    pairs = zip(meowfacts.queries, meowfacts.times, strict=True)
    return [time for query, time in pairs if f"lang={language}&" in query]


async def test_a_german_request_gets_german_facts_from_meowfacts(
    clients: Make, meowfacts: FakeMeowfacts, caplog: pytest.LogCaptureFixture
) -> None:
    meowfacts.languages[GERMAN] = [*GERMAN_FACTS, *GERMAN_FACTS[:6]]  # as meowfacts lists them
    client = await started(clients, meowfacts)
    with caplog.at_level(logging.INFO, logger="bot.facts.client"):
        fact = await client.get_fact(channel=1, language=GERMAN)
    assert (fact.text in GERMAN_FACTS, fact.source, fact.offline) == (True, "meowfacts", False)
    assert meowfacts.queries == [
        f"/?lang=eng-us&count={Meowfacts.WHOLE_COLLECTION}",
        f"/?lang=ger-de&count={Meowfacts.WHOLE_COLLECTION}",
    ]
    assert caplog.messages == [f"serving {len(GERMAN_FACTS)} facts from meowfacts in ger-de"]
    assert client.languages() == {ENGLISH.code: len(FACTS), GERMAN: len(GERMAN_FACTS)}
    assert (client.ready, client.source) == (len(FACTS), "meowfacts")  # English, as before


async def test_a_second_language_s_cold_start_waits_once_then_serves_from_memory(
    clients: Make,
) -> None:
    provider = Polyglot(facts(5))
    provider.scripts[GERMAN] = [0.5]  # the German fill takes half a second
    client = clients(provider)
    client.start()
    assert await client.refresh() is True  # English is in memory
    answered: list[int] = []

    async def command(n: int) -> bool:
        fact = await client.get_fact(channel=n % 5, language=GERMAN)
        answered.append(n)
        return fact.offline

    started = now()
    burst = asyncio.gather(*(command(n) for n in range(100)))
    await asyncio.sleep(0.1)
    assert (await client.get_fact(channel=1)).text in facts(5)  # English does not wait
    assert now() - started == pytest.approx(0.1)
    assert client.languages() == {ENGLISH.code: 5, GERMAN: 0}
    assert not client.offline  # which speaks of English
    assert not any(await burst)
    assert answered == list(range(100))  # in arrival order
    assert now() - started == pytest.approx(0.5)
    assert provider.asked == [ENGLISH.code, GERMAN]  # one German fill for the whole burst
    later = now()
    assert (await client.get_fact(channel=1, language=GERMAN)).text in facts(10)
    assert (now(), provider.calls) == (later, 2)
    assert client.stats.served == {Served.WAITED: 100, Served.POOL: 2}
    assert client.languages() == {ENGLISH.code: 5, GERMAN: 10}


async def test_a_language_is_refreshed_on_the_same_schedule_from_its_first_request(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = await started(clients, meowfacts, refresh_interval=3600)
    await asyncio.sleep(1000)
    await client.get_fact(language=GERMAN)
    meowfacts.languages[GERMAN] = ["Neu."]
    await asyncio.sleep(4 * 3600)
    times = asked_in(meowfacts, GERMAN)
    assert times[0] == pytest.approx(1000, abs=1)
    assert len(times) >= 4
    assert all(
        3600 * (1 - REFRESH_JITTER) <= b - a <= 3600 * (1 + REFRESH_JITTER)
        for a, b in itertools.pairwise(times)
    )
    assert (await client.get_fact(channel=1, language=GERMAN)).text == "Neu."
    assert len(asked_in(meowfacts, ENGLISH.code)) >= 4  # English keeps its own schedule


async def test_a_language_asked_for_before_the_start_is_kept_fresh_after_it(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = clients(Meowfacts(meowfacts.url), refresh_interval=3600)
    await client.get_fact(language=GERMAN)  # filled on demand, as English is before the start
    await asyncio.sleep(4 * 3600)
    assert len(asked_in(meowfacts, GERMAN)) == 1  # nothing runs in the background yet
    client.start()
    await asyncio.sleep(3600 * (1 + REFRESH_JITTER))
    assert len(asked_in(meowfacts, GERMAN)) == 3  # at the start, and an interval later
    assert len(asked_in(meowfacts, ENGLISH.code)) == 2


async def test_each_language_keeps_each_channel_s_place_of_its_own(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    client = await started(clients, meowfacts)
    english: list[str] = []
    german: list[str] = []
    for n in range(len(GERMAN_FACTS)):  # one channel, the two languages interleaved
        german.append((await client.get_fact(channel=1, language=GERMAN)).text)
        if n < len(FACTS):
            english.append((await client.get_fact(channel=1)).text)
    assert sorted(english) == sorted(FACTS)  # one whole round each: nothing repeated
    assert sorted(german) == sorted(GERMAN_FACTS)


async def test_a_language_catfact_ninja_lacks_is_never_asked_of_it(
    clients: Make, meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    del meowfacts.languages[GERMAN]  # meowfacts answers German with a 400 now
    client = clients(Meowfacts(meowfacts.url), CatFactNinja(ninja.url))
    client.start()
    assert (await client.get_fact(channel=1, language=GERMAN)).offline
    await asyncio.sleep(6 * 3600)
    assert len(asked_in(meowfacts, GERMAN)) > 3  # tried again and again, at meowfacts only
    assert ninja.requests == 0
    assert (await client.get_fact(channel=1)).source == "meowfacts"


async def test_with_meowfacts_down_a_german_request_gets_an_offline_fact_in_english(
    clients: Make, meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    meowfacts.handler = meowfacts.body("<html>Application error</html>", status=503)
    client = clients(Meowfacts(meowfacts.url), CatFactNinja(ninja.url), budget=1.0)
    started = now()
    fact = await client.get_fact(channel=1, language=GERMAN)
    assert (fact.offline, fact.source, fact.text in OFFLINE_FACTS) == (True, OFFLINE, True)
    assert now() - started <= 1.0
    assert (ninja.requests, client.stats.served) == (0, {Served.OFFLINE: 1})
    assert (await client.get_fact(channel=1)).source == "catfact.ninja"  # English has a backup


async def test_a_language_no_provider_serves_gets_english_facts(
    clients: Make, meowfacts: FakeMeowfacts, ninja: FakeCatfactNinja
) -> None:
    client = clients(CatFactNinja(ninja.url), Meowfacts(meowfacts.url))
    for language in ("xx-yy", "ger"):  # not a language, and a short code (never stored)
        fact = await client.get_fact(channel=1, language=language)
        assert (fact.offline, fact.source) == (False, "catfact.ninja")  # English, live
        assert await client.refresh(language) is False
    assert list(client.languages()) == [ENGLISH.code]  # nothing is kept for them
    assert all("lang=xx" not in query and "lang=ger" not in query for query in meowfacts.queries)
    ninja_only = clients(CatFactNinja(ninja.url))
    fact = await ninja_only.get_fact(language=GERMAN)  # catfact.ninja has English facts only
    assert (fact.offline, fact.source) == (False, "catfact.ninja")
    assert not ninja_only.offline


async def test_a_language_keeps_its_provider_whatever_english_does(clients: Make) -> None:
    first, second = Polyglot(FATAL), PolyglotBackup(facts(2))
    first.scripts[GERMAN] = [facts(3, start=100), FATAL]
    client = clients(first, second)
    assert await client.refresh(GERMAN) is True
    assert await client.refresh() is True
    assert client.source == "polyglot-backup"  # English failed over...
    assert (await client.get_fact(language=GERMAN)).source == "polyglot"  # ...German did not
    assert await client.refresh(GERMAN) is False  # the first fails for German now:
    assert second.asked == [ENGLISH.code]  # its facts are kept, not traded for the backup's
    assert (await client.get_fact(language=GERMAN)).text in facts(3, start=100)


async def test_the_breakers_are_shared_by_every_language(
    clients: Make, meowfacts: FakeMeowfacts
) -> None:
    del meowfacts.languages[GERMAN]
    client = clients(Meowfacts(meowfacts.url))
    for _ in range(3):
        assert (await client.get_fact(language=GERMAN)).offline
    assert client.health() == {"meowfacts": State.OPEN}
    assert (await client.get_fact()).offline  # English waits out the cool-down too
    assert meowfacts.requests == 3


async def test_aclose_stops_every_language(clients: Make) -> None:
    provider = Polyglot(facts(3))
    provider.scripts[GERMAN] = [Hang()]
    client = clients(provider, budget=60)
    client.start()
    await client.refresh()
    waiting = asyncio.create_task(client.get_fact(channel=1, language=GERMAN))
    await asyncio.sleep(0.1)
    tasks = [task for task in asyncio.all_tasks() if task.get_name().startswith("catfact-")]
    assert sorted(task.get_name() for task in tasks) == [
        "catfact-fill-ger-de",
        "catfact-refresh-eng-us",
        "catfact-refresh-ger-de",
    ]
    await client.aclose()
    assert all(task.done() for task in tasks)
    assert (await waiting).offline
    client.start()  # a closed client starts nothing again, nor for a language new to it
    assert (await client.get_fact(language=FRENCH)).offline
    assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("catfact-")]
    assert provider.asked == [ENGLISH.code, GERMAN]


# Life cycle -----------------------------------------------------------------------------------


async def test_aclose_stops_the_refreshes_and_a_fill_in_flight(clients: Make) -> None:
    client = clients(Scripted(Hang()), budget=60)
    client.start()
    await asyncio.sleep(0.1)
    await client.aclose()
    await client.aclose()  # twice is fine
    assert await client.refresh() is False  # and nothing starts any more
    assert (await client.get_fact()).offline


async def test_a_refresh_joined_when_the_client_closes_says_nothing_came(clients: Make) -> None:
    client = clients(Scripted(Hang()), budget=60)
    joined = asyncio.create_task(client.refresh())
    await asyncio.sleep(0.01)
    await client.aclose()
    assert await joined is False  # not a CancelledError for a caller nobody cancelled


async def test_a_command_waiting_when_the_client_closes_gets_an_offline_fact(
    clients: Make,
) -> None:
    client = clients(Scripted(Hang()), budget=60)
    waiting = asyncio.create_task(client.get_fact(channel=1))
    await asyncio.sleep(0.01)
    await client.aclose()
    assert (await waiting).offline


async def test_a_command_cancelled_while_the_client_closes_stays_cancelled(
    clients: Make,
) -> None:
    client = clients(Scripted(Hang()), budget=60)
    waiting = asyncio.create_task(client.get_fact(channel=1))
    await asyncio.sleep(0)  # the command starts a fill and waits on it
    closing = asyncio.create_task(client.aclose())
    await asyncio.sleep(0)  # the client cancels the fill; the fill has not ended yet
    waiting.cancel()  # and the command is cancelled too, e.g. by a shutdown or a timeout
    with pytest.raises(asyncio.CancelledError):
        await waiting  # the cancellation reaches the caller, not an offline fact
    await closing


async def test_a_cancelled_probe_is_released(clients: Make) -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=30)
    client = clients(Scripted(FATAL, Hang()), breakers=[breaker], budget=60)
    await client.refresh()
    await asyncio.sleep(30)
    client.start()
    await asyncio.sleep(0.1)
    assert not breaker.available()  # the probe is out
    await client.aclose()
    assert breaker.available()  # and it was handed back, not lost


def test_one_breaker_per_provider(session: aiohttp.ClientSession) -> None:
    with pytest.raises(ValueError, match="one breaker per provider"):
        CatFactClient(session, [Scripted(facts(1))], breakers=[])
