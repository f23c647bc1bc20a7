"""``python -m bot``: start-up failures become one line and a documented exit code."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot import cli
from bot.cli import ExitCode, connect, run_until_signalled
from bot.core import CatFactBot
from bot.settings import Settings

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncMock:
    """Discord's side of ``Bot.start``: what logging in and connecting answers."""
    start = AsyncMock()
    monkeypatch.setattr(CatFactBot, "start", start)
    return start


async def test_a_rejected_token_names_the_fix(
    gateway: AsyncMock, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.side_effect = discord.LoginFailure("Improper token has been passed.")
    assert await connect(settings, TOKEN) == ExitCode.LOGIN_FAILED
    [line] = capsys.readouterr().err.splitlines()
    assert "Discord rejected DISCORD_TOKEN" in line
    assert TOKEN not in line


async def test_a_missing_intent_names_the_switch(
    gateway: AsyncMock, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.side_effect = discord.PrivilegedIntentsRequired(shard_id=None)
    assert await connect(settings, TOKEN) == ExitCode.INTENTS_REQUIRED
    [line] = capsys.readouterr().err.splitlines()
    assert "Message Content Intent" in line


async def test_a_normal_shutdown_exits_zero(gateway: AsyncMock, settings: Settings) -> None:
    assert await connect(settings, TOKEN) == ExitCode.OK
    gateway.assert_awaited_once_with(TOKEN)


def test_main_connects_when_a_token_is_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "configure_logging", MagicMock())
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    connected = MagicMock(return_value=ExitCode.OK)
    monkeypatch.setattr(cli, "run_until_signalled", connected)
    monkeypatch.setattr(cli, "connect", MagicMock(name="connect"))
    assert cli.main([]) == ExitCode.OK
    cli.connect.assert_called_once()  # type: ignore[attr-defined]
    assert cli.connect.call_args.args[1] == TOKEN  # type: ignore[attr-defined]


def raise_soon(sig: signal.Signals) -> None:
    """Deliver ``sig`` to this process once the running loop gets to it."""
    asyncio.get_running_loop().call_soon(signal.raise_signal, sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_bot_and_closes_its_session(
    sig: signal.Signals, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    bots: list[CatFactBot] = []

    async def connected(self: CatFactBot, token: str) -> None:
        # What start() does up to being connected: run setup_hook, then wait for events.
        bots.append(self)
        await self.setup_hook()
        raise_soon(sig)
        await asyncio.Event().wait()

    monkeypatch.setattr(CatFactBot, "start", connected)
    assert run_until_signalled(connect(settings, TOKEN)) == ExitCode.OK
    [bot] = bots
    assert bot.is_closed()
    assert bot._session is not None
    assert bot._session.closed


def test_a_second_signal_does_not_interrupt_the_clean_up() -> None:
    cleaned_up = False

    async def service() -> None:
        nonlocal cleaned_up
        raise_soon(signal.SIGTERM)
        try:
            await asyncio.Event().wait()
        finally:
            raise_soon(signal.SIGTERM)  # an impatient operator presses again
            for _ in range(10):  # plenty of loop turns for the signal to be handled
                await asyncio.sleep(0)
            cleaned_up = True

    assert run_until_signalled(service()) == ExitCode.OK
    assert cleaned_up
