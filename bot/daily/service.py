"""The daily posts: subscriptions for the commands, and the scheduler that makes each post once.

The scheduler is one task per process. It asks the database when the next post of its shards
is due (the smallest ``next_at``, from an index), sleeps until then (or until a subscription
changes here, or :data:`RESCAN` at the longest, which bounds what a change made by another
process or a jump of the wall clock can delay), and then works through what is due, in chunks:

1. for each subscription due, the post owed: the latest occurrence of its time at or before now,
   if it is not older than the grace window (older: skipped and logged, never flushed later), and
   not from before the subscription was set;
2. claim those posts in the database (:meth:`~bot.daily.store.DailyStore.claim`): one row per
   channel and local day, which only one process can insert;
3. for each claim won: choose a fact this channel has not had this round, and send it, paced below
   Discord's global rate, with the post's nonce; a claim taken over from a process that died is
   first looked for in the channel (it may have been made before the crash);
4. record every outcome in one transaction: made (next post tomorrow), refused for good (shown in
   ``!daily``; a week of those pauses it), or failed for now (tried again soon, same claim).

All of its state is in the database; a restart only reads it again. What each crash point leaves
behind, and why no post is made twice, is set out in ``docs/daily.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import hashlib
import logging
import os
import random
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from discord.ext import commands

from bot.daily.poster import DailyPost, Poster, UndeliverableError
from bot.daily.schedule import Schedule
from bot.daily.store import (
    FAILED,
    SENT,
    Claim,
    DailyStore,
    Outcome,
    ShardFilter,
    Subscription,
    told_column,
)
from bot.database import Database
from bot.facts import Fact, Language
from bot.facts.breaker import loop_time
from bot.facts.pool import Collection
from bot.guild_settings import NotSavedError

log = logging.getLogger(__name__)

CHUNK = 100
"""Posts claimed, sent and recorded together: about two seconds of Discord's rate."""

RATE = 45.0
"""Daily posts sent per second at most, by one process: below Discord's 50 requests per second
for the whole bot, which leaves room for the replies to commands meanwhile."""

CLAIM_TIMEOUT = datetime.timedelta(seconds=60)
"""A claim still not recorded after this was left by a process that died (or hung): another may
take it over. It must be longer than a send may take (:data:`SEND_TIMEOUT`)."""

SEND_TIMEOUT = 20.0
"""Seconds one look back, and one send, may take, discord.py's retries and rate-limit waits
included."""

SEND_BUDGET = datetime.timedelta(seconds=SEND_TIMEOUT)

LOOK_BACK_SLACK = datetime.timedelta(seconds=10)
"""How far before a claim the look for its post begins (Discord's clock and ours may differ by a
second or so; the look reads the messages after that, oldest first)."""

ON_TIME = datetime.timedelta(minutes=10)
"""A post this late is still on time, whatever the grace window (``DAILY_GRACE=0``): the
scheduler wakes a moment after the time, and 10,000 posts due together take minutes."""

RETRY_FIRST = datetime.timedelta(seconds=30)
RETRY_MAX = datetime.timedelta(minutes=30)
"""A post that failed for now is tried again after half the time it has been failing, from 30 s up
to half an hour: about ten tries in a six-hour grace window, whatever the outage's length."""

RESCAN = 300.0
"""The longest the scheduler sleeps without asking the database again."""

PAUSE_AFTER = 7
"""Days in a row a post may be refused before its subscription pauses."""

MAX_PER_SERVER = 25
"""Channels with a daily post in one server at most."""

WRITE_BUDGET = 5.0
"""Seconds a command waits for the database before it says it couldn't."""

ERROR_BACKOFF_FIRST, ERROR_BACKOFF_MAX = 1.0, 60.0
"""Seconds the scheduler waits after the database failed, doubling up to the maximum."""

DIGEST_LENGTH = 8


class DailyError(commands.CommandError):
    """A daily-post command that can't be done; the message is the reply."""


class ClaimRanOutError(Exception):
    """A claim held too long to send under it: the post is tried again, its claim taken anew."""


class TooManyPostsError(DailyError):
    """A server has :data:`MAX_PER_SERVER` daily posts already."""


class DailyUnavailableError(DailyError):
    """The database could not be read, or there is none: the daily posts can't be shown."""


def wall_clock() -> datetime.datetime:
    """The time now, in UTC."""
    return datetime.datetime.now(datetime.UTC)


def digest(fact: Fact) -> str:
    """A short, stable name for a fact's text, to remember that a channel had it."""
    return hashlib.sha256(fact.text.encode()).hexdigest()[:DIGEST_LENGTH]


def choose(
    collection: Collection, told: Sequence[str], rng: random.Random
) -> tuple[Fact, tuple[str, ...]]:
    """A fact of ``collection`` not in ``told`` (this round's digests), and ``told`` with it.

    When every fact has been told, a new round begins, never with the fact told last.
    """
    done = set(told)
    fresh = [fact for fact in collection.facts if digest(fact) not in done]
    if not fresh:
        last = told[-1] if told else None
        fresh = [fact for fact in collection.facts if digest(fact) != last] or list(
            collection.facts
        )
        told = ()
    fact = rng.choice(fresh)
    return fact, (*told, digest(fact))


class Pacer:
    """Spaces calls of :meth:`wait` at least ``1 / rate`` seconds apart on the loop's clock.

    Callers go one at a time, each when the one before it went plus the interval: a loop held
    up (a garbage collection, a slow query) delays the calls after it, and never lets them go
    back to back to catch up."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = loop_time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``rate`` None: no pacing at all."""
        self.interval = 0.0 if rate is None else 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = -float("inf")
        self._turn = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._turn:  # first come, first served
            now = self._clock()
            if now < self._next:
                await self._sleep(self._next - now)
                now = self._clock()
            self._next = now + self.interval


@dataclasses.dataclass(slots=True)
class Counters:
    """What the scheduler did since the process started, for ``!status`` and the benchmark."""

    sent: int = 0
    found: int = 0
    """Posts a taken-over claim had made already (found in the channel, not sent again)."""
    refused: int = 0
    retried: int = 0
    skipped: int = 0
    lost_claims: int = 0
    """Posts another process had claimed or made first."""
    passes: int = 0


class DailyService:
    """Every daily post of the servers on this process's shards: see the module documentation."""

    def __init__(
        self,
        database: Database | None,
        poster: Poster,
        facts: Callable[[str], Awaitable[Collection]],
        language_for: Callable[[int], Awaitable[Language]],
        *,
        shards: ShardFilter | None = None,
        grace: datetime.timedelta = datetime.timedelta(hours=6),
        clock: Callable[[], datetime.datetime] = wall_clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pacer: Pacer | None = None,
        chunk: int = CHUNK,
        process: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """``database`` None: no daily posts (the commands say so).

        ``poster`` is Discord's side; ``facts`` gives a language's collection (the cat-fact
        client's), ``language_for`` a server's language. ``clock`` is the wall clock (UTC) that
        says what is due, and ``sleep`` how the scheduler waits; tests pass a clock they move.
        ``process`` names this process in the claims it makes (unique by default).
        """
        self.database = database
        self.store = DailyStore(database) if database is not None else None
        self.poster = poster
        self.shards = shards or ShardFilter()
        self.grace = grace
        self.chunk = chunk
        self.process = process or _process_name()
        self.counters = Counters()
        self.last_error: str | None = None
        self._facts = facts
        self._language_for = language_for
        self._clock = clock
        self._sleep = sleep
        self._pacer = pacer or Pacer(RATE)
        self._rng = rng or random.Random()  # noqa: S311  # variety, not secrecy
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._passing = False
        self._unrecorded: list[Outcome] = []

    @property
    def available(self) -> bool:
        """False when the bot runs without a database (tests of everything else)."""
        return self.store is not None

    def now(self) -> datetime.datetime:
        return self._clock()

    # The commands ------------------------------------------------------------------------------

    async def subscribe(
        self, guild_id: int, channel_id: int, schedule: Schedule, *, by: int
    ) -> Subscription:
        """Post in ``channel_id`` every day at ``schedule``, from its next occurrence on (not on
        a local day that had its post already); setting it again changes it and resumes it."""
        store = self._require_store()
        now = self._clock()
        async with _budget("the daily post was not saved"):
            current = {s.channel_id for s in await store.for_guild(guild_id)}
            if channel_id not in current and len(current) >= MAX_PER_SERVER:
                raise TooManyPostsError(
                    f"This server has {MAX_PER_SERVER} daily posts already, the most it may "
                    "have: stop one first."
                )
            first = await _first_after(store, channel_id, schedule, now)
            if await store.pending([channel_id]):
                first = now  # a post begun and not settled: the scheduler finishes it first
            subscription = await store.put(
                Subscription(
                    channel_id=channel_id,
                    guild_id=guild_id,
                    schedule=schedule,
                    next_at=first,
                    changed_by=by,
                    changed_at=now,
                )
            )
        self._wake.set()
        return subscription

    async def unsubscribe(self, channel_id: int) -> bool:
        """Stop a channel's daily post; False if it had none."""
        store = self._require_store()
        async with _budget("the daily post was not stopped"):
            return await store.remove(channel_id)

    async def listing(self, guild_id: int) -> list[Subscription]:
        """A server's daily posts, by channel."""
        store = self._require_store()
        try:
            async with asyncio.timeout(WRITE_BUDGET):
                return await store.for_guild(guild_id)
        except Exception as exc:
            log.warning("daily posts of %s could not be read: %r", guild_id, exc)
            raise DailyUnavailableError(
                "I couldn't read the daily posts: the database can't be reached right now. "
                "Please try again in a minute."
            ) from exc

    def describe(self) -> str:
        """How the scheduler is doing, for the owner's ``!status``."""
        if self.store is None:
            return "off: they need a database"
        c = self.counters
        text = (
            f"since start: {c.sent} made, {c.found} found made before a restart, "
            f"{c.refused} refused, {c.retried} to retry, {c.skipped} skipped as too late, "
            f"{c.lost_claims} left to another process"
        )
        if self.last_error is not None:
            text += f"\nthe database failed: {self.last_error}"
        return text

    def next_post(self, subscription: Subscription) -> datetime.datetime | None:
        """When the subscription's next post is due, as far as this process knows; None when it
        is paused."""
        if subscription.paused:
            return None
        return subscription.next_at

    def _require_store(self) -> DailyStore:
        if self.store is None:
            raise DailyUnavailableError(
                "Daily posts need a database, and this bot runs without one (DATABASE_URL)."
            )
        return self.store

    # The scheduler -----------------------------------------------------------------------------

    def start(self, ready: Callable[[], Awaitable[object]] | None = None) -> None:
        """Run the scheduler in the background, after ``ready`` (the bot's connection)."""
        if self.store is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._run_forever(ready), name="daily-posts")

    def changed(self) -> None:
        """Something was changed elsewhere: look at the database again now."""
        self._wake.set()

    async def aclose(self, budget: float = 5.0) -> None:
        """Stop: let the posts in flight finish for up to ``budget`` seconds, then cancel."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        if self._passing:  # posts in flight: their claims are best recorded
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(budget):
                    await asyncio.shield(task)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def _run_forever(self, ready: Callable[[], Awaitable[object]] | None) -> None:
        if ready is not None:
            await ready()
        failures = 0
        while not self._stopping:
            self._wake.clear()
            self._passing = True
            try:
                wake = await self.run_due()
            except Exception as exc:
                failures += 1
                delay = min(ERROR_BACKOFF_FIRST * 2 ** min(failures - 1, 16), ERROR_BACKOFF_MAX)
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
                log.warning("daily posts: the database failed (%s); again in %g s", exc, delay)
            else:
                failures = 0
                self.last_error = None
                delay = RESCAN
                if wake is not None:
                    until = (wake - self._clock()).total_seconds()
                    delay = min(max(until, 0.0), RESCAN)
            finally:
                self._passing = False
            if not self._stopping:
                await self._wait(delay)

    async def _wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or until :meth:`changed` (or a subscription made here)."""
        if self._wake.is_set():
            return
        sleeper = asyncio.ensure_future(self._sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    async def run_due(self) -> datetime.datetime | None:
        """Make every post due now, for this process's shards; when the next one is due."""
        store = self._require_store()
        self.counters.passes += 1
        if self._unrecorded:  # the database refused them last time: they come first
            await store.record(self._unrecorded, by=self.process)
            self._unrecorded = []
        seen: set[int] = set()
        while not self._stopping:
            now = self._clock()
            due = [
                s for s in await store.due(now, self.shards, self.chunk) if s.channel_id not in seen
            ]
            if not due:
                break
            seen.update(s.channel_id for s in due)
            outcomes = await self._run(store, due, now)
            try:
                await store.record(outcomes, by=self.process)
            except BaseException:
                self._unrecorded = outcomes
                raise
        return await store.next_at(self.shards)

    async def _run(
        self, store: DailyStore, due: list[Subscription], now: datetime.datetime
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        owed: dict[tuple[int, datetime.date], Subscription] = {}
        grace = max(self.grace, ON_TIME)
        pending = await store.pending(s.channel_id for s in due)
        for subscription in due:
            schedule = subscription.schedule
            latest = schedule.latest_until(now)
            day = schedule.day_of(latest)
            held = pending.get(subscription.channel_id)
            if held is not None and now - held[1] <= grace:
                # Begun and not settled (its process died, or it was changed meanwhile): that
                # post is finished first, whatever the schedule says now.
                owed[(subscription.channel_id, held[0])] = subscription
            elif latest < subscription.changed_at:  # set after its latest time: nothing owed
                first = await _first_after(store, subscription.channel_id, schedule, now)
                outcomes.append(_reschedule(subscription, now, first))
            elif now - latest > grace:
                self.counters.skipped += 1
                log.warning(
                    "daily post in %s for %s skipped: it was due at %s, more than %s ago",
                    subscription.channel_id,
                    day,
                    latest.isoformat(),
                    grace,
                )
                note = f"the post of {day} was skipped: I was offline from its time until too late"
                outcomes.append(
                    _reschedule(subscription, now, schedule.next_after(now), last_error=note)
                )
            else:
                missed = (day - schedule.day_of(subscription.next_at)).days
                if missed > 0:
                    self.counters.skipped += missed
                    log.warning(
                        "daily posts in %s for the %d days before %s skipped: I was offline",
                        subscription.channel_id,
                        missed,
                        day,
                    )
                owed[(subscription.channel_id, day)] = subscription
        now = self._clock()  # the claims' time: they are held for CLAIM_TIMEOUT from it
        won, lost = await store.claim(
            list(owed), by=self.process, now=now, stale_before=now - CLAIM_TIMEOUT
        )
        for (channel_id, day), state in lost.items():
            subscription = owed[(channel_id, day)]
            self.counters.lost_claims += 1
            if state in (SENT, FAILED):  # made or given up already, by someone
                later = subscription.schedule.next_after(now)
            else:  # held by another process: see again when it would be stale
                later = now + CLAIM_TIMEOUT
            outcomes.append(_reschedule(subscription, now, later))
        posting = [self._post(owed[(c.channel_id, c.day)], c, now) for c in won]
        outcomes += await asyncio.gather(*posting)
        return outcomes

    async def _post(
        self, subscription: Subscription, claim: Claim, now: datetime.datetime
    ) -> Outcome:
        schedule = subscription.schedule
        try:
            language = await self._language_for(subscription.guild_id)
            collection = await self._facts(language.code)
            fact, told = choose(collection, subscription.told, self._rng)
            post = DailyPost(
                subscription.channel_id, subscription.guild_id, claim.day, fact, language
            )
            if claim.taken_over:
                since = claim.first_claimed_at - LOOK_BACK_SLACK
                async with asyncio.timeout(SEND_TIMEOUT):
                    found = await self.poster.find(post, since)
                if found is not None:
                    self.counters.found += 1
                    log.info(
                        "daily post in %s for %s was made before: %s",
                        post.channel_id,
                        post.day,
                        found,
                    )
                    return _made(subscription, claim, now, found, subscription.told)
            await self._pacer.wait()
            if self._clock() - claim.claimed_at > CLAIM_TIMEOUT - SEND_BUDGET:
                # Too late to send safely: another process could take the claim over meanwhile.
                raise ClaimRanOutError("the claim ran out before the send")
            async with asyncio.timeout(SEND_TIMEOUT):
                message_id = await self.poster.send(post)
        except UndeliverableError as exc:
            self.counters.refused += 1
            failures = subscription.failures + 1
            paused = failures >= PAUSE_AFTER
            log.info("daily post in %s for %s refused: %s", subscription.channel_id, claim.day, exc)
            values: dict[str, Any] = {
                "next_at": schedule.next_after(now),
                "failures": failures,
                "last_error": str(exc)[:200],
                "paused": paused,
            }
            return _of_claim(subscription, claim, now, values, FAILED, error=str(exc)[:200])
        except Exception as exc:
            self.counters.retried += 1
            waited = now - claim.first_claimed_at
            retry = min(max(waited / 2, RETRY_FIRST), RETRY_MAX)
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning(
                "daily post in %s for %s failed for now (%s); again in %s",
                subscription.channel_id,
                claim.day,
                reason,
                retry,
            )
            values = {"next_at": now + retry, "last_error": f"trying again: {reason}"[:200]}
            return _of_claim(subscription, claim, now, values, None, retry_at=now + retry)
        self.counters.sent += 1
        return _made(subscription, claim, now, message_id, told)


def _made(
    subscription: Subscription,
    claim: Claim,
    now: datetime.datetime,
    message_id: int,
    told: Sequence[str],
) -> Outcome:
    values = {"next_at": subscription.schedule.next_after(now), "failures": 0, "last_error": None}
    return _of_claim(
        subscription, claim, now, values, SENT, message_id=message_id, told=told_column(told)
    )


def _of_claim(
    subscription: Subscription,
    claim: Claim,
    now: datetime.datetime,
    values: dict[str, Any],
    state: str | None,
    *,
    message_id: int | None = None,
    error: str | None = None,
    told: str | None = None,
    retry_at: datetime.datetime | None = None,
) -> Outcome:
    """The outcome of a claimed post: made or refused (``state``), or to try again."""
    return Outcome(
        subscription.channel_id,
        subscription.changed_at,
        now,
        values,
        day=claim.day,
        post_state=state,
        message_id=message_id,
        error=error,
        told=told,
        retry_at=retry_at,
    )


async def _first_after(
    store: DailyStore, channel_id: int, schedule: Schedule, now: datetime.datetime
) -> datetime.datetime:
    """The first post of a subscription set (or changed) at ``now``: its next occurrence, unless
    that local day (in its zone) had its post already, under another time or zone."""
    first = schedule.next_after(now)
    made = await store.last_made(channel_id)
    if made is not None and schedule.day_of(made) >= schedule.day_of(first):
        first = schedule.next_after(first)
    return first


def _reschedule(
    subscription: Subscription,
    now: datetime.datetime,
    at: datetime.datetime,
    *,
    last_error: str | None = None,
) -> Outcome:
    values: dict[str, Any] = {"next_at": at}
    if last_error is not None:
        values["last_error"] = last_error[:200]
    return Outcome(subscription.channel_id, subscription.changed_at, now, values)


@contextlib.asynccontextmanager
async def _budget(what: str) -> AsyncIterator[None]:
    """A command's database work: within :data:`WRITE_BUDGET`, or :class:`NotSavedError`."""
    try:
        async with asyncio.timeout(WRITE_BUDGET):
            yield
    except (DailyError, NotSavedError):
        raise
    except TimeoutError as exc:
        raise NotSavedError(f"{what}: no answer within {WRITE_BUDGET:g} s") from exc
    except Exception as exc:
        raise NotSavedError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _process_name() -> str:
    """This process, unique among every process that ever claims a post: host, pid, random."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


__all__ = [
    "CLAIM_TIMEOUT",
    "MAX_PER_SERVER",
    "PAUSE_AFTER",
    "RATE",
    "Counters",
    "DailyError",
    "DailyService",
    "DailyUnavailableError",
    "Pacer",
    "TooManyPostsError",
    "choose",
    "digest",
    "wall_clock",
]
