"""What a test may not leave behind: running tasks, open HTTP sessions, dpytest's files.

``conftest.py`` wraps every test in :func:`watch`, so a leak fails the test that caused it
(as an error at teardown) instead of surfacing later as a warning in an unrelated test, or
not at all. ``tests/test_leaks.py`` shows that each check catches what it claims to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

SETTLE_ROUNDS = 5
"""Loop iterations a finished test gets for tasks that are already on their way out."""

DPYTEST_FILES = "dpytest_*.dat"
"""dpytest writes each attachment the bot sends to a file of this name in the working directory."""


@dataclass
class Leaks:
    """What one test left behind; empty when it cleaned up after itself."""

    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tasks or self.sessions or self.files)

    def __str__(self) -> str:
        lines = [f"task still running: {task.get_coro()!r}" for task in self.tasks]
        lines += ["aiohttp.ClientSession never closed" for _ in self.sessions]
        lines += [f"file left behind: {path}" for path in self.files]
        return "\n".join(lines)


class SessionTracker:
    """Records every ``aiohttp.ClientSession`` created while it is installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.created: list[aiohttp.ClientSession] = []
        original = aiohttp.ClientSession.__init__

        def tracking_init(session: aiohttp.ClientSession, *args: Any, **kwargs: Any) -> None:
            original(session, *args, **kwargs)
            self.created.append(session)

        monkeypatch.setattr(aiohttp.ClientSession, "__init__", tracking_init)

    def unclosed(self) -> list[aiohttp.ClientSession]:
        return [session for session in self.created if not session.closed]


async def pending_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of the running loop, other than the caller's, still running after a few rounds."""
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and not task.done()]


def stray_files(directory: Path, before: set[Path]) -> list[Path]:
    """dpytest attachment files in ``directory`` that were not there ``before``."""
    return sorted(set(directory.glob(DPYTEST_FILES)) - before)


@contextlib.asynccontextmanager
async def watch(monkeypatch: pytest.MonkeyPatch, directory: Path) -> AsyncIterator[Leaks]:
    """Run a test inside; the yielded :class:`Leaks` is filled in when it ends."""
    sessions = SessionTracker(monkeypatch)
    files_before = set(directory.glob(DPYTEST_FILES))
    leaks = Leaks()
    yield leaks
    leaks.tasks = await pending_tasks()
    leaks.sessions = sessions.unclosed()
    leaks.files = stray_files(directory, files_before)
