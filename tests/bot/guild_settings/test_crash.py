"""A process killed with SIGKILL in the middle of writing settings leaves a SQLite database that
opens, passes its integrity check, and holds every change it confirmed, each one whole."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.project import REPO

pytestmark = pytest.mark.real_time  # waits on another process

WRITER = """
import asyncio, datetime, sys
from bot.database import Database, parse_database_url
from bot.guild_settings import Defaults, GuildSettingsService

async def main() -> None:
    service = GuildSettingsService(
        Database(parse_database_url(sys.argv[1])), Defaults(prefix="!", cooldown=3.0)
    )
    await service.start()
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for n in range(1, 1_000_000):
        # Both columns in one change: a torn write would show them disagreeing.
        await service.change(n % 50, {"cooldown": n % 3600, "prefix": str(n % 7)}, by=n, at=at)
        print(n, flush=True)

asyncio.run(main())
"""

CONFIRMED = 300
"""Changes confirmed before the kill (each one printed after its commit)."""


def test_sigkill_mid_write_leaves_a_sound_database_with_every_confirmed_change(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catfact.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, f"sqlite:///{path}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert writer.stdout is not None
    try:
        last = 0
        for line in writer.stdout:
            last = int(line)
            if last >= CONFIRMED:
                break
        writer.send_signal(signal.SIGKILL)  # while it goes on writing
    finally:
        writer.kill()
        writer.wait(timeout=30)
        writer.stdout.close()
    assert last >= CONFIRMED, "the writer stopped before confirming its changes"

    with sqlite3.connect(path) as database:
        assert database.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert database.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        rows = database.execute(
            "SELECT guild_id, prefix, cooldown, changed_by FROM guild_settings"
        ).fetchall()
    assert len(rows) == 50
    for guild_id, prefix, cooldown, changed_by in rows:
        assert changed_by % 50 == guild_id
        assert (prefix, cooldown) == (str(changed_by % 7), changed_by % 3600)  # whole
    # Every change confirmed before the kill is there (a later one may be too).
    assert max(row[3] for row in rows) >= last
    assert all(row[3] > last - 50 for row in rows)
