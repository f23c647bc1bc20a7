"""The benchmark's daily-posts scenario: thousands of subscriptions due in the same minute.

What the issue asks of the daily posts: 10,000 subscriptions due in the same minute are all posted
exactly once, none sooner than due, in a time close to what Discord's limits allow (50 requests a
second for the whole bot), with no 429 beyond what discord.py's rate limiter absorbs; and the
memory and the database statements per post.

It runs the real :class:`~bot.daily.DailyService` (its default pacer, real sleeps, real time)
with a real :class:`discord.Client` logged in to :class:`~fakes.FakeDiscordREST`, on a real
database (a SQLite file of its own, or ``--daily-database URL``). Each part has channels of its
own (25 per server), all due at one minute in UTC; the scheduler's wall clock runs at the speed of
real time, set so that the minute comes 2 s after the part starts, and the fake Discord reads the
same clock. In each part: every channel's messages, the earliest post against the due time, the
time to the last post against the floor of ``posts / 50`` s, the busiest second and the 429s the
fake answered.

1. One process, ``N`` subscriptions: the time, the RSS, the statements sent to the database.
2. The same with ``min(N, 2000)``, under tracemalloc: the memory at its peak and after. Apart
   from the first, as tracemalloc slows the scheduler's loop down several times, and the time
   with it.
3. Two processes at once, as during a deploy on Heroku (the old dyno and the new one): two
   services, each with its own engine on the same database and its own client, against one fake
   Discord, so both share the bot's 50 requests a second; ``min(N, 2000)`` subscriptions. The
   posts made twice (there must be none), the 429s, and how the posts split between the two.

The fake Discord runs in a process of its own, as Discord is elsewhere: the memory readings and
the event loop are then the bot's alone, without the fake's record of every message it created.
Both processes read the same monotonic clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import gc
import itertools
import logging
import multiprocessing
import tempfile
import time
import tracemalloc
import zoneinfo
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import discord
import psutil
import sqlalchemy as sa

from bench.servers import counting
from bot.daily import DailyService, DiscordPoster, Schedule
from bot.daily.service import RATE
from bot.database import Database, parse_database_url, schema
from bot.facts import ENGLISH, Language
from bot.facts.pool import Collection
from fakes import FACTS, FakeDiscordREST, pointing_discord_at

DAILY_POSTS = 10_000
SMALLER_PARTS = 2_000
"""Subscriptions of the traced part and of the two-process part, at most."""
DISCORD_RATE = 50
"""Discord's global limit, requests a second for the whole bot: the floor is posts / this."""
LEAD = 2.0
"""Seconds from the start of a part until its minute is due."""
PER_GUILD = 25
FIRST_CHANNEL = 1_250_000_000_000_000_000
FIRST_GUILD = 1_150_000_000_000_000_000
"""Ids of Discord's size: the first channel's and the first server's of the scenario."""
CHANGED_BY = 1_300_000_000_000_000_003
SET_BEFORE = datetime.timedelta(hours=3)
"""How long before its minute each subscription was set."""
PAUSE = 3 / RATE
"""A gap between two posts longer than three of the pacer's intervals: the sending paused."""
POLL = 1.0
"""Seconds between two looks at the database for the posts recorded."""
STARTUP_TIMEOUT = 60.0
"""Seconds the fake Discord's process may take to start, and to answer."""
MB = 1024 * 1024
HERE = Path(__file__).resolve().parent


class ShiftedClock:
    """Real time, shifted: the monotonic clock plus ``shift`` seconds, as a Unix time stamp.

    The scheduler reads it as its wall clock and the fake Discord as its own, in both processes
    (the monotonic clock is the machine's, not a process's)."""

    def __init__(self, shift: float = 0.0) -> None:
        self.shift = shift

    def timestamp(self) -> float:
        return time.monotonic() + self.shift

    def now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.timestamp(), datetime.UTC)

    @classmethod
    def due_in(cls, lead: float, due: datetime.datetime) -> Self:
        """A clock that reaches ``due`` ``lead`` seconds from now."""
        return cls(due.timestamp() - lead - time.monotonic())

    def monotonic(self, moment: datetime.datetime) -> float:
        """``moment`` on the monotonic clock."""
        return moment.timestamp() - self.shift


@dataclass(frozen=True)
class FakeReport:
    """What the fake Discord saw, sent back from its process."""

    messages: list[tuple[int, float]]
    """Each message created: its channel, and when (monotonic clock)."""
    requests: int
    global_429s: int
    route_429s: int
    nonce_duplicates: int
    invalid_requests: int
    """What Discord counts towards its ban of 10,000 invalid requests in 10 minutes (the 429s
    among them)."""
    peak_requests: int
    peak_admitted: int


def serve_fake(connection: Connection) -> None:
    """The fake Discord's process: serve until told to stop (or the benchmark goes away)."""
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        asyncio.run(_serve(connection))


async def _serve(connection: Connection) -> None:
    clock = ShiftedClock()
    async with FakeDiscordREST(wall_clock=clock.timestamp) as fake:
        connection.send((fake.url, fake.token))
        while True:
            request = await asyncio.to_thread(connection.recv)
            if isinstance(request, tuple) and request[0] == "clock":
                clock.shift = float(request[1])
                connection.send("ok")
            elif request == "report":
                connection.send(_report(fake))
            else:
                break


def _report(fake: FakeDiscordREST) -> FakeReport:
    return FakeReport(
        messages=[(m.channel_id, m.created_at) for m in fake.messages],
        requests=fake.requests,
        global_429s=fake.global_429s,
        route_429s=fake.route_429s,
        nonce_duplicates=fake.nonce_duplicates,
        invalid_requests=fake.invalid_requests,
        peak_requests=fake.peak_requests_per_second(),
        peak_admitted=fake.peak_admitted_per_second(),
    )


def _receive(connection: Connection) -> Any:
    if not connection.poll(STARTUP_TIMEOUT):
        raise TimeoutError("the fake Discord's process did not answer")
    return connection.recv()


class RemoteFake:
    """A :class:`~fakes.FakeDiscordREST` in a process of its own: ``async with`` starts it, and
    stops it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=serve_fake, args=(child,), name="fake-discord", daemon=True
        )
        self._child = child
        self.url = ""
        self.token = ""

    async def __aenter__(self) -> Self:
        self._process.start()
        self._child.close()  # the child's end is the child's now
        try:
            self.url, self.token = await self._ask(None)
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stop()

    async def set_clock(self, clock: ShiftedClock) -> None:
        """The fake's wall clock (message ids, time stamps) is ``clock`` from now on."""
        await self._ask(("clock", clock.shift))

    async def report(self) -> FakeReport:
        report: FakeReport = await self._ask("report")
        return report

    async def _ask(self, request: object) -> Any:
        if request is not None:
            self._connection.send(request)
        return await asyncio.to_thread(_receive, self._connection)

    async def _stop(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send("stop")
        await asyncio.to_thread(self._process.join, STARTUP_TIMEOUT)
        if self._process.is_alive():
            self._process.terminate()
            await asyncio.to_thread(self._process.join)
        self._connection.close()


class RateLimitWarnings(logging.Filter):
    """Counts discord.py's warnings about the 429s it waits out and retries, and keeps them off
    the terminal while the scenario runs (the table gives their number); its other messages pass.
    """

    WAITED = "responded with 429. Retrying"
    GLOBAL = "Global rate limit has been hit"

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.WAITED in message:
            self.count += 1
            return False
        return self.GLOBAL not in message

    @contextlib.contextmanager
    def installed(self) -> Iterator[Self]:
        logger = logging.getLogger("discord.http")
        logger.addFilter(self)
        try:
            yield self
        finally:
            logger.removeFilter(self)


@dataclass
class Part:
    """One part's measurements."""

    name: str
    subscriptions: int = 0
    finished: bool = False
    """Every post was recorded in the database before the timeout."""
    recorded: int = 0
    messages: int = 0
    once: int = 0
    """Subscribed channels with exactly one message."""
    twice: int = 0
    """Channels with more than one."""
    missing: int = 0
    stray: int = 0
    """Messages in channels without a subscription of this part."""
    first_after_due: float = 0.0
    last_after_due: float = 0.0
    """From the due time to the last post: the part's time."""
    report: FakeReport | None = None
    rate_limit_warnings: int = 0
    counters: list[dict[str, int]] = field(default_factory=list)
    """Each process's :class:`~bot.daily.service.Counters`."""
    rss_peak: int = 0
    """The highest RSS seen, once a second."""
    paused: float = 0.0
    """Seconds without a post, in the gaps of more than :data:`PAUSE` between two posts."""

    @property
    def floor(self) -> float:
        return self.subscriptions / DISCORD_RATE

    @property
    def ratio(self) -> float:
        return self.last_after_due / self.floor if self.floor else 0.0

    @property
    def at_pacers_rate(self) -> float:
        """The time the pacers would take on their own, each at :data:`RATE`."""
        return self.subscriptions / (RATE * max(len(self.counters), 1))

    @property
    def exactly_once(self) -> bool:
        return (
            self.finished
            and self.once == self.subscriptions
            and self.twice == self.missing == self.stray == 0
            and self.recorded == self.subscriptions
        )

    @property
    def none_early(self) -> bool:
        return self.messages > 0 and self.first_after_due >= 0

    def total(self, counter: str) -> int:
        return sum(c[counter] for c in self.counters)

    def each(self, counter: str) -> str:
        return " + ".join(f"{c[counter]:,}" for c in self.counters) or "?"


@dataclass
class DailyResults:
    dialect: str = ""
    due: datetime.datetime | None = None
    timed: Part = field(default_factory=lambda: Part("one process"))
    traced: Part = field(default_factory=lambda: Part("traced"))
    overlap: Part = field(default_factory=lambda: Part("two at once"))
    rss_before: int = 0
    rss_after: int = 0
    """The timed part's RSS, when it starts and when every post is recorded."""
    buckets: int = 0
    """discord.py's rate-limit buckets the timed part's client held at its end."""
    traced_peak: int = 0
    """tracemalloc's peak during the traced part, above its start."""
    retained: collections.Counter[str] = field(default_factory=collections.Counter)
    """Memory the traced part still held when every post was recorded, above its start, by
    whose code allocated it (the benchmark's own records left out)."""
    statements: collections.Counter[str] = field(default_factory=collections.Counter)
    """The timed part's statements by their first word."""

    def parts(self) -> list[Part]:
        return [part for part in (self.timed, self.traced, self.overlap) if part.subscriptions]


# The scenario ----------------------------------------------------------------------------------


FACTS_COLLECTION = Collection.of(FACTS, "meowfacts")


async def english_facts(language: str) -> Collection:
    return FACTS_COLLECTION


async def english(guild_id: int) -> Language:
    return ENGLISH


def channel_ids(first: int, count: int) -> range:
    return range(FIRST_CHANNEL + first, FIRST_CHANNEL + first + count)


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


async def subscribe(database: Database, channels: range, due: datetime.datetime) -> None:
    """One subscription per channel, all due at ``due``: the rows ``DailyStore.put`` writes, in
    one statement."""
    schedule = Schedule(due.time().replace(second=0, microsecond=0), zoneinfo.ZoneInfo("UTC"))
    rows = [
        {
            "channel_id": channel_id,
            "guild_id": FIRST_GUILD + (channel_id - FIRST_CHANNEL) // PER_GUILD,
            "at": f"{schedule.time:%H:%M}",
            "zone": schedule.zone_name,
            "next_at": due,
            "failures": 0,
            "last_error": None,
            "paused": False,
            "told": "",
            "changed_by": CHANGED_BY,
            "changed_at": due - SET_BEFORE,
        }
        for channel_id in channels
    ]
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(schema.daily_subscriptions), rows)


async def recorded(watcher: Database, channels: range) -> int:
    """The posts of ``channels`` recorded as made."""
    posts = schema.daily_posts
    query = sa.select(sa.func.count()).where(
        posts.c.state == "sent",
        posts.c.channel_id >= channels.start,
        posts.c.channel_id < channels.stop,
    )
    async with watcher.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def until_recorded(watcher: Database, channels: range, part: Part) -> None:
    """Wait until every post of ``channels`` is recorded, or a generous time (twice the pacer's,
    and two minutes more) has passed; note the RSS meanwhile."""
    deadline = time.monotonic() + LEAD + 2 * len(channels) / RATE + 120
    while True:
        part.rss_peak = max(part.rss_peak, rss())
        part.recorded = await recorded(watcher, channels)
        if part.recorded >= len(channels):
            part.finished = True
            return
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(POLL)


@contextlib.asynccontextmanager
async def logged_in(fake: RemoteFake) -> AsyncIterator[discord.Client]:
    """A real client logged in to the fake (REST only, no gateway), closed after."""
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(fake.token)
        yield client
    finally:
        await client.close()


@dataclass
class Posting:
    """A part's world: the fake Discord, the clock, and each process's engine, client and
    service (not started)."""

    fake: RemoteFake
    clock: ShiftedClock
    due: datetime.datetime
    channels: range
    databases: list[Database]
    clients: list[discord.Client]
    services: list[DailyService]


@contextlib.asynccontextmanager
async def posting(
    url: str, due: datetime.datetime, channels: range, processes: int
) -> AsyncIterator[Posting]:
    """``channels`` subscribed, due at ``due``; a fresh fake Discord, and ``processes`` services,
    each with its own engine and client. The clock reaches ``due`` :data:`LEAD` seconds after
    this yields."""
    async with contextlib.AsyncExitStack() as stack:
        databases = [Database(parse_database_url(url)) for _ in range(processes)]
        for database in databases:
            stack.push_async_callback(database.close)
        await subscribe(databases[0], channels, due)
        fake = await stack.enter_async_context(RemoteFake())
        stack.enter_context(pointing_discord_at(fake.url))
        clients = [await stack.enter_async_context(logged_in(fake)) for _ in databases]
        clock = ShiftedClock.due_in(LEAD, due)
        await fake.set_clock(clock)
        services = [
            DailyService(database, DiscordPoster(client), english_facts, english, clock=clock.now)
            for database, client in zip(databases, clients, strict=True)
        ]
        yield Posting(fake, clock, due, channels, databases, clients, services)


async def run_part(world: Posting, part: Part, watcher: Database) -> None:
    """Start the services, wait until every post is recorded, stop them; judge what the fake
    Discord saw."""
    part.subscriptions = len(world.channels)
    with RateLimitWarnings().installed() as warnings:
        for service in world.services:
            service.start()
        try:
            await until_recorded(watcher, world.channels, part)
        finally:
            await asyncio.gather(*(service.aclose() for service in world.services))
    part.rate_limit_warnings = warnings.count
    part.counters = [dataclasses.asdict(service.counters) for service in world.services]
    judge(part, await world.fake.report(), world.channels, world.clock.monotonic(world.due))


def judge(part: Part, report: FakeReport, channels: range, due: float) -> None:
    """Fill ``part`` from what the fake saw; ``due`` is on the monotonic clock."""
    part.report = report
    mine = [(c, at) for c, at in report.messages if c in channels]
    per_channel = collections.Counter(c for c, _ in mine)
    part.messages = len(report.messages)
    part.once = sum(1 for n in per_channel.values() if n == 1)
    part.twice = sum(1 for n in per_channel.values() if n > 1)
    part.missing = len(channels) - len(per_channel)
    part.stray = len(report.messages) - len(mine)
    if mine:
        times = sorted(at for _, at in mine)
        part.first_after_due = times[0] - due
        part.last_after_due = times[-1] - due
        gaps = (later - earlier for earlier, later in itertools.pairwise(times))
        part.paused = sum(gap for gap in gaps if gap > PAUSE)


async def timed(world: Posting, results: DailyResults, watcher: Database) -> None:
    """The one-process part: its time, the RSS, the statements; no tracemalloc (it would slow the
    scheduler's loop down several times, and the time with it)."""
    database, client = world.databases[0], world.clients[0]
    gc.collect()
    results.rss_before = rss()
    with counting(database) as sent:
        await run_part(world, results.timed, watcher)
    results.rss_after = rss()
    results.statements.update(s.lstrip().split(None, 1)[0].upper() for s in sent)
    results.buckets = len(getattr(client.http, "_buckets", ()))


async def traced(world: Posting, results: DailyResults, watcher: Database) -> None:
    """The same on fewer posts, under tracemalloc: the memory it takes, at its peak and after."""
    gc.collect()
    tracemalloc.start()
    try:
        base, start = tracemalloc.get_traced_memory()[0], held()
        await run_part(world, results.traced, watcher)
        results.traced_peak = tracemalloc.get_traced_memory()[1] - base
        gc.collect()
        results.retained = held()
        results.retained.subtract(start)
    finally:
        tracemalloc.stop()


def held() -> collections.Counter[str]:
    """Bytes tracemalloc sees held, by whose code allocated them: a package, the bot, Python's
    own library; the benchmark's own records left out."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(inclusive=False, filename_pattern=f"{HERE}/*")]
    )
    by_owner: collections.Counter[str] = collections.Counter()
    for stat in snapshot.statistics("filename"):
        by_owner[owner(stat.traceback[0].filename)] += stat.size
    return by_owner


def owner(filename: str) -> str:
    """``discord``, ``sqlalchemy``...: the package a file belongs to; ``the bot`` for the
    project's own code; ``Python`` for the rest (the standard library, the interpreter)."""
    path = Path(filename)
    if "site-packages" in path.parts:
        after = path.parts[path.parts.index("site-packages") + 1 :]
        return after[0].removesuffix(".py") if after else "Python"
    if path.is_relative_to(HERE.parent):
        return "the bot"
    return "Python"


async def daily_posts(posts: int, url: str | None = None) -> DailyResults:
    """The three parts, on a fresh SQLite file (or the database at ``url``), each on channels of
    its own and at a minute of its own."""
    results = DailyResults()
    smaller = min(posts, SMALLER_PARTS)
    every = channel_ids(0, posts + 2 * smaller)
    with tempfile.TemporaryDirectory() as directory:
        url = url or f"sqlite:///{directory}/daily.db"
        watcher = Database(parse_database_url(url))
        try:
            await watcher.migrate()
            results.dialect = watcher.dialect
            await _check_unused(watcher, every)
            try:
                await _parts(url, posts, smaller, results, watcher)
            finally:
                await _forget(watcher, every)
        finally:
            await watcher.close()
    return results


async def _parts(
    url: str, posts: int, smaller: int, results: DailyResults, watcher: Database
) -> None:
    # The next whole minute of the real clock: any minute would do, as the clock is shifted.
    now = datetime.datetime.now(datetime.UTC)
    due = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    minute = datetime.timedelta(minutes=1)
    results.due = due
    async with posting(url, due, channel_ids(0, posts), 1) as world:
        await timed(world, results, watcher)
    async with posting(url, due + minute, channel_ids(posts, smaller), 1) as world:
        await traced(world, results, watcher)
    overlap = channel_ids(posts + smaller, smaller)
    async with posting(url, due + 2 * minute, overlap, 2) as world:
        await run_part(world, results.overlap, watcher)


def _within(table: sa.Table, channels: range) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.channel_id >= channels.start, table.c.channel_id < channels.stop)


async def _check_unused(database: Database, channels: range) -> None:
    """Refuse a database that has rows of the benchmark's channels already (``--daily-database``
    given a database in use, or one a benchmark that was killed left behind)."""
    async with database.engine.connect() as connection:
        for table in (schema.daily_subscriptions, schema.daily_posts):
            query = sa.select(sa.func.count()).where(_within(table, channels))
            if (await connection.execute(query)).scalar_one():
                raise SystemExit(
                    f"the database of the daily posts' benchmark has rows in {table.name} for "
                    f"the channel ids it uses ({channels.start} to {channels.stop - 1}): give it "
                    "an empty database"
                )


async def _forget(database: Database, channels: range) -> None:
    """Delete the benchmark's rows: a database given with ``--daily-database`` is left as found."""
    async with database.engine.begin() as connection:
        for table in (schema.daily_posts, schema.daily_subscriptions):
            await connection.execute(sa.delete(table).where(_within(table, channels)))


# The report ------------------------------------------------------------------------------------


Cell = Callable[[Part], str]


def daily_report(results: DailyResults) -> list[tuple[str, bool]]:
    """The scenario's table and its lines; its targets (each post made exactly once, none
    before its time, in every part)."""
    parts = results.parts()
    due = f"{results.due:%H:%M} UTC" if results.due is not None else "?"
    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(results.dialect, results.dialect)
    print(
        f"\ndaily posts on {engine}, due at {due} (and the next minutes): the scheduler paces "
        f"itself at {RATE:g} posts/s; Discord allows {DISCORD_RATE} requests/s for the whole bot"
    )

    def row(label: str, cell: Cell) -> None:
        print(f"{label:<40}" + "".join(f"{cell(part):>16}" for part in parts))

    def reported(cell: Callable[[FakeReport], str]) -> Cell:
        return lambda part: "?" if part.report is None else cell(part.report)

    row("", lambda p: p.name)
    row("subscriptions due in the same minute", lambda p: f"{p.subscriptions:,}")
    row("processes", lambda p: f"{len(p.counters)}")
    row("messages made", lambda p: f"{p.messages:,}")
    row("channels with exactly one message", lambda p: f"{p.once:,}")
    row("  with more / none / not subscribed", lambda p: f"{p.twice} / {p.missing} / {p.stray}")
    row("posts recorded as made", lambda p: f"{p.recorded:,}")
    row("first post after due (s)", lambda p: f"{p.first_after_due:+.3f}")
    row("last post after due (s)", lambda p: f"{p.last_after_due:.2f}")
    row(f"floor at {DISCORD_RATE}/s (s)", lambda p: f"{p.floor:.2f}")
    row("ratio to the floor", lambda p: f"{p.ratio:.3f}")
    row(f"  the pacers alone, {RATE:g}/s each (s)", lambda p: f"{p.at_pacers_rate:.2f}")
    row(f"  gaps of over {PAUSE * 1000:.0f} ms between posts (s)", lambda p: f"{p.paused:.2f}")
    row(
        "busiest second: requests / admitted",
        reported(lambda r: _pair(r.peak_requests, r.peak_admitted)),
    )
    row(
        "429s answered: global / per channel",
        reported(lambda r: _pair(r.global_429s, r.route_429s)),
    )
    row("429s discord.py waited out and retried", lambda p: f"{p.rate_limit_warnings}")
    row("sends answered by the nonce rule", reported(lambda r: f"{r.nonce_duplicates}"))
    row("invalid requests (ban at 10,000/10 min)", reported(lambda r: f"{r.invalid_requests}"))
    row("requests in all (logins included)", reported(lambda r: f"{r.requests:,}"))
    row("posts made, by process", lambda p: p.each("sent"))
    row("claims lost to the other process", lambda p: p.each("lost_claims"))
    row("posts failed for now (to retry)", lambda p: f"{p.total('retried')}")

    timed, traced = results.timed, results.traced
    posts = max(timed.subscriptions, 1)
    growth = (results.rss_after - results.rss_before) / MB
    print(
        f"memory, one process: RSS {results.rss_before / MB:.1f} MB -> "
        f"{results.rss_after / MB:.1f} MB ({growth:+.1f} MB, peak {timed.rss_peak / MB:.1f} MB); "
        f"discord.py held {results.buckets:,} rate-limit buckets at the end (one per channel, "
        "for 5 minutes)"
    )
    if traced.subscriptions:
        retained = sum(results.retained.values())
        owners = ", ".join(
            f"{name} {size / traced.subscriptions:.0f}"
            for name, size in results.retained.most_common(4)
        )
        print(
            f"memory, traced part ({traced.subscriptions:,} posts, tracemalloc): peak "
            f"{results.traced_peak / MB:+.1f} MB over its start, "
            f"{retained / 1024:+.0f} KiB still held when all were recorded "
            f"({retained / traced.subscriptions:.0f} bytes per post: {owners})"
        )
    statements = sum(results.statements.values())
    kinds = ", ".join(f"{kind} {n / posts:.3f}" for kind, n in results.statements.most_common())
    print(
        f"database, one process: {statements:,} statements, {statements / posts:.3f} per post "
        f"({kinds})"
    )
    if timed.counters:
        counters = ", ".join(f"{name} {value}" for name, value in timed.counters[0].items())
        print(f"scheduler counters, one process: {counters}")
    print(
        "checks: "
        + "; ".join(
            f"{part.name}: exactly once: {_yes(part.exactly_once)}, "
            f"none early: {_yes(part.none_early)}"
            for part in parts
        )
    )
    targets = []
    for part in parts:
        targets += [
            (
                f"daily posts, {part.name}: {part.subscriptions:,} due at once, each made "
                f"exactly once  ({part.once:,} once, {part.twice} twice, {part.missing} missing)",
                part.exactly_once,
            ),
            (
                f"daily posts, {part.name}: none before its time  "
                f"(first {part.first_after_due:+.3f} s after due)",
                part.none_early,
            ),
        ]
    return targets


def _pair(a: int, b: int) -> str:
    return f"{a} / {b}"


def _yes(value: bool) -> str:
    return "yes" if value else "NO"
