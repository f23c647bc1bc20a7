"""The leak checks that wrap every test (``tests/leaks.py``) catch what they claim to."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests import leaks


async def test_a_task_left_running_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = asyncio.Event()
    forgotten = asyncio.create_task(stop.wait())
    async with leaks.watch(monkeypatch, Path()) as found:
        pass
    assert found.tasks == [forgotten]
    assert "task still running" in str(found)
    stop.set()
    await forgotten


async def test_a_task_that_finishes_on_its_own_is_not_a_leak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with leaks.watch(monkeypatch, Path()) as found:
        asyncio.create_task(asyncio.sleep(0))  # noqa: RUF006 - finishes within the settle rounds
    assert not found


async def test_an_unclosed_session_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    async with leaks.watch(monkeypatch, Path()) as found:
        forgotten = aiohttp.ClientSession()
        closed = aiohttp.ClientSession()
        await closed.close()
    assert found.sessions == [forgotten]
    assert "never closed" in str(found)
    await forgotten.close()


async def test_a_new_dpytest_file_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "dpytest_0.dat").write_bytes(b"older")
    async with leaks.watch(monkeypatch, tmp_path) as found:
        (tmp_path / "dpytest_1.dat").write_bytes(b"attachment")
        (tmp_path / "notes.txt").write_text("not dpytest's")
    assert found.files == [tmp_path / "dpytest_1.dat"]
    assert "dpytest_1.dat" in str(found)


async def test_a_clean_test_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    async with leaks.watch(monkeypatch, tmp_path) as found, aiohttp.ClientSession():
        await asyncio.sleep(0)
    assert not found
    assert str(found) == ""


LOOPS_SEEN: list[asyncio.AbstractEventLoop] = []


@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_runs_on_its_own_event_loop(run: int) -> None:
    loop = asyncio.get_running_loop()
    assert all(loop is not seen for seen in LOOPS_SEEN)
    LOOPS_SEEN.append(loop)
