"""Which shards this process runs, and when each of them may IDENTIFY.

A big bot is split over several processes that each run an ``AutoShardedBot`` for a slice of the
shards. Two environment variables say which slice: ``SHARD_COUNT`` (the bot's total number of
shards, the same in every process) and ``SHARD_IDS`` (the shards this process runs, e.g.
``0-7``). :func:`parse_shard_plan` turns them into a :class:`ShardPlan`, or raises
``ValueError`` with one line naming the variable and the fix.

Discord lets the shards of one "rate-limit bucket" (``shard_id % max_concurrency``) IDENTIFY
once per 5 seconds, counted across *all* the bot's processes. discord.py paces the shards of one
process (it launches them one after another and its default ``before_identify_hook`` sleeps 5 s
before every identify but the process's first), but it cannot see the other processes: two
processes started together both identify their first shard at once. :func:`identify_delay` gives
every shard a slot on one global schedule instead, and :class:`IdentifyPacer` keeps a process
to it: awaited once before connecting and then from the bot's ``before_identify_hook``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import groupby

from bot.text import shown, whole_number

__all__ = [
    "CONNECT_ALLOWANCE",
    "IDENTIFY_WINDOW",
    "MAX_SHARD_COUNT",
    "IdentifyPacer",
    "ShardPlan",
    "identify_delay",
    "parse_shard_plan",
    "wait_for_identify_slot",
]

MAX_SHARD_COUNT = 10_000
"""A sanity ceiling: far above any real bot (Discord asks for one shard per ~1,000-2,500 guilds)
but low enough that a typo such as an extra zero is caught and no list of ids gets huge."""

IDENTIFY_WINDOW = 5.5
"""Seconds between identifies of one bucket: Discord's 5 s plus a margin for clock skew."""

CONNECT_ALLOWANCE = 10.0
"""Seconds the identify schedule starts after start-up: time to log in and open a connection.

Without it, every process's first identify would be late by however long those took, which is
more than the margin in :data:`IDENTIFY_WINDOW`. A connection idles at most this long before it
identifies (discord.py's default hook idles 5 s); Discord's heartbeat keeps it open meanwhile."""

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """The shards one process runs.

    ``count`` is the bot's total number of shards (``None``: not sharded, a plain ``Bot``);
    ``ids`` the sorted ids this process runs (``None``: all of them). Build one with
    :func:`parse_shard_plan`; the constructor only rejects plans discord.py would misread.
    """

    count: int | None = None
    ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.count is None:
            if self.ids is not None:
                raise ValueError("shard ids need a shard count")
            return
        if not 1 <= self.count <= MAX_SHARD_COUNT:
            raise ValueError(f"shard count must be 1 to {MAX_SHARD_COUNT}, got {self.count}")
        # discord.py treats an empty id list as "every shard" (``shard_ids or range(count)``).
        if self.ids is not None and (
            not self.ids
            or list(self.ids) != sorted(set(self.ids))
            or not 0 <= self.ids[0] <= self.ids[-1] < self.count
        ):
            raise ValueError(f"shard ids must be sorted, unique and below {self.count}")

    @property
    def sharded(self) -> bool:
        """Whether the bot runs sharded (an ``AutoShardedBot``) at all."""
        return self.count is not None

    @property
    def first_shard(self) -> int:
        """The lowest shard id this process runs (0 when it runs all of them, or is unsharded)."""
        return self.ids[0] if self.ids else 0

    def describe(self) -> str:
        """A short phrase for the logs: "unsharded", "all 16 shards", "shards 0-3, 8 of 16"."""
        if self.count is None:
            return "unsharded"
        if self.ids is None:
            return f"all {self.count} shard{'s' if self.count != 1 else ''}"
        noun = "shard" if len(self.ids) == 1 else "shards"
        return f"{noun} {_compress(self.ids)} of {self.count}"


def parse_shard_plan(count_text: str | None, ids_text: str | None) -> ShardPlan:
    """The plan for ``SHARD_COUNT`` and ``SHARD_IDS`` (``None`` or blank: unset).

    Neither set: unsharded. ``SHARD_COUNT`` alone: every shard in this process. Both: exactly
    the listed ids, given as comma-separated ids and inclusive ranges (``0-3,8``). Only ASCII
    digits count as digits, so a lookalike pasted from a chat never becomes a shard id.
    """
    count_text = _blank_is_none(count_text)
    ids_text = _blank_is_none(ids_text)
    if count_text is None:
        if ids_text is not None:
            raise ValueError(
                "SHARD_IDS is set but SHARD_COUNT is not: set SHARD_COUNT to the bot's total "
                "number of shards, the same in every process"
            )
        return ShardPlan()
    count = whole_number(count_text, MAX_SHARD_COUNT)
    if count is None or not 1 <= count <= MAX_SHARD_COUNT:
        raise ValueError(
            f"SHARD_COUNT must be a whole number from 1 to {MAX_SHARD_COUNT}, "
            f"got {shown(count_text)}"
        )
    if ids_text is None:
        return ShardPlan(count)
    return ShardPlan(count, _parse_ids(ids_text, count))


def identify_delay(
    shard_id: int, *, max_concurrency: int = 1, window: float = IDENTIFY_WINDOW
) -> float:
    """Seconds into the identify schedule at which shard ``shard_id`` sends its first IDENTIFY.

    Shard ``s`` is in bucket ``s % max_concurrency`` and gets slot ``s // max_concurrency``; it
    identifies at ``slot * window``. Two shards of one bucket differ by a multiple of
    ``max_concurrency``, so their slots differ and their identifies are at least ``window``
    apart, while the shards of one slot are all in different buckets and may go together.

    No lock or message between processes is needed: the schedule depends only on shard ids, so
    every process started at the same moment computes the same global timetable and keeps to its
    own part of it. That needs every process to use the same ``max_concurrency`` (1 is always
    safe, only slower; discord.py does not fetch it when ``shard_count`` is given, see
    ``AutoShardedClient.fetch_session_start_limits``), and processes to start within
    ``window - 5`` = 0.5 s of each other. With ``max_concurrency`` above 1 there is one more
    condition: discord.py connects a process's shards one at a time, so the later shards of a
    slot identify late; processes holding whole slots (ids from a multiple of
    ``max_concurrency``) are late alike and stay apart, as long as ``max_concurrency`` connects
    take less than ``window``.

    The cost is start-up time, whichever process a shard is in: with ``max_concurrency`` 1 the
    last of 16 shards waits 15 * 5.5 = 82.5 s (plus :data:`CONNECT_ALLOWANCE` with
    :class:`IdentifyPacer`), about as long as one process starting all 16 with discord.py's
    default hook.
    """
    if shard_id < 0:
        raise ValueError(f"shard_id must not be negative, got {shard_id}")
    _check_concurrency(max_concurrency)
    return shard_id // max_concurrency * window


def _check_concurrency(max_concurrency: int) -> None:
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")


async def wait_for_identify_slot(
    shard_id: int,
    started_at: float,
    *,
    max_concurrency: int = 1,
    window: float = IDENTIFY_WINDOW,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> float:
    """Sleep until ``started_at`` plus :func:`identify_delay`; return the seconds slept.

    ``started_at`` is a moment on ``clock``. Only what is left of the delay is slept, so time
    already spent counts; a shard past its slot does not sleep at all.
    """
    due = started_at + identify_delay(shard_id, max_concurrency=max_concurrency, window=window)
    return await _sleep_until(due, clock, sleep)


class IdentifyPacer:
    """Keeps one process's IDENTIFYs on the global schedule of :func:`identify_delay`.

    The schedule starts :data:`CONNECT_ALLOWANCE` seconds after ``started_at`` (the process's
    start on ``clock``, taken before logging in), so that logging in and opening the first
    gateway connection are done before the first slot instead of making it late. A process
    awaits :meth:`before_connect` before ``bot.start()`` and :meth:`before_identify` in its
    ``before_identify_hook`` override.

    In-process, identifies of one bucket are also kept ``window`` apart from each other, as
    discord.py's default hook does; so a shard that is late (a slow connect: discord.py opens
    one connection at a time) delays the next shards of its bucket rather than meeting them.
    """

    def __init__(
        self,
        started_at: float,
        *,
        max_concurrency: int = 1,
        window: float = IDENTIFY_WINDOW,
        allowance: float = CONNECT_ALLOWANCE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        _check_concurrency(max_concurrency)  # reject a bad value now, not at the first identify
        self.started_at = started_at
        self.max_concurrency = max_concurrency
        self.window = window
        self.allowance = allowance
        self._clock = clock
        self._sleep = sleep
        self._identified: set[int] = set()
        self._last_in_bucket: dict[int, float] = {}

    async def before_connect(self, first_shard: int) -> float:
        """Sleep until ``allowance`` seconds before ``first_shard``'s slot; return seconds slept.

        discord.py calls the identify hook on an open connection, inside
        ``shard_connect_timeout`` (180 s by default): a process whose first slot is minutes away
        must wait here, before connecting, not in the hook.
        """
        return await wait_for_identify_slot(
            first_shard,
            self.started_at,
            max_concurrency=self.max_concurrency,
            window=self.window,
            clock=self._clock,
            sleep=self._sleep,
        )

    async def before_identify(self, shard_id: int | None) -> float:
        """Wait before ``shard_id`` identifies; return the seconds slept.

        A shard's first identify waits for its slot. A later one (a re-identify after Invalid
        Session, or discord.py's retry of a failed connect) can come at any time, so it waits
        one ``window``, like discord.py's default hook. ``None`` (an unsharded client) is shard 0.
        """
        shard = 0 if shard_id is None else shard_id
        if shard in self._identified:
            due = self._clock() + self.window
        else:
            self._identified.add(shard)
            due = (
                self.started_at
                + self.allowance
                + identify_delay(shard, max_concurrency=self.max_concurrency, window=self.window)
            )
        bucket = shard % self.max_concurrency
        previous = self._last_in_bucket.get(bucket)
        if previous is not None:
            due = max(due, previous + self.window)
        # Reserve the time before sleeping, so a concurrent call for the same bucket queues behind.
        self._last_in_bucket[bucket] = max(due, self._clock())
        return await _sleep_until(due, self._clock, self._sleep)


async def _sleep_until(due: float, clock: Clock, sleep: Sleep) -> float:
    remaining = due - clock()
    if remaining <= 0:
        return 0.0
    await sleep(remaining)
    return remaining


def _blank_is_none(text: str | None) -> str | None:
    if text is None:
        return None
    return text.strip() or None


def _parse_ids(text: str, count: int) -> tuple[int, ...]:
    highest = count - 1
    ids: set[int] = set()
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            raise ValueError(
                f"SHARD_IDS has an empty item (a doubled or trailing comma?), got {shown(text)}"
            )
        parts = item.split("-")
        bounds = [
            n for n in (whole_number(part.strip(), highest) for part in parts) if n is not None
        ]
        if len(parts) > 2 or len(bounds) != len(parts):
            raise ValueError(
                f"SHARD_IDS must list shard ids and ranges like 0-3,8; {shown(item)} is "
                "neither (only ASCII digits, no negative ids)"
            )
        low, high = bounds[0], bounds[-1]
        if low > high:
            raise ValueError(f"SHARD_IDS range {shown(item)} is reversed: write the lower id first")
        if high > highest:  # checked before the range is expanded
            raise ValueError(
                f"SHARD_IDS item {shown(item)} is out of range: shard ids go from 0 to "
                f"{highest} when SHARD_COUNT is {count}"
            )
        for shard in range(low, high + 1):
            if shard in ids:
                raise ValueError(
                    f"SHARD_IDS lists shard {shard} more than once: each id may appear once"
                )
            ids.add(shard)
    return tuple(sorted(ids))


def _compress(ids: tuple[int, ...]) -> str:
    """Sorted ids as runs: ``(0, 1, 2, 3, 8)`` is ``"0-3, 8"``."""
    runs: list[str] = []
    # Within a run of consecutive ids, id minus position is constant.
    for _, group in groupby(enumerate(ids), key=lambda pair: pair[1] - pair[0]):
        run = [shard for _, shard in group]
        runs.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ", ".join(runs)
