"""The shared asynchronous cat-fact client: every ``!catfact`` from memory, whatever the rate.

One :class:`CatFactClient` serves the whole process, in every language, on the bot's single
``aiohttp`` session. :meth:`CatFactClient.get_fact` always returns a :class:`~bot.facts.pool.Fact`
and never raises for network reasons. How:

1. **The pool.** A provider's whole collection in a language is fetched at once (one request for
   all of meowfacts' facts in it) and kept in memory; every command is answered from it, each
   channel walking its own shuffled order through it (:class:`~bot.facts.pool.Rotation`). A
   background task fetches the collection again every ``refresh_interval`` seconds. A refresh
   that fails keeps the pool it has (stale facts beat offline ones), and never swaps it for a
   backup provider's. So once the first fill has landed, no command waits on the network, and
   the providers' load depends on time, not on how many people ask.
2. **Languages.** Each language has a pool, a fill and refreshes of its own, asked only of the
   providers that serve it (:attr:`~bot.facts.providers.Provider.languages`); the session, the
   breakers, the counters and the key are shared. English is filled by
   :meth:`~CatFactClient.start`, another language at its first request (which waits as a cold
   start does, below); once the client has started, each is refreshed on the same schedule. A
   language that no configured provider serves is answered from the offline collection.
3. **The first fill**, before which there is nothing in memory. Only one fill per language runs
   at a time (*single flight*): commands that arrive meanwhile all wait on it, each within its
   own time budget, and are answered in the order they arrived, each woken once. Providers are
   tried in the configured order (*failover*); a request that fails in a way a retry can fix
   (timeout, dropped connection, 5xx, 429) is retried with exponential backoff and full jitter,
   honouring ``Retry-After``, by tenacity; every provider has a
   :class:`~bot.facts.breaker.CircuitBreaker`, so one that keeps failing (in any language) is
   skipped until its cool-down is over. Refreshes go the same way.
4. **The offline collection** (:mod:`bot.facts.offline`, in English), when no provider has
   answered yet within the caller's budget. The fact is marked offline so the reply can say so.

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
from bot.facts.languages import ENGLISH
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


def _in(language: str) -> str:
    """`` in ger-de`` for the logs, nothing for English (the language of most lines)."""
    return "" if language == ENGLISH.code else f" in {language}"


@dataclasses.dataclass(eq=False, slots=True)
class _Shelf:
    """What the client keeps for one language: its pool and the tasks that fill and refresh it.

    The session, the providers and their breakers, the counters and the key are the client's,
    shared by every shelf.
    """

    language: str
    pool: Rotation | None = None
    fill: asyncio.Task[bool] | None = None
    refresher: asyncio.Task[None] | None = None


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
        self._offline = Rotation(
            Collection.of((text for raw in OFFLINE_FACTS if (text := clean_fact(raw))), OFFLINE),
            key=self._key,
        )
        self._english = _Shelf(ENGLISH.code)
        self._shelves: dict[str, _Shelf] = {ENGLISH.code: self._english}
        """Every language asked for so far (English from the start), in that order."""
        self._running = False
        """True from :meth:`start` to :meth:`aclose`: every shelf is kept fresh meanwhile."""
        self._closed = False

    # Serving -----------------------------------------------------------------------------------

    async def get_fact(self, channel: Hashable | None = None, language: str = ENGLISH.code) -> Fact:
        """A fact in ``language`` (a full code, such as ``ger-de``) for ``channel``, not repeated
        there before the channel has had all of that language's facts.

        A language no configured provider has facts in gets English ones. Never raises for I/O:
        without facts after the budget, the offline collection (in English) answers.
        """
        pool, served = await self._rotation(language)
        self.stats.served[served] += 1
        return pool.deal(channel)

    async def collection(self, language: str = ENGLISH.code) -> Collection:
        """Every fact :meth:`get_fact` would choose from in ``language`` now: for a caller that
        keeps its own record of what it told (the daily posts keep theirs in the database)."""
        pool, served = await self._rotation(language)
        self.stats.served[served] += 1
        return pool.collection

    async def _rotation(self, language: str) -> tuple[Rotation, Served]:
        served = Served.POOL
        shelf = self._shelf(language)
        if shelf is None and language != ENGLISH.code:
            shelf = self._shelf(ENGLISH.code)
        if shelf is not None and shelf.pool is None:
            served = Served.WAITED
            await self._wait_for_fill(shelf)
        pool = None if shelf is None else shelf.pool
        if pool is None:
            served = Served.OFFLINE
            pool = self._offline
        return pool, served

    def start(self) -> None:
        """Start the first fill of English now and its refreshes after it (the bot does this at
        start-up); from then on every other language is refreshed too, from its first request.

        Calling it again changes nothing. Nothing here raises for network reasons.
        """
        if self._running or self._closed:
            return
        self._running = True
        for shelf in self._shelves.values():
            self._keep_fresh(shelf)

    async def refresh(self, language: str = ENGLISH.code) -> bool:
        """Fetch the collection in ``language`` now (or join the fetch in flight); True if one
        was brought.

        A failure keeps the pool there was. Never raises for network reasons.
        """
        shelf = self._shelf(language)
        return False if shelf is None else await self._refresh(shelf)

    def health(self) -> dict[str, str]:
        """Each provider's name and its breaker's state in words, in failover order."""
        # Equivalent mutants: one breaker per provider, so the lengths always match
        pairs = zip(self.providers, self.breakers, strict=True)  # pragma: no mutate
        return {provider.name: breaker.describe() for provider, breaker in pairs}

    def languages(self) -> dict[str, int]:
        """How many facts are in memory for each language asked for so far (English always
        first), by full code: 0 for one whose first fill has not landed."""
        return {language: _ready(shelf) for language, shelf in self._shelves.items()}

    @property
    def ready(self) -> int:
        """Facts in memory in English, ready to serve without a network wait."""
        return _ready(self._english)

    @property
    def offline(self) -> bool:
        """True when an English fact asked for now would come from the bundled collection:
        nothing is in memory and no fetch is in flight to wait for."""
        fill = self._english.fill
        return self._english.pool is None and (fill is None or fill.done())

    @property
    def source(self) -> str | None:
        """The provider the English facts in memory came from; None before their first fill."""
        pool = self._english.pool
        return None if pool is None else pool.collection.source

    async def aclose(self) -> None:
        """Stop every language's refreshes and any fill in flight, and start no more.

        The caller owns and closes the session. Commands still waiting get an offline fact.
        """
        self._closed = True
        self._running = False
        tasks = [
            task
            for shelf in self._shelves.values()
            for task in (shelf.refresher, shelf.fill)
            if task is not None
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # Languages ---------------------------------------------------------------------------------

    def _serving(self, language: str) -> tuple[tuple[Provider, ...], tuple[CircuitBreaker, ...]]:
        """The providers that serve ``language``, in failover order, and their breakers."""
        chosen = [n for n, provider in enumerate(self.providers) if provider.serves(language)]
        return tuple(self.providers[n] for n in chosen), tuple(self.breakers[n] for n in chosen)

    def _shelf(self, language: str) -> _Shelf | None:
        """The shelf of ``language``, made at its first request (and kept fresh from then on
        once the client has started); None when no provider serves the language."""
        shelf = self._shelves.get(language)
        if shelf is None:
            if not any(provider.serves(language) for provider in self.providers):
                return None
            shelf = self._shelves[language] = _Shelf(language)
            if self._running:
                self._keep_fresh(shelf)
        return shelf

    def _keep_fresh(self, shelf: _Shelf) -> None:
        """Start the shelf's refreshes, the first of which fills it (or joins its fill in flight).
        Called once a shelf: when the client starts, or when the shelf is made after that."""
        shelf.refresher = asyncio.create_task(
            self._refresh_forever(shelf), name=f"catfact-refresh-{shelf.language}"
        )

    # Waiting for the first fill ----------------------------------------------------------------

    async def _wait_for_fill(self, shelf: _Shelf) -> None:
        """Wait, within the budget, for the shelf's fill in flight (starting one if there is
        none).

        Every waiter awaits the same task once, so a burst of n commands costs n wake-ups, in
        the order they arrived.
        """
        fill = self._start_fill(shelf)
        if fill is None:
            return  # closed, or every provider is cooling down: answer offline at once
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.budget):
                await _join(fill)

    # Filling -----------------------------------------------------------------------------------

    def _candidates(self, shelf: _Shelf) -> tuple[tuple[Provider, ...], tuple[CircuitBreaker, ...]]:
        """The providers a fill of the shelf may ask, in order, and their breakers.

        With nothing in memory, all that serve its language. Otherwise only those at least as
        far up the list as the one the facts in memory came from: a refresh never trades them
        for a backup's (stale facts in the server's language beat fresh ones in English).
        """
        providers, breakers = self._serving(shelf.language)
        if shelf.pool is None:
            return providers, breakers
        names = [provider.name for provider in providers]
        source = shelf.pool.collection.source
        count = names.index(source) + 1 if source in names else len(names)
        return providers[:count], breakers[:count]

    def _start_fill(self, shelf: _Shelf) -> asyncio.Task[bool] | None:
        """The shelf's fill in flight, or a new one; None when no provider may be called now."""
        if shelf.fill is not None and not shelf.fill.done():
            return shelf.fill
        _, breakers = self._candidates(shelf)
        if self._closed or not any(breaker.available() for breaker in breakers):
            return None
        shelf.fill = asyncio.create_task(
            self._run_fill(shelf), name=f"catfact-fill-{shelf.language}"
        )
        return shelf.fill

    async def _refresh(self, shelf: _Shelf) -> bool:
        fill = self._start_fill(shelf)
        return False if fill is None else await _join(fill)

    async def _refresh_forever(self, shelf: _Shelf) -> None:
        """Fill now, then refresh every interval. After a failure, try again sooner: a minute
        later, then twice as long after each failure in a row, up to the interval."""
        failures = 0
        while True:
            failures = 0 if await self._refresh(shelf) else failures + 1
            interval = self.refresh_interval
            if failures:
                interval = min(RETRY_INTERVAL * 2 ** min(failures - 1, 30), interval)
            await asyncio.sleep(
                interval * self._rng.uniform(1 - REFRESH_JITTER, 1 + REFRESH_JITTER)
            )

    async def _run_fill(self, shelf: _Shelf) -> bool:
        """A fill that never raises but for cancellation: a bug is logged as a failed fill."""
        try:
            return await self._fill_from_providers(shelf)
        except Exception:
            log.exception("filling the fact pool%s failed unexpectedly", _in(shelf.language))
            return False

    async def _fill_from_providers(self, shelf: _Shelf) -> bool:
        """Try each of the shelf's providers in order until one brings its collection in the
        shelf's language. True if one did."""
        deadline = self._clock() + self.budget
        providers, breakers = self._candidates(shelf)
        where = _in(shelf.language)
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
                    get = functools.partial(self._get, deadline=share_end)
                    texts = await provider.collect(get, shelf.language)
                if not texts:
                    raise UpstreamError(f"{provider.name} brought no facts")
            except TimeoutError:
                breaker.record_failure()
                log.warning("cat-fact provider %s overran its time%s", provider.name, where)
                continue
            except UpstreamError as exc:
                breaker.record_failure(retry_after=exc.retry_after)
                log.warning("cat-fact provider %s failed%s: %s", provider.name, where, exc)
                continue
            except Exception:  # a bug must not leave the breaker half-open or kill the fill
                breaker.record_failure()
                log.exception("cat-fact provider %s failed unexpectedly%s", provider.name, where)
                continue
            except BaseException:  # cancelled (the client is closing): no verdict either way
                breaker.release()
                raise
            breaker.record_success()
            self._install(shelf, Collection.of(texts, provider.name))
            return True
        return False

    def _install(self, shelf: _Shelf, collection: Collection) -> None:
        """Serve ``collection`` on the shelf from now on, unless it is the one already served."""
        self.stats.fills += 1
        where = _in(shelf.language)
        if shelf.pool is not None and shelf.pool.collection == collection:
            log.debug(
                "the %d facts from %s%s are unchanged", len(collection), collection.source, where
            )
            return
        # A different collection: every channel starts a new round through it.
        shelf.pool = Rotation(collection, key=self._key)
        log.info("serving %d facts from %s%s", len(collection), collection.source, where)

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


def _ready(shelf: _Shelf) -> int:
    return 0 if shelf.pool is None else len(shelf.pool.collection)


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
