"""Benchmark ``!catfact`` through the real bot, against a slow local upstream.

Every scenario drives the real :class:`~bot.core.CatFactBot` (its cogs, error handler and, unless
stated, its own session and cat-fact client) through dpytest's simulated guild, in process. The
upstream is the test suite's fake meowfacts (91 English facts, like the real one), answering each
request after a delay.

Latency is measured twice for every command: until the bot hands its reply to Discord's HTTP layer
(the bot's own work: what a user waits for, less the network), and until dpytest has also turned
that reply into a message of the simulated guild (the simulator's work on the reply, which
Discord's servers would do, comes on top: it is larger for an embed than for a line of text).

Scenarios:

1. Steady state: ``!add 1 2`` (no I/O at all) and ``!catfact`` (answered from the pool), in
   alternating blocks, after the bot's first fill; the upstream requests they cause.
2. ``!catfact`` with a naive client (a new session and a request per command), for comparison.
3. A burst of concurrent ``!catfact`` on a bot that has just started (its first fill in flight).
4. Variety: as many ``!catfact`` in one channel as the collection holds.
5. Memory: the state kept per channel, and the RSS over a long run spread over many channels.
6. Server settings (:mod:`bench.servers`): ``!add`` with no server's settings stored and with
   10,000 stored, ``!catfact`` in English and in German, and the database reads meanwhile.
7. Daily posts (:mod:`bench.daily`): 10,000 subscriptions due in the same minute, posted by the
   real scheduler through a real discord.py client to a local fake of Discord's REST API, in real
   time (about six minutes): each posted exactly once, none early, the time against Discord's
   limit of 50 requests a second, the 429s, the memory and the database statements per post;
   then 2,000 more under tracemalloc, and 2,000 with two processes at once. ``--daily-posts 0``
   skips it, ``--only-daily`` runs it alone.

It prints its tables and writes nothing, unless asked: ``--plot PATH`` saves the latency plot,
and ``--record`` (``make bench RECORD=1``) writes the tables and the plot to ``docs/figures/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import io
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import psutil
from discord.ext.test import runner

from bench.daily import DAILY_POSTS, DailyResults, daily_posts, daily_report
from bench.figures import FIGURES, code_block, record
from bench.naive import NaiveCatFactClient
from bench.servers import STORED_SERVERS, ServerSettingsResults, server_settings
from bench.upstream import SlowUpstream
from bot.console import close_simulated, simulated_intents, start_simulated
from bot.core import CatFactBot
from bot.database import parse_database_url
from bot.facts import Served
from bot.facts.pool import Collection, Rotation
from bot.settings import Settings
from cogs.catfact import OFFLINE_FOOTER
from fakes import FACTS, forget_message_log, on_send, restart_ids

CHANNELS = ["general", "cats", "random"]
MB = 1024 * 1024
PLOT_NAME = "benchmark-latency.png"
STATE_LIMIT = 128
"""Bytes of memory per channel the pool may keep: a counter, not a record of facts told (a set
of the 91 facts a channel has seen would take kilobytes)."""


@dataclass
class Series:
    """One scenario's measurements, in milliseconds."""

    name: str
    handed_ms: list[float] = field(default_factory=list)
    """Until the reply was handed to Discord's HTTP layer."""
    round_trip_ms: list[float] = field(default_factory=list)
    """Until the simulated guild had the reply as a message."""
    requests: int | None = None
    connections: int | None = None

    def percentile(self, q: int, *, round_trip: bool = False) -> float:
        values = self.round_trip_ms if round_trip else self.handed_ms
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Results:
    latency_ms: float
    series: list[Series] = field(default_factory=list)
    steady_commands: int = 0
    steady_requests: int = 0
    burst_size: int = 0
    burst_live: int = 0
    burst_offline: int = 0
    burst_waited: int = 0
    burst_requests: int = 0
    burst_seconds: float = 0.0
    variety_told: int = 0
    variety_distinct: int = 0
    state_channels: int = 0
    state_bytes_per_channel: float = 0.0
    long_commands: int = 0
    rss_start: int = 0
    rss_end: int = 0
    rss_peak: int = 0
    settings_series: dict[str, Series] = field(default_factory=dict)
    settings: ServerSettingsResults = field(default_factory=ServerSettingsResults)
    daily: DailyResults | None = None


def settings_for(upstream: SlowUpstream) -> Settings:
    return Settings(
        catfact_api_url=upstream.url,
        catfact_providers=(("meowfacts", None),),
        catfact_cooldown=0,  # one simulated member sends everything
    )


async def start_bot(
    settings: Settings, catfacts: Any = None, channels: Sequence[str] = CHANNELS
) -> CatFactBot:
    restart_ids()  # each bot's server gets an id of Discord's size, however many came before
    bot = CatFactBot(settings, intents=simulated_intents(), catfacts=catfacts)
    await start_simulated(bot, text_channels=list(channels), members=["alice"])
    return bot


class HandOff:
    """Notes when the bot hands a message to Discord's HTTP layer (dpytest's, here)."""

    def __init__(self, bot: CatFactBot) -> None:
        self.at: float | None = None
        on_send(bot, self._noted)

    def _noted(self, payload: object) -> None:
        if self.at is None:
            self.at = time.perf_counter()

    def expect(self) -> None:
        """Forget the last hand-off: the next message sent is the next command's reply."""
        self.at = None

    def seen(self, command: str) -> float:
        """When the reply was handed over (perf_counter); fails if there was none."""
        if self.at is None:
            raise SystemExit(f"{command} was not answered")
        return self.at


async def replies() -> list[discord.Message]:
    """Take the replies dpytest queued, and forget its message log."""
    taken = []
    while not runner.sent_queue.empty():
        taken.append(runner.sent_queue.get_nowait())
    forget_message_log()  # dpytest's log of the guild, not the bot, would fill the memory readings
    return taken


async def drive(series: Series, hand_off: HandOff, command: str, count: int) -> None:
    """Send ``command`` ``count`` times, one after another, noting each reply's latencies."""
    answered = 0
    for i in range(count):
        hand_off.expect()
        started = time.perf_counter()
        await dpytest.message(command, channel=i % len(CHANNELS))
        done = time.perf_counter()
        series.handed_ms.append((hand_off.seen(command) - started) * 1000)
        series.round_trip_ms.append((done - started) * 1000)
        if i % 200 == 199:
            answered += len(await replies())
    answered += len(await replies())
    if answered != count:
        raise SystemExit(f"{command}: {answered} replies to {count} commands")


async def steady_state(upstream: SlowUpstream, results: Results, commands: int) -> None:
    """``!add`` and ``!catfact`` in alternating blocks, so both meet the same conditions."""
    upstream.reset_counts()
    bot = await start_bot(settings_for(upstream))
    add, fact = Series("!add 1 2 (no I/O)"), Series("!catfact, from the pool")
    try:
        assert await bot.catfacts.refresh()  # after the first fill: the bot has been up a while
        hand_off = HandOff(bot)
        warm_up = Series("warm-up")
        await drive(warm_up, hand_off, "!add 1 2", 200)
        await drive(warm_up, hand_off, "!catfact", 200)
        block = 1000
        for _ in range(max(1, commands // (2 * block))):
            await drive(add, hand_off, "!add 1 2", block)
            await drive(fact, hand_off, "!catfact", block)
        fact.requests, fact.connections = upstream.requests, len(upstream.connections)
        results.steady_commands = len(add.handed_ms) + len(fact.handed_ms) + 400
        results.steady_requests = upstream.requests
    finally:
        await close_simulated(bot)
    results.series += [add, fact]


async def servers(upstream: SlowUpstream, results: Results, commands: int) -> None:
    """Scenario 6: the bot on a real SQLite database, its settings service swapped by blocks."""
    with tempfile.TemporaryDirectory() as directory:
        database = parse_database_url(f"sqlite:///{directory}/empty.db")
        bot = await start_bot(dataclasses.replace(settings_for(upstream), database=database))
        try:
            assert await bot.catfacts.refresh()
            hand_off = HandOff(bot)

            async def block(label: str, command: str, count: int) -> None:
                series = results.settings_series.setdefault(label, Series(label))
                await drive(series, hand_off, command, count)

            results.settings = await server_settings(bot, block, commands)
        finally:
            await close_simulated(bot)
    results.settings_series.pop("warm-up", None)


async def naive(upstream: SlowUpstream, results: Results, commands: int) -> None:
    upstream.reset_counts()
    bot = await start_bot(settings_for(upstream), catfacts=NaiveCatFactClient(upstream.url))
    slow = Series("!catfact, naive client")
    try:
        await drive(slow, HandOff(bot), "!catfact", commands)
        slow.requests, slow.connections = upstream.requests, len(upstream.connections)
    finally:
        await close_simulated(bot)
    results.series.append(slow)


async def burst(upstream: SlowUpstream, results: Results, size: int) -> None:
    upstream.reset_counts()
    bot = await start_bot(settings_for(upstream))  # its first fill is in flight
    try:
        started = time.perf_counter()
        await asyncio.gather(
            *(dpytest.message("!catfact", channel=i % len(CHANNELS)) for i in range(size))
        )
        results.burst_seconds = time.perf_counter() - started
        told = await replies()
        embeds = [message.embeds[0] for message in told if message.embeds]
        results.burst_size = size
        results.burst_offline = sum(embed.footer.text == OFFLINE_FOOTER for embed in embeds)
        results.burst_live = sum(
            embed.footer.text != OFFLINE_FOOTER and embed.description in FACTS for embed in embeds
        )
        results.burst_waited = bot.catfacts.stats.served[Served.WAITED]
        results.burst_requests = upstream.requests
    finally:
        await close_simulated(bot)


async def variety(upstream: SlowUpstream, results: Results) -> None:
    bot = await start_bot(settings_for(upstream))
    try:
        await bot.catfacts.refresh()
        for _ in range(len(FACTS)):
            await dpytest.message("!catfact", channel=0)
        told = [message.embeds[0].description for message in await replies()]
        results.variety_told, results.variety_distinct = len(told), len(set(told))
    finally:
        await close_simulated(bot)


def state_per_channel(channels: int, per_channel: int) -> float:
    """Bytes the pool keeps for each channel that has had ``per_channel`` facts (tracemalloc).

    The channel ids exist before the measurement, as they do in the bot (discord.py holds them).
    """
    ids = [1_100_000_000_000_000_000 + n for n in range(channels)]
    rotation = Rotation(Collection.of(FACTS, "meowfacts"), key=1)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(per_channel):
        for channel in ids:
            rotation.deal(channel)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / channels


async def long_run(upstream: SlowUpstream, results: Results, commands: int, channels: int) -> None:
    names = [f"channel-{n}" for n in range(channels)]
    bot = await start_bot(settings_for(upstream), channels=names)
    process = psutil.Process()
    try:
        await bot.catfacts.refresh()
        for i in range(2000):  # warm-up, in a few channels only
            await dpytest.message("!catfact" if i % 2 else "!add 1 2", channel=i % 10)
            if i % 200 == 199:
                await replies()
        await replies()
        gc.collect()
        results.rss_start = process.memory_info().rss
        for i in range(commands):
            await dpytest.message("!catfact", channel=i % channels)
            if i % 1000 == 999:
                await replies()
        await replies()
        gc.collect()
        results.rss_end = process.memory_info().rss
        results.long_commands = commands
    finally:
        await close_simulated(bot)
    results.state_channels = channels
    results.state_bytes_per_channel = state_per_channel(channels, max(1, commands // channels))
    results.rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def run(args: argparse.Namespace) -> Results:
    results = Results(latency_ms=args.latency_ms)
    if not args.only_daily:
        upstream = SlowUpstream(args.latency_ms / 1000)
        await upstream.start()
        try:
            await steady_state(upstream, results, args.commands)
            await servers(upstream, results, args.settings_commands)
            await naive(upstream, results, args.naive_commands)
            await burst(upstream, results, args.burst)
            await variety(upstream, results)
            await long_run(upstream, results, args.long_run, args.channels)
        finally:
            await upstream.close()
    if args.daily_posts:
        results.daily = await daily_posts(args.daily_posts, args.daily_database)
    return results


def report(results: Results, started: float) -> list[tuple[str, bool]]:
    """Print the tables; return each target with whether it was met."""
    machine = f"Python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs"
    targets: list[tuple[str, bool]] = []
    if results.series:
        upstream = f"{results.latency_ms:g} ms upstream latency, {len(FACTS)} facts upstream"
        print(f"\n{upstream}, {machine}\n")
        targets += catfact_report(results)
    else:
        print(f"\n{machine}")
    if results.daily is not None:
        targets += daily_report(results.daily)
    print("\ntargets:")
    for text, met in targets:
        print(f"  {'met   ' if met else 'MISSED'} {text}")
    print(f"\nbenchmark time: {time.perf_counter() - started:.0f} s")
    return targets


def catfact_report(results: Results) -> list[tuple[str, bool]]:
    """Scenarios 1 to 6's tables; their targets."""
    print(f"{'':<26} {'':>6}  {'reply handed to Discord':^26}  {'and through dpytest':^26}")
    print(
        f"{'scenario':<26} {'n':>6}  {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  {'requests':>8} {'TCP conns':>9}"
    )
    for s in results.series:
        io = "" if s.requests is None else f"{s.requests:>8} {s.connections:>9}"
        cells = [s.percentile(q) for q in (50, 95, 99)]
        cells += [s.percentile(q, round_trip=True) for q in (50, 95, 99)]
        print(
            f"{s.name:<26} {len(s.handed_ms):>6}  "
            + " ".join(f"{c:>8.3f}" for c in cells[:3])
            + "  "
            + " ".join(f"{c:>8.3f}" for c in cells[3:])
            + f"  {io}"
        )
    add, fact, slow = results.series
    print(
        f"\nsteady state: {results.steady_commands} commands after the first fill, "
        f"{results.steady_requests} upstream request(s) in all"
    )
    print(
        f"burst of {results.burst_size} concurrent !catfact on a cold start: "
        f"{results.burst_live} live facts ({results.burst_waited} of them waited for the first "
        f"fill), {results.burst_offline} offline, all in {results.burst_seconds:.2f} s, "
        f"{results.burst_requests} upstream request(s)"
    )
    print(
        f"variety: {results.variety_told} !catfact in one channel gave "
        f"{results.variety_distinct} different facts"
    )
    state = results.state_channels * results.state_bytes_per_channel
    growth = results.rss_end - results.rss_start
    print(
        f"memory: {results.state_bytes_per_channel:.0f} bytes of state per channel; "
        f"{results.long_commands} !catfact over {results.state_channels} channels: RSS "
        f"{results.rss_start / MB:.1f} MB -> {results.rss_end / MB:.1f} MB "
        f"(growth {growth / 1024:+.0f} KiB, of which channel state {state / 1024:.0f} KiB), "
        f"peak RSS {results.rss_peak / MB:.1f} MB"
    )
    print(
        f"naive client p50 / pool p50 = {slow.percentile(50) / fact.percentile(50):.0f}x "
        f"(handed to Discord)"
    )

    def ratio(q: int, *, round_trip: bool = False) -> float:
        return fact.percentile(q, round_trip=round_trip) / add.percentile(q, round_trip=round_trip)

    targets = [
        (f"p50 !catfact <= 1.1 x p50 !add  ({ratio(50):.2f} x)", ratio(50) <= 1.1),
        (f"p99 !catfact <= 1.5 x p99 !add  ({ratio(99):.2f} x)", ratio(99) <= 1.5),
        (
            f"upstream requests for {results.steady_commands} commands <= 2  "
            f"({results.steady_requests})",
            results.steady_requests <= 2,
        ),
        (
            f"cold burst: {results.burst_size} live facts, <= 3 upstream requests  "
            f"({results.burst_live}, {results.burst_requests})",
            results.burst_live == results.burst_size
            and results.burst_requests <= 3
            and results.burst_waited > 0,  # it really was a cold start
        ),
        (
            f"{len(FACTS)} !catfact in one channel: {len(FACTS)} different facts  "
            f"({results.variety_distinct})",
            results.variety_distinct == len(FACTS),
        ),
        (
            f"state per channel <= {STATE_LIMIT} bytes  ({results.state_bytes_per_channel:.0f})",
            results.state_bytes_per_channel <= STATE_LIMIT,
        ),
        (
            f"RSS growth beyond the channel state < 2 MB  ({(growth - state) / 1024:+.0f} KiB)",
            growth - state < 2 * MB,
        ),
    ]
    targets += settings_report(results)
    print(
        f"\nthrough dpytest as well (not a target): p50 {ratio(50, round_trip=True):.2f} x, "
        f"p99 {ratio(99, round_trip=True):.2f} x"
    )
    return targets


def settings_report(results: Results) -> list[tuple[str, bool]]:
    """Scenario 6's table; its targets."""
    print(f"\nserver settings ({results.settings.stored:,} servers in memory in the full case)")
    print(f"{'scenario':<30} {'n':>6}  {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for s in results.settings_series.values():
        cells = " ".join(f"{s.percentile(q):>8.3f}" for q in (50, 95, 99))
        print(f"{s.name:<30} {len(s.handed_ms):>6}  {cells}")
    series = list(results.settings_series.values())
    none, stored, english, german = series

    def over(a: Series, b: Series, q: int) -> float:
        return a.percentile(q) / b.percentile(q)

    stored_ratio = over(stored, none, 50)
    en = (over(english, stored, 50), over(english, stored, 99))
    de = (over(german, stored, 50), over(german, stored, 99))
    print(
        f"!catfact / !add (same service): English p50 {en[0]:.2f} x, p99 {en[1]:.2f} x; "
        f"German p50 {de[0]:.2f} x, p99 {de[1]:.2f} x"
    )
    return [
        (
            f"p50 !add, {STORED_SERVERS:,} servers stored <= 1.05 x p50 with none  "
            f"({stored_ratio:.3f} x)",
            stored_ratio <= 1.05,
        ),
        (
            f"German !catfact as English: p50 <= 1.1 x, p99 <= 1.5 x !add  "
            f"({de[0]:.2f} x, {de[1]:.2f} x)",
            de[0] <= 1.1 and de[1] <= 1.5,
        ),
        (
            f"database reads while commands ran, after the server's first: 0  "
            f"({results.settings.statements})",
            results.settings.statements == 0,
        ),
    ]


def plot(results: Results, path: Path) -> None:
    """Latency distributions (empirical CDFs, log scale) of the sequential scenarios."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.2), dpi=110)
    for series in results.series:
        values = sorted(series.handed_ms)
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        axes.step(values, fractions, where="post", label=series.name)
    axes.set_xscale("log")
    axes.set_xlabel("latency from message to reply handed to Discord (ms, log scale)")
    axes.set_ylabel("fraction of commands")
    axes.set_title(
        f"!catfact vs !add through the real bot, upstream latency {results.latency_ms:g} ms"
    )
    axes.grid(visible=True, which="both", alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    print(f"plot saved to {path}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=100.0, help="upstream latency")
    parser.add_argument(
        "--commands", type=int, default=20_000, help="steady-state commands, half of each kind"
    )
    parser.add_argument(
        "--settings-commands", type=int, default=5000, help="server-settings commands of each kind"
    )
    parser.add_argument("--naive-commands", type=int, default=100, help="naive client commands")
    parser.add_argument("--burst", type=int, default=1000, help="concurrent !catfact, cold start")
    parser.add_argument("--long-run", type=int, default=100_000, help="commands for memory")
    parser.add_argument("--channels", type=int, default=10_000, help="channels of the long run")
    parser.add_argument(
        "--daily-posts",
        type=int,
        default=DAILY_POSTS,
        help="subscriptions due in the same minute (real time: about N / 40 s, and two parts of "
        "up to 2,000 more); 0 skips them",
    )
    parser.add_argument(
        "--daily-database",
        metavar="URL",
        default=None,
        help="run the daily posts on this database, which it migrates and leaves as it found it "
        "(default: a temporary SQLite file)",
    )
    parser.add_argument(
        "--only-daily", action="store_true", help="run the daily posts only, no other scenario"
    )
    parser.add_argument("--plot", type=Path, default=None, help="save the latency plot here")
    parser.add_argument(
        "--record", action="store_true", help="write the tables and the plot to docs/figures/"
    )
    args = parser.parse_args(argv)
    if args.daily_posts < 0:
        parser.error("--daily-posts must be 0 or more")
    if args.only_daily and not args.daily_posts:
        parser.error("--only-daily with --daily-posts 0 would run nothing")
    if args.only_daily and (args.record or args.plot):
        parser.error(
            "--only-daily has no latency plot, and --record writes the whole benchmark's page: "
            "run them without --only-daily"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results = asyncio.run(run(args))
    printed = io.StringIO()
    with contextlib.redirect_stdout(Tee(sys.stdout, printed)):
        targets = report(results, started)
    if args.plot:
        plot(results, args.plot)
    if args.record:
        plot(results, FIGURES / PLOT_NAME)
        record(
            "benchmark",
            "Benchmark: !catfact against a slow upstream",
            "make bench RECORD=1",
            f"{code_block(printed.getvalue())}\n\n![Latency distributions]({PLOT_NAME})",
        )
    return 0 if all(met for _, met in targets) else 1


class Tee(io.TextIOBase):
    """Writes to several streams at once: the terminal, and the copy kept for the figures."""

    def __init__(self, *streams: io.TextIOBase | Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)


if __name__ == "__main__":
    sys.exit(main())
