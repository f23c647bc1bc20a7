"""Benchmark ``!catfact`` through the real bot, against a slow local upstream.

Every scenario drives the real :class:`~bot.core.CatFactBot` (its cogs, error handler and, unless
stated, its own session and cat-fact client) through dpytest's simulated guild, in process.
Latency is the time from a member's message to the bot's reply having been sent.

Scenarios:

1. ``!add 1 2``, sequentially: the dispatch-only baseline (no I/O at all).
2. ``!catfact``, sequentially, with the bot's buffered client.
3. ``!catfact``, sequentially, with a naive client (a new session per command, no buffer).
4. A burst of concurrent ``!catfact`` on a cold buffer (a bot that has just started).
5. A long run of alternating ``!catfact`` / ``!add`` commands, measuring memory.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord.ext.test as dpytest
import psutil
from discord.ext.test import backend, runner

from bench.naive import NaiveCatFactClient
from bench.upstream import SlowUpstream
from bot.console import close_simulated, simulated_intents, start_simulated
from bot.core import CatFactBot
from bot.settings import Settings
from tests.fakes import refilled

CHANNELS = ["general", "cats", "random"]
MB = 1024 * 1024
DEFAULT_PLOT = Path("docs/bench-latency.png")


@dataclass
class Series:
    """One scenario's measurements."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    connections: int = 0

    def percentile(self, q: int) -> float:
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return cuts[q - 1]


@dataclass
class Results:
    batch: int
    latency_ms: float
    series: list[Series] = field(default_factory=list)
    burst_size: int = 0
    burst_answered: int = 0
    burst_requests: int = 0
    burst_seconds: float = 0.0
    long_commands: int = 0
    rss_start: int = 0
    rss_end: int = 0
    rss_peak: int = 0


def settings_for(upstream: SlowUpstream, batch: int) -> Settings:
    return Settings(
        catfact_api_url=upstream.url,
        catfact_providers=(("meowfacts", None),),
        catfact_batch_size=batch,
        catfact_cooldown=0,  # one simulated member sends everything
    )


async def start_bot(settings: Settings, catfacts: Any = None) -> CatFactBot:
    bot = CatFactBot(settings, intents=simulated_intents(), catfacts=catfacts)
    await start_simulated(bot, text_channels=CHANNELS, members=["alice"])
    return bot


async def drain() -> int:
    """Take the replies dpytest queued (returning how many) and forget its message log.

    dpytest keeps every message of the simulated guild in an unbounded list; left alone, that
    list, not the bot, would dominate the memory readings.
    """
    replies = runner.sent_queue.qsize()
    await dpytest.empty_queue()
    config = backend._cur_config
    assert config is not None
    for messages in config.messages.values():
        messages.clear()
    return replies


async def drive(command: str, count: int) -> list[float]:
    """Send ``command`` ``count`` times, one after another; each reply's latency in ms."""
    latencies: list[float] = []
    replies = 0
    for i in range(count):
        started = time.perf_counter()
        await dpytest.message(command, channel=i % len(CHANNELS))
        latencies.append((time.perf_counter() - started) * 1000)
        if i % 200 == 199:
            replies += await drain()
    replies += await drain()
    if replies != count:
        raise SystemExit(f"{command}: {replies} replies to {count} commands")
    return latencies


async def sequential(upstream: SlowUpstream, results: Results, count: int, naive: int) -> None:
    settings = settings_for(upstream, results.batch)
    bot = await start_bot(settings)
    try:
        await refilled(bot.catfacts)  # steady state: the bot has been up for a while
        await drive("!add 1 2", 50)  # warm-up of dispatch, caches and the allocator
        add = Series("!add 1 2 (no I/O)", await drive("!add 1 2", count))
        upstream.reset_counts()
        fact = Series("!catfact, buffered client", await drive("!catfact", count))
        fact.requests, fact.connections = upstream.requests, len(upstream.connections)
        results.series += [add, fact]
    finally:
        await close_simulated(bot)

    naive_client = NaiveCatFactClient(upstream.url)
    bot = await start_bot(settings, catfacts=naive_client)
    try:
        upstream.reset_counts()
        slow = Series("!catfact, naive client", await drive("!catfact", naive))
        slow.requests, slow.connections = upstream.requests, len(upstream.connections)
        results.series.append(slow)
    finally:
        await close_simulated(bot)


async def burst(upstream: SlowUpstream, results: Results, size: int) -> None:
    upstream.reset_counts()
    bot = await start_bot(settings_for(upstream, results.batch))  # its prefetch is in flight
    try:
        started = time.perf_counter()
        await asyncio.gather(
            *(dpytest.message("!catfact", channel=i % len(CHANNELS)) for i in range(size))
        )
        results.burst_seconds = time.perf_counter() - started
        results.burst_size = size
        results.burst_answered = await drain()
        results.burst_requests = upstream.requests
    finally:
        await close_simulated(bot)


async def long_run(upstream: SlowUpstream, results: Results, count: int) -> None:
    bot = await start_bot(settings_for(upstream, results.batch))
    process = psutil.Process()
    try:
        await refilled(bot.catfacts)
        for command in ("!catfact", "!add 1 2"):  # warm-up
            await drive(command, 1000)
        gc.collect()
        results.rss_start = process.memory_info().rss
        for _ in range(count // 2000):
            await drive("!catfact", 1000)
            await drive("!add 1 2", 1000)
        gc.collect()
        results.rss_end = process.memory_info().rss
        results.long_commands = count // 2000 * 2000
    finally:
        await close_simulated(bot)
    results.rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def run(args: argparse.Namespace) -> Results:
    upstream = SlowUpstream(args.latency_ms / 1000)
    await upstream.start()
    results = Results(batch=args.batch, latency_ms=args.latency_ms)
    try:
        await sequential(upstream, results, args.commands, args.naive_commands)
        await burst(upstream, results, args.burst)
        await long_run(upstream, results, args.long_run)
    finally:
        await upstream.close()
    return results


def report(results: Results, started: float) -> list[tuple[str, bool]]:
    """Print the tables; return each target with whether it was met."""
    print(
        f"\n{results.latency_ms:g} ms upstream latency, batch {results.batch}, "
        f"Python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs\n"
    )
    print(
        f"{'scenario':<28} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'requests':>9} {'TCP conns':>9}"
    )
    for s in results.series:
        io = f"{s.requests:>9} {s.connections:>9}" if "catfact" in s.name else f"{'-':>9} {'-':>9}"
        print(
            f"{s.name:<28} {len(s.latencies_ms):>6} {s.percentile(50):>8.2f} "
            f"{s.percentile(95):>8.2f} {s.percentile(99):>8.2f} {io}"
        )
    add, fact, naive = results.series
    print(
        f"\nburst of {results.burst_size} concurrent !catfact on a cold buffer: "
        f"{results.burst_answered} answered in {results.burst_seconds:.2f} s, "
        f"{results.burst_requests} upstream requests"
    )
    growth = results.rss_end - results.rss_start
    print(
        f"long run of {results.long_commands} commands: RSS {results.rss_start / MB:.1f} MB "
        f"-> {results.rss_end / MB:.1f} MB (growth {growth / 1024:+.0f} KiB), "
        f"peak RSS {results.rss_peak / MB:.1f} MB"
    )
    speedup = naive.percentile(50) / fact.percentile(50)
    print(f"naive client p50 / buffered client p50 = {speedup:.0f}x")

    allowed_burst = math.ceil(results.burst_size / results.batch) + 2
    targets = [
        (
            f"p50 !catfact <= 1.5 x p50 !add  ({fact.percentile(50) / add.percentile(50):.2f} x)",
            fact.percentile(50) <= 1.5 * add.percentile(50),
        ),
        (
            f"upstream requests <= commands / 20  ({fact.requests} <= "
            f"{len(fact.latencies_ms) / 20:g})",
            fact.requests <= len(fact.latencies_ms) / 20,
        ),
        (f"one TCP connection  ({fact.connections})", fact.connections == 1),
        (
            f"burst: all answered, requests <= {allowed_burst}  "
            f"({results.burst_answered}/{results.burst_size}, {results.burst_requests})",
            results.burst_answered == results.burst_size
            and results.burst_requests <= allowed_burst,
        ),
        (f"RSS growth < 2 MB  ({growth / 1024:+.0f} KiB)", growth < 2 * MB),
    ]
    print("\ntargets:")
    for text, met in targets:
        print(f"  {'met   ' if met else 'MISSED'} {text}")
    print(f"\nbenchmark time: {time.perf_counter() - started:.0f} s")
    return targets


def plot(results: Results, path: Path) -> None:
    """Latency distributions (empirical CDFs, log scale) of the sequential scenarios."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.2), dpi=110)
    for series in results.series:
        values = sorted(series.latencies_ms)
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        axes.step(values, fractions, where="post", label=series.name)
    axes.set_xscale("log")
    axes.set_xlabel("latency from message to reply (ms, log scale)")
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
    parser.add_argument("--batch", type=int, default=50, help="CATFACT_BATCH_SIZE")
    parser.add_argument("--commands", type=int, default=2000, help="sequential commands each")
    parser.add_argument("--naive-commands", type=int, default=100, help="naive client commands")
    parser.add_argument("--burst", type=int, default=500, help="concurrent !catfact")
    parser.add_argument("--long-run", type=int, default=20_000, help="commands for memory")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="where the PNG goes")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    results = asyncio.run(run(args))
    targets = report(results, started)
    plot(results, args.plot)
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
