"""``python -m bot``: start-up failures become one line and a documented exit code."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot import cli
from bot.cli import ExitCode, connect
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
