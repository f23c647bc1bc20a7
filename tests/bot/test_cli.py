"""``python -m bot``: start-up failures become one line and a documented exit code."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from unittest.mock import AsyncMock, MagicMock

import aiohttp
import discord
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import cli
from bot.cli import ExitCode, connect, run_until_signalled
from bot.core import CatFactBot
from bot.logs import MASK, configure_logging, mask
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


async def test_an_unreachable_discord_names_the_network(
    gateway: AsyncMock, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.side_effect = aiohttp.ClientConnectionError("Name or service not known")
    assert await connect(settings, TOKEN) == ExitCode.UNREACHABLE
    [line] = capsys.readouterr().err.splitlines()
    assert "could not reach Discord" in line


def test_exit_codes_are_stable() -> None:
    assert {code.name: code.value for code in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "USAGE": 2,
        "CONFIG": 3,
        "LOGIN_FAILED": 4,
        "INTENTS_REQUIRED": 5,
        "UNREACHABLE": 6,
    }


# --- The token never reaches the logs ----------------------------------------------------------


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The bot's real logging set-up at DEBUG, writing to the returned buffer; removed after."""
    root = logging.getLogger()
    level = root.level
    buffer = io.StringIO()
    handler = configure_logging(logging.DEBUG, secrets=[TOKEN], stream=buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


@pytest_asyncio.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """A local stand-in for Discord's REST API that refuses every token, as for a reset one.

    discord.py's real login code runs against it; the list collects the Authorization headers
    it received, proving the token really was in play.
    """
    seen: list[str] = []

    async def users_me(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)

    app = web.Application()
    app.router.add_get("/api/v10/users/@me", users_me)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    monkeypatch.setattr(discord.http.Route, "BASE", str(server.make_url("/api/v10")))
    yield seen
    await server.close()


async def test_a_real_login_failure_at_debug_level_never_logs_the_token(
    fake_discord: list[str],
    settings: Settings,
    debug_log: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.getLogger("bot.test").debug("config: %s", {"token": TOKEN})
    assert await connect(settings, TOKEN) == ExitCode.LOGIN_FAILED
    assert fake_discord == [f"Bot {TOKEN}"]
    err = capsys.readouterr().err
    assert "Discord rejected DISCORD_TOKEN" in err
    assert TOKEN not in err
    log = debug_log.getvalue()
    assert "discord.http" in log  # discord.py's own debug output was there
    assert MASK in log
    assert TOKEN not in log


def test_tokens_are_masked_in_messages_arguments_and_tracebacks(debug_log: io.StringIO) -> None:
    log = logging.getLogger("bot.test")
    other = "OTg3NjU0MzIxMDk4NzY1NDMy.XyZaBc.zyxwvutsrqponmlkjihgfedcba9876543210"
    log.warning(f"inline {TOKEN}")
    log.warning("argument %s and %r", TOKEN, other)
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    err = debug_log.getvalue()
    assert err.count(MASK) == 4
    assert TOKEN not in err
    assert other not in err


def test_mask_leaves_ordinary_text_alone() -> None:
    text = "discord.ext.commands.bot loaded extension cogs.catfact in 0.12 s"
    assert mask(text, ["s3cr3t"]) == text
    assert mask("a s3cr3t b", ["s3cr3t"]) == f"a {MASK} b"


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
