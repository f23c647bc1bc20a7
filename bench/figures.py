"""The one place measured figures are kept: ``docs/figures/``, one page per measurement.

Each page is written whole by the command that measured it (``make bench RECORD=1``,
``make stress RECORD=1``, ``make mutation RECORD=1``), with the date, the commit and the machine,
so a figure is never typed by hand and says how and when it was taken. Without ``RECORD`` the
commands only print: a run leaves the working tree as it found it.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = REPO / "docs" / "figures"


def git(*args: str) -> str:
    """The output of a git command in the repository, stripped; empty if git fails."""
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def commit() -> str:
    """The short hash of HEAD, marked ``+changes`` when the code differs from it (the figures
    pages themselves, which a recording rewrites, do not count)."""
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/figures")
    return f"{git('rev-parse', '--short', 'HEAD') or 'unknown'}{' +changes' if dirty else ''}"


def provenance(command: str) -> str:
    """When, where and how: the line every page starts with."""
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()}"
    return f"Measured {today} by `{command}` at commit `{commit()}` ({machine})."


def record(name: str, title: str, command: str, body: str) -> Path:
    """Write ``docs/figures/<name>.md``: a title, the provenance line, then ``body`` (markdown)."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    page = FIGURES / f"{name}.md"
    notice = "<!-- Written by the command named below; edit the command, not this page. -->"
    page.write_text(f"# {title}\n\n{notice}\n\n{provenance(command)}\n\n{body.strip()}\n")
    print(f"figures written to {page.relative_to(REPO)}")
    return page


def code_block(text: str) -> str:
    return f"```text\n{text.rstrip()}\n```"


__all__ = ["FIGURES", "code_block", "git", "provenance", "record"]
