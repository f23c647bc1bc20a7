"""The mutation score of the last ``mutmut run``, and whether it meets the bar (``make mutation``).

A mutant counts as caught when a test failed on it or it made the tests time out (a mutant that
hangs the bot is found as surely as one that breaks an assertion). Every other mutant, including
one that no test reaches, counts against the score.

Equivalent mutants (changes no test could ever observe) are not kept in a list: the code says
so where they are, a ``# Equivalent mutants: <why>`` comment above a line marked
``# pragma: no mutate`` (or a ``start``/``end`` pair of such lines), and mutmut leaves that code
alone. :func:`equivalents` reads them back; ``--record`` writes the score, every survivor and
that list to ``docs/figures/mutation.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.figures import REPO, record

TARGET = 90.0
"""Per cent of mutants the suite must catch."""

STATS = Path("mutants/mutmut-cicd-stats.json")
SOURCES = ("bot", "cogs")
REASON = "# Equivalent mutants:"
PRAGMA = re.compile(r"# pragma: no mutate(?: (block|start))?$")


@dataclass(frozen=True)
class Equivalent:
    """One place the code is left unmutated, and why no test could tell a mutant there."""

    where: str
    code: str
    why: str


def score(stats: dict[str, int]) -> float:
    """Caught mutants as a percentage of those mutmut ran."""
    ran = stats["total"] - stats["skipped"]
    caught = stats["killed"] + stats["timeout"]
    return 100.0 * caught / ran if ran else 0.0


def equivalents(root: Path = REPO) -> Iterator[Equivalent]:
    """Every ``# pragma: no mutate`` in the bot's code, with the reason written above it.

    Raises ``ValueError`` for a pragma without a reason: an unexplained exclusion is a hole in
    the score that no one can review.
    """
    for source in SOURCES:
        for path in sorted((root / source).rglob("*.py")):
            lines = path.read_text().splitlines()
            for number, line in enumerate(lines, start=1):
                marked = PRAGMA.search(line)
                if marked is None or line.strip() == "# pragma: no mutate end":
                    continue
                above: list[str] = []
                index = number - 2
                while index >= 0 and lines[index].strip().startswith("#"):
                    above.insert(0, lines[index].strip().lstrip("#").strip())
                    if lines[index].strip().startswith(REASON):
                        break
                    index -= 1
                text = " ".join(above)
                where = f"{path.relative_to(root)}:{number}"
                if not text.startswith(REASON.lstrip("# ")):
                    raise ValueError(f"{where}: a no-mutate pragma without '{REASON}' above it")
                code = line.split("#")[0].strip()
                if marked.group(1) == "start":
                    code = lines[number].strip() + " …"
                yield Equivalent(where, code, text.removeprefix(REASON.lstrip("# ")).strip())


def survivors(mutants: Path = Path("mutants")) -> list[str]:
    """The names of the mutants that survived the last run (mutmut's ``.meta`` files)."""
    names = []
    for meta in sorted(mutants.rglob("*.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        names += [name for name, code in codes.items() if code == 0]
    return sorted(names)


def page(stats: dict[str, int], result: float) -> str:
    lines = [
        f"**{result:.1f} %** of the mutants ran were caught (target: at least {TARGET:.0f} %): "
        f"{stats['total']} mutants, {stats['killed']} killed, {stats['timeout']} timed out, "
        f"{stats['survived']} survived, {stats['no_tests']} reached by no test.",
        "",
        "## Survivors",
        "",
    ]
    names = survivors()
    lines += [f"- `{name}` (`mutmut show {name}`)" for name in names] or ["None."]
    lines += [
        "",
        "## Code left unmutated, and why",
        "",
        "Generated from the `# Equivalent mutants:` comments above each `# pragma: no mutate`.",
        "",
        "| Where | Code | Why no test can tell a mutant from it |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{e.where}` | `{e.code.replace('|', '\\|')}` | {e.why} |" for e in equivalents()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mutation", description=__doc__)
    parser.add_argument("--record", action="store_true", help="write docs/figures/mutation.md")
    args = parser.parse_args(argv)
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
    if args.record:
        record("mutation", "Mutation testing", "make mutation RECORD=1", page(stats, result))
    return 0 if result >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
