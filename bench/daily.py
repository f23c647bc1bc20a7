"""The benchmark's daily-posts scenario: thousands of subscriptions due in the same minute.

What the issue asks of the daily posts: 10,000 subscriptions due in the same minute are all posted
exactly once, none sooner than due, in a time close to what Discord's limits allow (50 requests a
second for the whole bot), with no 429 beyond what discord.py's rate limiter absorbs; and the
memory and the database statements per post.

It runs the real :class:`~bot.daily.DailyService` (its default pacer, real sleeps, real time)
with a real :class:`discord.Client` logged in to :class:`~fakes.FakeDiscordREST`, on a real
database (a SQLite file of its own, or ``--daily-database URL``):

1. one process: ``N`` subscriptions in channels of their own (25 per server), all due at the
   same minute in UTC. The scheduler's wall clock runs at the speed of real time, set so that the
   minute comes 2 s after the start; the fake Discord reads the same clock. Measured: every
   channel's messages, the earliest post against the due time, the time to the last post against
   the floor of ``N / 50`` s, the busiest second, the 429s the fake answered, the memory
   (tracemalloc, RSS) and the statements sent to the database;
2. two processes at once, as during a deploy on Heroku (the old dyno and the new one): two
   services, each with its own engine on the same database and its own client, against one fake
   Discord, so both share the bot's 50 requests a second; ``min(N, 2000)`` fresh subscriptions,
   due at another minute. Measured: the posts made twice (there must be none), the 429s, the time
   against its floor, and how the posts split between the two.

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
import logging
import multiprocessing
import tempfile
import time
import tracemalloc
import zoneinfo
from collections.abc import AsyncIterator, Iterator
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
OVERLAP_POSTS = 2_000
"""Subscriptions of the two-process part, at most."""
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
POLL = 1.0
"""Seconds between two looks at the database for the posts recorded."""
STARTUP_TIMEOUT = 60.0
"""Seconds the fake Discord's process may take to start, and to answer."""
MB = 1024 * 1024


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
    requests_by_route: dict[str, int]
    global_429s: int
    route_429s: int
    nonce_duplicates: int
    invalid_requests: int
    peak_requests: int
    peak_admitted: int
    rss: int


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
        requests_by_route=dict(fake.requests_by_route),
        global_429s=fake.global_429s,
        route_429s=fake.route_429s,
        nonce_duplicates=fake.nonce_duplicates,
        invalid_requests=fake.invalid_requests,
        peak_requests=fake.peak_requests_per_second(),
        peak_admitted=fake.peak_admitted_per_second(),
        rss=psutil.Process().memory_info().rss,
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


class RateLimitWarnings(logging.Handler):
    """Counts discord.py's warnings about the 429s it waited on, and keeps them off the
    terminal while the scenario runs (the table gives their number)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "responded with 429. Retrying" in record.getMessage():
            self.count += 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[Self]:
        logger = logging.getLogger("discord.http")
        propagate = logger.propagate
        logger.addHandler(self)
        logger.propagate = False
        try:
            yield self
        finally:
            logger.propagate = propagate
            logger.removeHandler(self)


@dataclass
class Part:
    """One part's measurements."""

    name: str
    subscriptions: int = 0
    processes: int = 1
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
    seconds: float = 0.0
    """From the due time to the last post."""
    report: FakeReport | None = None
    rate_limit_warnings: int = 0
    counters: list[dict[str, int]] = field(default_factory=list)
    """Each process's :class:`~bot.daily.service.Counters`."""

    @property
    def floor(self) -> float:
        return self.subscriptions / DISCORD_RATE

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor if self.floor else 0.0

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

    def sent(self) -> list[int]:
        return [c["sent"] for c in self.counters]


@dataclass
class DailyResults:
    dialect: str = ""
    due: datetime.datetime | None = None
    single: Part = field(default_factory=lambda: Part("one process"))
    overlap: Part | None = None
    traced_peak: int = 0
    """tracemalloc's peak during the one-process part, above its start."""
    retained: int = 0
    """Memory still held when every post was recorded, above the start (the benchmark's own
    records left out)."""
    rss_before: int = 0
    rss_after: int = 0
    statements: collections.Counter[str] = field(default_factory=collections.Counter)
    """The one-process part's statements by their first word."""


# The scenario ----------------------------------------------------------------------------------


async def english_facts(language: str) -> Collection:
    return FACTS_COLLECTION


async def english(guild_id: int) -> Language:
    return ENGLISH


FACTS_COLLECTION = Collection.of(FACTS, "meowfacts")


def channel_ids(first: int, count: int) -> range:
    return range(FIRST_CHANNEL + first, FIRST_CHANNEL + first + count)


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


async def until_recorded(watcher: Database, channels: range, part: Part, seconds: float) -> None:
    """Wait until every post of ``channels`` is recorded, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        part.recorded = await recorded(watcher, channels)
        if part.recorded >= len(channels):
            part.finished = True
            return
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(POLL)


def timeout_for(posts: int) -> float:
    """Generous: twice the pacer's time, and two minutes more."""
    return LEAD + 2 * posts / RATE + 120


@contextlib.asynccontextmanager
async def logged_in(fake: RemoteFake) -> AsyncIterator[discord.Client]:
    """A real client logged in to the fake (REST only, no gateway), closed after."""
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(fake.token)
        yield client
    finally:
        await client.close()


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
        times = [at for _, at in mine]
        part.first_after_due = min(times) - due
        part.last_after_due = max(times) - due
        part.seconds = part.last_after_due


async def one_process(
    url: str, due: datetime.datetime, posts: int, results: DailyResults, watcher: Database
) -> None:
    """Part 1: ``posts`` subscriptions due at ``due``, one service."""
    part = results.single
    part.subscriptions = posts
    channels = channel_ids(0, posts)
    database = Database(parse_database_url(url))
    try:
        await subscribe(database, channels, due)
        async with RemoteFake() as fake:
            with pointing_discord_at(fake.url):
                async with logged_in(fake) as client:
                    clock = ShiftedClock.due_in(LEAD, due)
                    await fake.set_clock(clock)
                    service = DailyService(
                        database, DiscordPoster(client), english_facts, english, clock=clock.now
                    )
                    await _measured(service, watcher, channels, results)
            judge(part, await fake.report(), channels, clock.monotonic(due))
    finally:
        await database.close()


async def _measured(
    service: DailyService, watcher: Database, channels: range, results: DailyResults
) -> None:
    """Run ``service`` until every post of ``channels`` is recorded, measuring the memory and
    the statements meanwhile."""
    assert service.database is not None
    part = results.single
    process = psutil.Process()
    gc.collect()
    results.rss_before = process.memory_info().rss
    tracemalloc.start()
    try:
        base, start = tracemalloc.get_traced_memory()[0], _held()
        with (
            RateLimitWarnings().installed() as warnings,
            counting(service.database) as sent,
        ):
            service.start()
            try:
                await until_recorded(watcher, channels, part, timeout_for(len(channels)))
            finally:
                await service.aclose()
        results.traced_peak = tracemalloc.get_traced_memory()[1] - base
        gc.collect()
        results.retained = _held() - start
    finally:
        tracemalloc.stop()
    results.rss_after = process.memory_info().rss
    results.statements.update(s.lstrip().split(None, 1)[0].upper() for s in sent)
    part.rate_limit_warnings = warnings.count
    part.counters = [dataclasses.asdict(service.counters)]


def _held() -> int:
    """Bytes tracemalloc sees held, less the benchmark's own records (the statements counted,
    the results)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(inclusive=False, filename_pattern=f"{Path(__file__).parent}/*")]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def two_processes(
    url: str, due: datetime.datetime, posts: int, first: int, watcher: Database
) -> Part:
    """Part 2: two services at once over ``posts`` fresh subscriptions due at ``due``."""
    part = Part("two at once", subscriptions=posts, processes=2)
    channels = channel_ids(first, posts)
    databases = [Database(parse_database_url(url)) for _ in range(2)]
    try:
        await subscribe(databases[0], channels, due)
        async with RemoteFake() as fake:
            with pointing_discord_at(fake.url):
                async with logged_in(fake) as one, logged_in(fake) as other:
                    clock = ShiftedClock.due_in(LEAD, due)
                    await fake.set_clock(clock)
                    services = [
                        DailyService(
                            database,
                            DiscordPoster(client),
                            english_facts,
                            english,
                            clock=clock.now,
                        )
                        for database, client in zip(databases, (one, other), strict=True)
                    ]
                    with RateLimitWarnings().installed() as warnings:
                        for service in services:
                            service.start()
                        try:
                            await until_recorded(watcher, channels, part, timeout_for(posts))
                        finally:
                            await asyncio.gather(*(service.aclose() for service in services))
            part.rate_limit_warnings = warnings.count
            part.counters = [dataclasses.asdict(service.counters) for service in services]
            judge(part, await fake.report(), channels, clock.monotonic(due))
    finally:
        for database in databases:
            await database.close()
    return part


async def daily_posts(posts: int, url: str | None = None) -> DailyResults:
    """Both parts, on a fresh SQLite file (or the database at ``url``)."""
    results = DailyResults()
    with tempfile.TemporaryDirectory() as directory:
        url = url or f"sqlite:///{directory}/daily.db"
        setup = Database(parse_database_url(url))
        try:
            await setup.migrate()
            results.dialect = setup.dialect
        finally:
            await setup.close()
        # The next whole minute of the real clock: any minute would do, as the clock is shifted.
        now = datetime.datetime.now(datetime.UTC)
        due = now.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        results.due = due
        watcher = Database(parse_database_url(url))
        try:
            await one_process(url, due, posts, results, watcher)
            later = due + datetime.timedelta(minutes=1)  # fresh channels, at another minute
            overlap = min(posts, OVERLAP_POSTS)
            results.overlap = await two_processes(url, later, overlap, posts, watcher)
        finally:
            await watcher.close()
    return results


# The report ------------------------------------------------------------------------------------


def daily_report(results: DailyResults) -> list[tuple[str, bool]]:
    """The scenario's table and its lines; its targets (each post made exactly once, none
    before its time, in both parts)."""
    single, overlap = results.single, results.overlap
    parts = [single] if overlap is None else [single, overlap]
    due = f"{results.due:%H:%M} UTC" if results.due is not None else "?"
    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(results.dialect, results.dialect)
    print(
        f"\ndaily posts: {single.subscriptions:,} subscriptions due at {due}, on {engine}; "
        f"the scheduler paces itself at {RATE:g} posts/s, Discord allows {DISCORD_RATE} "
        "requests/s for the whole bot"
    )

    def row(label: str, cell: Any) -> None:
        print(f"{label:<40}" + "".join(f"{cell(part):>16}" for part in parts))

    def reported(value: Any) -> Any:
        return lambda part: "?" if part.report is None else value(part.report)

    row("", lambda part: part.name)
    row("subscriptions", lambda part: f"{part.subscriptions:,}")
    row("messages made", lambda part: f"{part.messages:,}")
    row("channels with exactly one message", lambda part: f"{part.once:,}")
    row("  with more / none / not subscribed", lambda p: f"{p.twice} / {p.missing} / {p.stray}")
    row("posts recorded as made", lambda part: f"{part.recorded:,}")
    row("first post after due (s)", lambda part: f"{part.first_after_due:+.3f}")
    row("last post after due (s)", lambda part: f"{part.last_after_due:.2f}")
    row(f"floor at {DISCORD_RATE}/s (s)", lambda part: f"{part.floor:.2f}")
    row("ratio to the floor", lambda part: f"{part.ratio:.3f}")
    row(
        "busiest second: requests / admitted",
        reported(lambda r: _pair(r.peak_requests, r.peak_admitted)),
    )
    row(
        "429s answered: global / per channel",
        reported(lambda r: _pair(r.global_429s, r.route_429s)),
    )
    row("429s discord.py waited on and retried", lambda part: f"{part.rate_limit_warnings}")
    row("sends answered by the nonce rule", reported(lambda r: f"{r.nonce_duplicates}"))
    row("requests in all", reported(lambda r: f"{r.requests:,}"))
    row("posts made by each process", lambda part: " + ".join(f"{n:,}" for n in part.sent()))
    row(
        "claims lost to the other",
        lambda p: " + ".join(f"{c['lost_claims']:,}" for c in p.counters),
    )
    row(
        "posts that failed and wait for a retry",
        lambda p: f"{sum(c['retried'] for c in p.counters)}",
    )

    posts = max(single.subscriptions, 1)
    statements = sum(results.statements.values())
    kinds = ", ".join(f"{kind} {n / posts:.3f}" for kind, n in results.statements.most_common())
    growth = (results.rss_after - results.rss_before) / MB
    print(
        f"memory (one process): tracemalloc peak {results.traced_peak / MB:+.1f} MB over the "
        f"run, {results.retained / 1024:+.0f} KiB still held after it "
        f"({results.retained / posts:.0f} bytes per post); RSS {results.rss_before / MB:.1f} MB "
        f"-> {results.rss_after / MB:.1f} MB ({growth:+.1f} MB)"
    )
    print(
        f"database (one process): {statements:,} statements, {statements / posts:.3f} per post "
        f"({kinds})"
    )
    counters = (
        ", ".join(f"{name} {value}" for name, value in single.counters[0].items())
        if single.counters
        else "?"
    )
    print(f"scheduler counters (one process): {counters}")
    for part in parts:
        print(
            f"checks, {part.name}: exactly once: {_yes(part.exactly_once)}, "
            f"none early: {_yes(part.none_early)}"
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
