"""The mutation score of the last ``mutmut run``, and whether it meets the bar (``make mutation``).

A mutant counts as caught when a test failed on it or it made the tests time out (a mutant that
hangs the bot is found as surely as one that breaks an assertion). Every other mutant, including
one that no test reaches, counts against the score.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TARGET = 90.0
"""Per cent of mutants the suite must catch."""

STATS = Path("mutants/mutmut-cicd-stats.json")


def score(stats: dict[str, int]) -> float:
    """Caught mutants as a percentage of those mutmut ran."""
    ran = stats["total"] - stats["skipped"]
    caught = stats["killed"] + stats["timeout"]
    return 100.0 * caught / ran if ran else 0.0


def main() -> int:
    if not STATS.exists():
        print(f"{STATS} is missing: run `make mutation`.", file=sys.stderr)
        return 2
    stats = json.loads(STATS.read_text())
    result = score(stats)
    print(
        f"mutants: {stats['total']}, killed {stats['killed']}, timed out {stats['timeout']}, "
        f"survived {stats['survived']}, not reached by any test {stats['no_tests']}, "
        f"suspicious {stats['suspicious']}, skipped {stats['skipped']}"
    )
    print(f"mutation score: {result:.1f} % (target {TARGET:.0f} %)")
    return 0 if result >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
