"""The shared asynchronous cat-fact client: every ``!catfact`` from memory, whatever the rate.

One :class:`CatFactClient` serves the whole process, on the bot's single ``aiohttp`` session.
:meth:`CatFactClient.get_fact` always returns a :class:`~bot.facts.pool.Fact` and never raises for
network reasons. How:

1. **The pool.** A provider's whole collection is fetched at start-up (one request for all of
   meowfacts' facts) and kept in memory; every command is answered from it, each channel walking
   its own shuffled order through it (:class:`~bot.facts.pool.Rotation`). A background task
   fetches the collection again every ``refresh_interval`` seconds. A refresh that fails keeps the
   pool it has (stale facts beat offline ones), and never swaps it for a backup provider's. So
   once the first fill has landed, no command waits on the network, and the providers' load
   depends on time, not on how many people ask.
2. **The first fill**, before which there is nothing in memory. Only one fill runs at a time
   (*single flight*): commands that arrive meanwhile all wait on it, each within its own time
   budget, and are answered in the order they arrived, each woken once. Providers are tried in
   the configured order (*failover*); a request that fails in a way a retry can fix (timeout,
   dropped connection, 5xx, 429) is retried with exponential backoff and full jitter, honouring
   ``Retry-After``, by tenacity; every provider has a :class:`~bot.facts.breaker.CircuitBreaker`,
   so one that keeps failing is skipped until its cool-down is over. Refreshes go the same way.
3. **The offline collection** (:mod:`bot.facts.offline`), when no provider has answered yet within
   the caller's budget. The fact is marked offline so the reply can say so.

All time is the event loop's (``loop.time()`` and ``asyncio.sleep``), so tests that run on a
fast-forwarded loop check budgets, backoff and cool-downs in no real time at all.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import enum
import functools
import logging
import random
from collections.abc import Callable, Hashable, Sequence

import aiohttp
import tenacity
import yarl

from bot.facts.breaker import CircuitBreaker, loop_time
from bot.facts.offline import FACTS as OFFLINE_FACTS
from bot.facts.pool import OFFLINE, Collection, Fact, Rotation
from bot.facts.providers import Provider, UpstreamError, fetch_json
from bot.text import clean_fact

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 3.0
"""The longest a caller waits on the network before an offline fact answers instead."""

DEFAULT_REFRESH_INTERVAL = 3600.0
"""Seconds between two fetches of the whole collection, once one has succeeded."""

RETRY_INTERVAL = 60.0
"""Seconds before the next try after a fill or refresh that failed (or a shorter interval); it
doubles with each failure in a row, up to the refresh interval."""

REFRESH_JITTER = 0.1
"""Each wait between refreshes is drawn within this fraction of its length, so processes started
together do not keep asking at the same moment."""

MAX_ATTEMPTS = 3
"""Tries per request, the first one included."""

BACKOFF_BASE = 0.1
BACKOFF_MAX = 1.0
"""Full-jitter exponential backoff: the n-th retry waits a random time up to
``min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (n - 1))`` seconds."""

MIN_ATTEMPT_TIME = 0.05
"""A try is not started with less time than this left: it could not finish."""


class Served(enum.StrEnum):
    """How a :meth:`CatFactClient.get_fact` call was answered."""

    POOL = "pool"
    """From the collection in memory: no network wait."""
    WAITED = "waited"
    """From the collection, after waiting for the first fill."""
    OFFLINE = "offline"
    """From the bundled collection, because no provider had answered in time."""


@dataclasses.dataclass(slots=True)
class Stats:
    """Counters for ``!about`` and the benchmark. They only ever grow."""

    served: collections.Counter[Served] = dataclasses.field(default_factory=collections.Counter)
    requests: int = 0
    """Requests sent to providers, retries included."""
    failures: int = 0
    """Requests that failed."""
    fills: int = 0
    """Fills and refreshes that brought a collection."""


class CatFactClient:
    """Fetches, keeps and serves cat facts; see the module documentation for the strategy."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        providers: Sequence[Provider],
        *,
        budget: float = DEFAULT_BUDGET,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        breakers: Sequence[CircuitBreaker] | None = None,
        clock: Callable[[], float] = loop_time,
        rng: random.Random | None = None,
    ) -> None:
        """Serve facts from ``providers``, tried in order.

        ``budget`` bounds how long :meth:`get_fact` waits, and how long one fill may take.
        ``breakers`` pairs one breaker with each provider (fresh default ones if omitted).
        ``clock`` is where time comes from (the running event loop's by default); ``rng`` is where
        the channel orders and the refresh jitter come from (seed it for a repeatable test).
        """
        if breakers is not None and len(breakers) != len(providers):
            raise ValueError("give one breaker per provider")
        self.providers = tuple(providers)
        self.breakers = tuple(breakers or (CircuitBreaker(clock=clock) for _ in providers))
        self.budget = budget
        self.refresh_interval = refresh_interval
        self.stats = Stats()
        self._session = session
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311  # variety, not secrecy
        self._key = self._rng.getrandbits(64)
        self._pool: Rotation | None = None
        self._offline = Rotation(
            Collection.of((text for raw in OFFLINE_FACTS if (text := clean_fact(raw))), OFFLINE),
            key=self._key,
        )
        self._fill: asyncio.Task[bool] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._closed = False

    # Serving -----------------------------------------------------------------------------------

    async def get_fact(self, channel: Hashable | None = None) -> Fact:
        """A fact for ``channel``, not repeated there before it has had all of them.

        Never raises for I/O: without a pool after the budget, the offline collection answers.
        """
        served = Served.POOL
        if self._pool is None:
            served = Served.WAITED
            await self._wait_for_fill()
        pool = self._pool
        if pool is None:
            served = Served.OFFLINE
            pool = self._offline
        self.stats.served[served] += 1
        return pool.deal(channel)

    def start(self) -> None:
        """Start the first fill now and the refreshes after it (the bot does this at start-up).

        Calling it again changes nothing. Nothing here raises for network reasons.
        """
        if self._refresher is None and not self._closed:
            self._refresher = asyncio.create_task(self._refresh_forever(), name="catfact-refresh")

    async def refresh(self) -> bool:
        """Fetch the collection now (or join the fetch in flight); True if one was brought.

        A failure keeps the pool there was. Never raises for network reasons.
        """
        fill = self._start_fill()
        return False if fill is None else await _join(fill)

    def health(self) -> dict[str, str]:
        """Each provider's name and its breaker's state in words, in failover order."""
        # Equivalent mutants: one breaker per provider, so the lengths always match
        pairs = zip(self.providers, self.breakers, strict=True)  # pragma: no mutate
        return {provider.name: breaker.describe() for provider, breaker in pairs}

    @property
    def ready(self) -> int:
        """Facts in memory, ready to serve without a network wait."""
        return 0 if self._pool is None else len(self._pool.collection)

    @property
    def offline(self) -> bool:
        """True when a fact asked for now would come from the bundled collection: nothing is in
        memory and no fetch is in flight to wait for."""
        return self._pool is None and (self._fill is None or self._fill.done())

    @property
    def source(self) -> str | None:
        """The provider the facts in memory came from; None before the first fill."""
        return None if self._pool is None else self._pool.collection.source

    async def aclose(self) -> None:
        """Stop the refreshes and any fill in flight, and start no more.

        The caller owns and closes the session. Commands still waiting get an offline fact.
        """
        self._closed = True
        tasks = [task for task in (self._refresher, self._fill) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # Waiting for the first fill ----------------------------------------------------------------

    async def _wait_for_fill(self) -> None:
        """Wait, within the budget, for the fill in flight (starting one if there is none).

        Every waiter awaits the same task once, so a burst of n commands costs n wake-ups, in
        the order they arrived.
        """
        fill = self._start_fill()
        if fill is None:
            return  # closed, or every provider is cooling down: answer offline at once
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.budget):
                await _join(fill)

    # Filling -----------------------------------------------------------------------------------

    def _candidates(self) -> int:
        """How many providers, from the first, a fill may ask.

        With nothing in memory, all of them. Otherwise only those at least as far up the list as
        the one the facts in memory came from: a refresh never trades them for a backup's (with
        languages, stale facts in the server's language beat fresh ones in English).
        """
        if self._pool is None:
            return len(self.providers)
        names = [provider.name for provider in self.providers]
        source = self._pool.collection.source
        return names.index(source) + 1 if source in names else len(names)

    def _start_fill(self) -> asyncio.Task[bool] | None:
        """The fill in flight, or a new one; None when no provider may be called now."""
        if self._fill is not None and not self._fill.done():
            return self._fill
        breakers = self.breakers[: self._candidates()]
        if self._closed or not any(breaker.available() for breaker in breakers):
            return None
        self._fill = asyncio.create_task(self._run_fill(), name="catfact-fill")
        return self._fill

    async def _refresh_forever(self) -> None:
        """Fill now, then refresh every interval. After a failure, try again sooner: a minute
        later, then twice as long after each failure in a row, up to the interval."""
        failures = 0
        while True:
            failures = 0 if await self.refresh() else failures + 1
            interval = self.refresh_interval
            if failures:
                interval = min(RETRY_INTERVAL * 2 ** min(failures - 1, 30), interval)
            await asyncio.sleep(
                interval * self._rng.uniform(1 - REFRESH_JITTER, 1 + REFRESH_JITTER)
            )

    async def _run_fill(self) -> bool:
        """A fill that never raises but for cancellation: a bug is logged as a failed fill."""
        try:
            return await self._fill_from_providers()
        except Exception:
            log.exception("filling the fact pool failed unexpectedly")
            return False

    async def _fill_from_providers(self) -> bool:
        """Try each provider in order until one brings its collection. True if one did."""
        deadline = self._clock() + self.budget
        candidates = self._candidates()
        providers, breakers = self.providers[:candidates], self.breakers[:candidates]
        for index, (provider, breaker) in enumerate(zip(providers, breakers, strict=True)):
            # Share what is left of the budget with the providers still to come. A provider
            # there is no time left for is skipped without counting against it.
            later = sum(b.available() for b in breakers[index + 1 :])
            now = self._clock()
            share_end = now + (deadline - now) / (1 + later)
            if share_end - now < MIN_ATTEMPT_TIME or not breaker.allow():
                continue
            try:
                # The requests keep to the share themselves; this bounds a provider that does not.
                async with asyncio.timeout(share_end - now + MIN_ATTEMPT_TIME):
                    texts = await provider.collect(functools.partial(self._get, deadline=share_end))
                if not texts:
                    raise UpstreamError(f"{provider.name} brought no facts")
            except TimeoutError:
                breaker.record_failure()
                log.warning("cat-fact provider %s overran its time", provider.name)
                continue
            except UpstreamError as exc:
                breaker.record_failure(retry_after=exc.retry_after)
                log.warning("cat-fact provider %s failed: %s", provider.name, exc)
                continue
            except Exception:  # a bug must not leave the breaker half-open or kill the fill
                breaker.record_failure()
                log.exception("cat-fact provider %s failed unexpectedly", provider.name)
                continue
            except BaseException:  # cancelled (the client is closing): no verdict either way
                breaker.release()
                raise
            breaker.record_success()
            self._install(Collection.of(texts, provider.name))
            return True
        return False

    def _install(self, collection: Collection) -> None:
        """Serve ``collection`` from now on, unless it is the one already served."""
        self.stats.fills += 1
        if self._pool is not None and self._pool.collection == collection:
            log.debug("the %d facts from %s are unchanged", len(collection), collection.source)
            return
        # A different collection: every channel starts a new round through it.
        self._pool = Rotation(collection, key=self._key)
        log.info("serving %d facts from %s", len(collection), collection.source)

    async def _get(self, url: yarl.URL, deadline: float) -> object:
        """One JSON answer, retrying what can be retried until ``deadline``."""

        def out_of_tries_or_time(state: tenacity.RetryCallState) -> bool:
            # Called once the next wait is known: give up if it would leave too little time.
            next_start = self._clock() + state.upcoming_sleep
            return state.attempt_number >= MAX_ATTEMPTS or next_start + MIN_ATTEMPT_TIME > deadline

        backoff = tenacity.wait_random_exponential(multiplier=BACKOFF_BASE, max=BACKOFF_MAX)
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(lambda exc: getattr(exc, "retryable", False)),
            wait=_server_hint_or(backoff),
            stop=out_of_tries_or_time,
            sleep=asyncio.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return await retrying(self._attempt, url, deadline)

    async def _attempt(self, url: yarl.URL, deadline: float) -> object:
        # The caller and the stop condition only start a try with MIN_ATTEMPT_TIME left; the
        # floor only covers the microseconds that pass on the way here.
        time_limit = max(deadline - self._clock(), MIN_ATTEMPT_TIME)
        self.stats.requests += 1
        try:
            return await fetch_json(self._session, url, time_limit=time_limit)
        except Exception:
            self.stats.failures += 1
            raise


async def _join(fill: asyncio.Task[bool]) -> bool:
    """Wait for ``fill`` without being able to cancel it (other callers share it); its result,
    or False when the client cancelled it on closing. A cancellation of the caller itself (a
    shutdown, or a timeout around this call) still reaches the caller."""
    try:
        return await asyncio.shield(fill)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if fill.cancelled() and not (task is not None and task.cancelling()):
            return False
        raise


def _server_hint_or(backoff: tenacity.wait.wait_base) -> Callable[[tenacity.RetryCallState], float]:
    """Wait as long as the server's ``Retry-After`` says, or else as ``backoff`` says."""

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None)
        return float(hint) if hint is not None else backoff(state)

    return wait


def _log_retry(state: tenacity.RetryCallState) -> None:
    # Equivalent mutants: tenacity calls the hook only after an attempt has an outcome
    error = state.outcome.exception() if state.outcome else None  # pragma: no mutate
    log.info("retrying in %.2f s after: %s", state.upcoming_sleep, error)


__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_REFRESH_INTERVAL",
    "CatFactClient",
    "Served",
    "Stats",
]
