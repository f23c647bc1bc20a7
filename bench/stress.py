"""``make stress``: the whole suite, again and again, from a fresh clone, on a busy machine.

A test whose verdict depends on the machine's speed passes on an idle machine and fails on a
loaded one. So this clones the committed code into a temporary directory (what CI sees: nothing
uncommitted, nothing left over), builds its environment there, starts one busy process per core
(a Python loop that never sleeps, so nothing needs installing), and runs ``make unit`` there
``--runs`` times while they compete with it, each run in a new random order. It prints each
run's verdict, seed and time, then how many passed, and exits 1 unless every run did.

Run it as ``make stress`` or ``.venv/bin/python -m bench.stress --runs 3``; ``--record`` (what
``make stress RECORD=1`` passes) also writes the result to ``docs/figures/stress.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.figures import REPO, code_block, git, record

BUSY_LOOP = "while True: pass"


@contextlib.contextmanager
def busy_processes(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` processes that each keep one core busy until the block ends."""
    processes = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()


def fresh_clone(into: Path) -> Path:
    """A clone of the repository's committed HEAD, with the test environment built."""
    if git("status", "--porcelain"):
        print("note: uncommitted changes are not part of the clone", flush=True)
    clone = into / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    subprocess.run(["make", "--no-print-directory", ".venv/.dev"], cwd=clone, check=True)
    return clone


def run_suite(clone: Path, log: Path) -> tuple[bool, str, float, str]:
    """One run of ``make unit`` in the clone; (passed, seed, seconds, pytest's summary line).
    Output to ``log``."""
    started = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "unit"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    log.write_text(result.stdout + result.stderr)
    seed = re.search(r"randomly-seed=(\d+)", result.stdout)
    summary = re.findall(r"^=+ (.*\d+ passed.*) =+$", result.stdout, flags=re.MULTILINE)
    coverage = re.search(r"Total coverage: ([\d.]+%)", result.stdout)
    told = summary[-1] if summary else "no summary"
    return (
        result.returncode == 0,
        seed.group(1) if seed else "?",
        seconds,
        f"{told}, branch coverage {coverage.group(1)}" if coverage else told,
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stress", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=10, help="how many times to run the suite")
    parser.add_argument(
        "--load", type=int, default=os.cpu_count() or 2, help="busy processes (default: one a core)"
    )
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep each run's output in this directory"
    )
    parser.add_argument(
        "--record", action="store_true", help="also write the result to docs/figures/stress.md"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="catfact-stress-"))
    logs = args.logs or workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    passed = 0
    lines: list[str] = []
    try:
        clone = fresh_clone(workdir)
        with busy_processes(args.load):
            print(f"running the suite {args.runs} times, {args.load} busy processes", flush=True)
            for run in range(1, args.runs + 1):
                ok, seed, seconds, summary = run_suite(clone, logs / f"run-{run}.log")
                passed += ok
                verdict = "passed" if ok else f"FAILED (output: {logs / f'run-{run}.log'})"
                lines.append(f"run {run}: {verdict} in {seconds:.0f} s, seed {seed}: {summary}")
                print(lines[-1], flush=True)
        lines.append(
            f"\nstress: {passed} of {args.runs} runs passed under {args.load} busy processes"
        )
        print(lines[-1])
        if args.record:
            record(
                "stress",
                "The suite on a busy machine",
                "make stress RECORD=1",
                "`make unit` (pytest on every core, shuffled) run again and again from a fresh "
                f"clone while {args.load} other processes keep the cores busy:\n\n"
                + code_block("\n".join(lines)),
            )
        return 0 if passed == args.runs else 1
    finally:
        shutil.rmtree(workdir / "clone", ignore_errors=True)
        if args.logs is None and passed == args.runs:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
