"""The shared asynchronous cat-fact client: fast when the upstream is fine, kind when it is not.

One :class:`CatFactClient` serves the whole process, on the bot's single ``aiohttp`` session.
:meth:`CatFactClient.get_fact` always returns a :class:`Fact` and never raises for network
reasons. How, in the order things are tried:

1. **The buffer.** Facts are fetched in batches and kept in memory. A command takes one, so it
   almost never waits on the network. When the buffer runs low, a background refill starts.
2. **A refill**, when the buffer is empty. Only one refill runs at a time (*single flight*): a burst
   of commands waits on the same request instead of sending one each. Providers are tried in the
   configured order (*failover*). Each request that fails in a way a retry can fix (timeout,
   dropped connection, 5xx, 429) is retried with exponential backoff and full jitter, honouring
   ``Retry-After``, by tenacity. Every provider has a :class:`~bot.breaker.CircuitBreaker`, so
   one that keeps failing is skipped without waiting until its cool-down is over.
3. **The offline collection** (:mod:`bot.offline_facts`), when no provider answered within the
   caller's time budget. The fact is marked offline so the reply can say so.

Facts are never repeated twice in a row in one channel; the memory for that is bounded.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence

import aiohttp
import tenacity

from bot.breaker import CircuitBreaker
from bot.offline_facts import FACTS as OFFLINE_FACTS
from bot.providers import Provider, UpstreamError, clean_fact

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 3.0
"""The longest a caller waits on the network before an offline fact answers instead."""

DEFAULT_BATCH_SIZE = 50
"""Facts asked for per request (a provider may return fewer)."""

MAX_ATTEMPTS = 3
"""Tries per provider per refill, the first one included."""

BACKOFF_BASE = 0.1
BACKOFF_MAX = 1.0
"""Full-jitter exponential backoff: the n-th retry waits a random time up to
``min(BACKOFF_MAX, BACKOFF_BASE * 2 ** n)`` seconds."""

MIN_ATTEMPT_TIME = 0.05
"""A try is not started with less time than this left: it could not finish."""

MAX_CHANNELS = 10_000
"""Channels whose last fact is remembered (least recently used ones are forgotten)."""

OFFLINE = "offline"
"""The source name of facts from the bundled collection."""


class Served(enum.StrEnum):
    """How a :meth:`CatFactClient.get_fact` call was answered."""

    BUFFER = "buffer"
    """From facts already in memory: no network wait."""
    UPSTREAM = "upstream"
    """After waiting for a refill."""
    FALLBACK = "fallback"
    """From the offline collection, because no provider answered in time."""


@dataclasses.dataclass(frozen=True, slots=True)
class Fact:
    """One fact, already cleaned for display, and where it came from."""

    text: str
    source: str
    """The provider's name, or :data:`OFFLINE`."""

    @property
    def offline(self) -> bool:
        """True for a fact from the bundled collection rather than a live provider."""
        return self.source == OFFLINE


@dataclasses.dataclass(slots=True)
class Stats:
    """Counters for ``!about`` and the benchmark. They only ever grow."""

    served: collections.Counter[Served] = dataclasses.field(default_factory=collections.Counter)
    requests: int = 0
    """Requests sent to providers, retries included."""
    failures: int = 0
    """Requests that failed."""


class CatFactClient:
    """Fetches, buffers and serves cat facts; see the module documentation for the strategy."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        providers: Sequence[Provider],
        *,
        budget: float = DEFAULT_BUDGET,
        batch_size: int = DEFAULT_BATCH_SIZE,
        low_water: int | None = None,
        breakers: Sequence[CircuitBreaker] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """Serve facts from ``providers``, tried in order.

        ``budget`` bounds how long :meth:`get_fact` waits. ``low_water`` is the buffer size under
        which a background refill starts (a quarter of the batch by default). ``breakers`` pairs
        one breaker with each provider (fresh default ones if omitted). ``clock`` and ``sleep``
        are where time comes from; tests pass a fake to move it without waiting.
        """
        if breakers is not None and len(breakers) != len(providers):
            raise ValueError("give one breaker per provider")
        self.providers = tuple(providers)
        self.breakers = tuple(breakers or (CircuitBreaker(clock=clock) for _ in providers))
        self.budget = budget
        self.batch_size = batch_size
        self.low_water = max(1, batch_size // 4) if low_water is None else low_water
        self.stats = Stats()
        self._session = session
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311  # variety, not secrecy
        self._buffer: collections.deque[Fact] = collections.deque()
        self._refill: asyncio.Task[bool] | None = None
        self._closed = False
        self._last_in_channel: collections.OrderedDict[Hashable, str] = collections.OrderedDict()
        self._offline = [Fact(text, OFFLINE) for raw in OFFLINE_FACTS if (text := clean_fact(raw))]

    # Serving -----------------------------------------------------------------------------------

    async def get_fact(self, channel: Hashable | None = None) -> Fact:
        """A fact for ``channel``, different from the last one it got. Never raises for I/O."""
        fact = self._take(channel)
        served = Served.BUFFER
        if fact is None:
            fact = await self._wait_for_refill(channel)
            served = Served.UPSTREAM
        if fact is None:
            fact = self._offline_fact(channel)
            served = Served.FALLBACK
        self.stats.served[served] += 1
        if served is not Served.FALLBACK and len(self._buffer) < self.low_water:
            self._start_refill()  # a refill that just failed is not retried at once
        return fact

    def prefetch(self) -> asyncio.Task[bool] | None:
        """Start filling the buffer in the background (the bot does this at start-up).

        Returns the refill task (None when every provider is cooling down); awaiting it is
        optional and never raises for network reasons.
        """
        return self._start_refill()

    def health(self) -> dict[str, str]:
        """Each provider's name and its breaker's state in words, in failover order."""
        return {p.name: b.describe() for p, b in zip(self.providers, self.breakers, strict=True)}

    @property
    def buffered(self) -> int:
        """Facts in memory, ready to serve without a network wait."""
        return len(self._buffer)

    async def aclose(self) -> None:
        """Stop a refill in progress and start no more. The caller owns and closes the session."""
        self._closed = True
        if self._refill is not None and not self._refill.done():
            self._refill.cancel()
            await asyncio.gather(self._refill, return_exceptions=True)

    # Choosing a fact: each of these picks and records it without an await in between, so two
    # commands in one channel can never both be handed the same fact.

    def _take(self, channel: Hashable | None) -> Fact | None:
        """Remove and return the first buffered fact that is not the channel's last one."""
        avoid = self._last_told(channel)
        for index, fact in enumerate(self._buffer):
            if fact.text != avoid:
                del self._buffer[index]
                return self._remember(channel, fact)
        return None

    def _offline_fact(self, channel: Hashable | None) -> Fact:
        avoid = self._last_told(channel)
        fact = self._rng.choice([fact for fact in self._offline if fact.text != avoid])
        return self._remember(channel, fact)

    def _last_told(self, channel: Hashable | None) -> str | None:
        return self._last_in_channel.get(channel)  # None is never remembered, so never found

    def _remember(self, channel: Hashable | None, fact: Fact) -> Fact:
        if channel is not None:
            self._last_in_channel[channel] = fact.text
            self._last_in_channel.move_to_end(channel)
            if len(self._last_in_channel) > MAX_CHANNELS:
                self._last_in_channel.popitem(last=False)
        return fact

    async def _wait_for_refill(self, channel: Hashable | None) -> Fact | None:
        """Wait, within the budget, for refills until one yields a fact for this caller."""
        deadline = self._clock() + self.budget
        while True:
            refill = self._start_refill()
            remaining = deadline - self._clock()
            if refill is None or remaining <= 0:
                return None  # every provider is down (or cooling down), or time is up
            try:
                succeeded = await asyncio.wait_for(asyncio.shield(refill), remaining)
            except TimeoutError:
                return None
            except asyncio.CancelledError:
                if not refill.cancelled() or _current_task_cancelling():
                    raise
                return None  # the client is closing: answer from the offline collection
            if (fact := self._take(channel)) is not None:
                return fact
            if not succeeded:
                return None
            # Other waiters took the whole batch, or it held only `avoid`: go again.

    # Refilling ---------------------------------------------------------------------------------

    def _start_refill(self) -> asyncio.Task[bool] | None:
        """The refill in flight, or a new one; None when no provider may be called now."""
        if self._refill is not None and not self._refill.done():
            return self._refill
        if self._closed or not any(breaker.available() for breaker in self.breakers):
            return None
        self._refill = asyncio.create_task(self._run_refill(), name="catfact-refill")
        return self._refill

    async def _run_refill(self) -> bool:
        """Try each provider in order until one adds new facts. True if one did."""
        deadline = self._clock() + self.budget
        for index, (provider, breaker) in enumerate(
            zip(self.providers, self.breakers, strict=True)
        ):
            # Share what is left of the budget with the providers still to come. A provider
            # there is no time left for is skipped without counting against it.
            later = sum(b.available() for b in self.breakers[index + 1 :])
            now = self._clock()
            share_end = now + (deadline - now) / (1 + later)
            if share_end - now < MIN_ATTEMPT_TIME or not breaker.allow():
                continue
            try:
                texts = await self._fetch(provider, share_end)
            except UpstreamError as exc:
                breaker.record_failure(retry_after=exc.retry_after)
                log.warning("cat-fact provider %s failed: %s", provider.name, exc)
                continue
            except Exception:  # a bug must not leave the breaker half-open or kill the refill
                breaker.record_failure()
                log.exception("cat-fact provider %s failed unexpectedly", provider.name)
                continue
            except BaseException:  # cancelled (the client is closing): no verdict either way
                breaker.release()
                raise
            breaker.record_success()
            known = {fact.text for fact in self._buffer}
            new = [text for text in dict.fromkeys(texts) if text not in known]
            self._buffer.extend(Fact(text, provider.name) for text in new)
            log.debug("buffered %d new facts from %s", len(new), provider.name)
            if new:
                return True
        return False

    async def _fetch(self, provider: Provider, deadline: float) -> list[str]:
        """One provider's facts, retrying what can be retried until ``deadline``."""

        def out_of_tries_or_time(state: tenacity.RetryCallState) -> bool:
            # Called once the next wait is known: give up if it would leave too little time.
            next_start = self._clock() + state.upcoming_sleep
            return state.attempt_number >= MAX_ATTEMPTS or next_start + MIN_ATTEMPT_TIME > deadline

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(lambda exc: getattr(exc, "retryable", False)),
            wait=_server_hint_or(
                tenacity.wait_random_exponential(multiplier=BACKOFF_BASE, max=BACKOFF_MAX)
            ),
            stop=out_of_tries_or_time,
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        return await retrying(self._attempt, provider, deadline)

    async def _attempt(self, provider: Provider, deadline: float) -> list[str]:
        # The caller and the stop condition only start a try with MIN_ATTEMPT_TIME left; the
        # floor only covers the microseconds that pass on the way here.
        time_limit = max(deadline - self._clock(), MIN_ATTEMPT_TIME)
        self.stats.requests += 1
        try:
            return await provider.fetch(self._session, self.batch_size, time_limit)
        except Exception:
            self.stats.failures += 1
            raise


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _server_hint_or(backoff: tenacity.wait.wait_base) -> Callable[[tenacity.RetryCallState], float]:
    """Wait as long as the server's ``Retry-After`` says, or else as ``backoff`` says."""

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hint = getattr(error, "retry_after", None)
        return float(hint) if hint is not None else backoff(state)

    return wait


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.info("retrying in %.2f s after: %s", state.upcoming_sleep, error)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BUDGET",
    "MAX_CHANNELS",
    "OFFLINE",
    "CatFactClient",
    "Fact",
    "Served",
    "Stats",
]
