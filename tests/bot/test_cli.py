"""``python -m bot``: start-up failures become one line and a documented exit code."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import AsyncMock, MagicMock

import aiohttp
import discord
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import __version__, cli
from bot.cli import CONSOLE_BANNER, OFFLINE_BANNER, ExitCode, connect, run_until_signalled
from bot.console import PROMPT
from bot.core import CatFactBot
from bot.database import head_revision
from bot.logs import MASK, configure_logging
from bot.settings import Settings
from tests.project import SETTINGS_VARIABLES, TOKEN


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
    assert line == (
        "error: Discord rejected DISCORD_TOKEN: reset the token on the Bot page of your "
        "application in the Discord Developer Portal and update it in .env or the config vars"
    )


async def test_a_missing_intent_names_the_switch(
    gateway: AsyncMock, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.side_effect = discord.PrivilegedIntentsRequired(shard_id=None)
    assert await connect(settings, TOKEN) == ExitCode.INTENTS_REQUIRED
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "error: the Message Content intent is not enabled: turn on 'Message Content Intent' on "
        "the Bot page of your application in the Discord Developer Portal"
    )


async def test_a_normal_shutdown_exits_zero(gateway: AsyncMock, settings: Settings) -> None:
    assert await connect(settings, TOKEN) == ExitCode.OK
    gateway.assert_awaited_once_with(TOKEN)


@pytest.mark.parametrize(
    "error",
    [aiohttp.ClientConnectionError("Name or service not known"), ConnectionRefusedError()],
)
async def test_an_unreachable_discord_names_the_network_and_the_error(
    error: Exception, gateway: AsyncMock, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.side_effect = error
    assert await connect(settings, TOKEN) == ExitCode.UNREACHABLE
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        f"error: could not reach Discord to log in ({type(error).__name__}): check this "
        "machine's network connection; a process manager will start the bot again"
    )


async def test_start_up_logs_the_version_and_the_shards(
    gateway: AsyncMock, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.cli")
    await connect(settings, TOKEN)
    assert f"catfact-bot {__version__} starting, unsharded" in caplog.messages


def test_exit_codes_are_stable() -> None:
    assert {code.name: code.value for code in ExitCode} == {
        "OK": 0,
        "ERROR": 1,
        "USAGE": 2,
        "CONFIG": 3,
        "LOGIN_FAILED": 4,
        "INTENTS_REQUIRED": 5,
        "UNREACHABLE": 6,
        "CONSOLE_UNAVAILABLE": 7,
        "DATABASE": 8,
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
def test_a_signal_stops_the_bot_closes_its_session_and_says_so(
    sig: signal.Signals,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.cli")
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
    assert bot.is_closed()  # and its session: no_leaks fails a test that leaves one open
    assert "stopped by signal" in caplog.messages


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


def test_a_service_that_ends_without_a_code_exits_zero() -> None:
    async def service() -> None:
        return None

    assert run_until_signalled(service()) == ExitCode.OK


# --- main() as an operator runs it, in this process --------------------------------------------


class Terminal:
    """Standing in for ``sys.stdin``: a file descriptor that is a terminal or not."""

    def __init__(self, fd: int, *, tty: bool) -> None:
        self.fd = fd
        self.tty = tty

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return self.tty


@dataclass
class Finished:
    code: int | None
    out: str
    err: str


class Shell:
    """Runs ``main`` in this process the way ``python -m bot`` would be run from a shell."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def run(
        self, *args: str, stdin: str = "", tty: bool = False, env: dict[str, str] | None = None
    ) -> Finished:
        for name, value in (env or {}).items():
            self.monkeypatch.setenv(name, value)
        read_fd, write_fd = os.pipe()
        with os.fdopen(write_fd, "wb") as pipe_end:  # short input: the pipe holds it all
            pipe_end.write(stdin.encode())
        self.monkeypatch.setattr(sys, "stdin", Terminal(read_fd, tty=tty))
        try:
            code = cli.main(list(args))
        finally:
            os.close(read_fd)
        out, err = self.capsys.readouterr()
        return Finished(code, out, err)


def plain(text: str) -> str:
    """``text`` without the colours discord.py's log format adds on some terminals."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture
def shell(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Iterator[Shell]:
    """A clean working directory and environment (no .env, no bot setting, offline facts only);
    whatever ``main`` adds to the environment or the root logger is undone afterwards."""
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS_VARIABLES & set(os.environ):
        monkeypatch.delenv(name)
    monkeypatch.setenv("CATFACT_PROVIDERS", "none")
    environ = dict(os.environ)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield Shell(monkeypatch, capsys)
    for handler in set(root.handlers) - set(handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    os.environ.clear()
    os.environ.update(environ)


def test_help_shows_how_to_run_the_bot(shell: Shell) -> None:
    with pytest.raises(SystemExit) as exited:
        shell.run("--help")
    assert exited.value.code == 0
    out = shell.capsys.readouterr().out
    assert "Cat-fact and arithmetic Discord bot." in out.splitlines()
    help_text = " ".join(out.split())
    for part in [
        "usage: python -m bot [-h] [--console | --console-if-no-token] [--as-owner] [--version] "
        "[{migrate}]",
        "{migrate} migrate: apply the database migrations (DATABASE_URL) and exit, as a release "
        "step would; the bot also applies them itself at start-up",
        "--console run offline against a simulated server: one message per line on stdin, "
        "the bot's replies on stdout",
        "--console-if-no-token connect to Discord if DISCORD_TOKEN is set, otherwise run the "
        "console (what `make run` does)",
        "--as-owner in the console, be the bot's owner, so owner-only commands (!sync, !reload, "
        "!status) can be tried",
    ]:
        assert part in help_text


def test_version_names_the_program_and_the_release(shell: Shell) -> None:
    with pytest.raises(SystemExit) as exited:
        shell.run("--version")
    assert exited.value.code == 0
    assert shell.capsys.readouterr().out == f"python -m bot {__version__}\n"


def test_an_interactive_console_greets_and_prompts(shell: Shell) -> None:
    finished = shell.run("--console", stdin="!add 1 1\n", tty=True)
    assert finished == Finished(ExitCode.OK, f"{PROMPT}2\n{PROMPT}\n", CONSOLE_BANNER + "\n")


def test_make_run_without_a_token_explains_and_opens_the_console(shell: Shell) -> None:
    finished = shell.run("--console-if-no-token", stdin="!add 0.1 0.2\n")
    assert finished == Finished(ExitCode.OK, "0.3\n", OFFLINE_BANNER + "\n")


def test_make_run_with_a_token_connects_to_discord(shell: Shell, gateway: AsyncMock) -> None:
    finished = shell.run("--console-if-no-token", stdin="!add 1 1\n", env={"DISCORD_TOKEN": TOKEN})
    assert finished.code == ExitCode.OK
    assert finished.out == ""
    gateway.assert_awaited_once_with(TOKEN)


def test_settings_are_read_from_a_dotenv_file_in_the_working_directory(shell: Shell) -> None:
    Path(".env").write_text("COMMAND_PREFIX=?\n")
    finished = shell.run("--console", stdin="?add 2 2\n!add 3 3\n")
    assert finished.out == "4\n"


def test_an_invalid_setting_exits_3_with_one_line(shell: Shell) -> None:
    finished = shell.run("--console", env={"LOG_LEVEL": "LOUD"})
    assert finished == Finished(
        ExitCode.CONFIG,
        "",
        "error: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'\n",
    )


def test_no_token_exits_3_with_one_line_naming_the_fix(shell: Shell) -> None:
    finished = shell.run()
    assert finished.code == ExitCode.CONFIG
    assert finished.out == ""
    [line] = finished.err.splitlines()
    assert line.startswith("error: DISCORD_TOKEN is not set: copy .env.example to .env")
    assert "python -m bot --console" in line


def test_connecting_logs_the_version_at_info_on_stderr(shell: Shell, gateway: AsyncMock) -> None:
    finished = shell.run(env={"DISCORD_TOKEN": TOKEN})
    assert finished.code == ExitCode.OK
    [line] = plain(finished.err).splitlines()
    assert line.endswith(f" INFO     bot.cli catfact-bot {__version__} starting, unsharded")
    gateway.assert_awaited_once_with(TOKEN)


def test_connected_logs_mask_the_configured_token_wherever_it_appears(
    shell: Shell, gateway: AsyncMock
) -> None:
    async def log_the_token(token: str) -> None:
        # Glued to other token-shaped text, the token is no longer where the shape check
        # looks for it; masking the configured token itself still catches it.
        logging.getLogger("discord.gateway").warning("resuming %s", f"{'a' * 20}.bcde.{token}")

    gateway.side_effect = log_the_token
    finished = shell.run(env={"DISCORD_TOKEN": TOKEN})
    assert "resuming" in finished.err
    assert MASK in finished.err
    for part in TOKEN.split("."):
        assert part not in finished.err


def test_a_rejected_token_exits_4(shell: Shell, gateway: AsyncMock) -> None:
    gateway.side_effect = discord.LoginFailure("Improper token has been passed.")
    finished = shell.run(env={"DISCORD_TOKEN": TOKEN})
    assert finished.code == ExitCode.LOGIN_FAILED
    assert finished.err.splitlines()[-1].startswith("error: Discord rejected DISCORD_TOKEN")


def test_a_retired_setting_is_named_once_in_the_log_and_the_bot_still_starts(
    shell: Shell, gateway: AsyncMock
) -> None:
    finished = shell.run(env={"DISCORD_TOKEN": TOKEN, "CATFACT_BATCH_SIZE": "50"})
    assert finished.code == ExitCode.OK
    warnings = [line for line in plain(finished.err).splitlines() if " WARNING " in line]
    assert [line.split(" bot.cli ", 1)[1] for line in warnings] == [
        "CATFACT_BATCH_SIZE is set, but it no longer has any effect: the bot now keeps each "
        "provider's whole collection in memory (see CATFACT_REFRESH); remove it from your "
        "configuration"
    ]
    gateway.assert_awaited_once_with(TOKEN)


def test_the_console_names_a_retired_setting_too_when_its_log_shows_warnings(
    shell: Shell,
) -> None:
    finished = shell.run(
        "--console", stdin="!add 1 1\n", env={"CATFACT_BATCH_SIZE": "50", "LOG_LEVEL": "WARNING"}
    )
    assert finished.out == "2\n"
    assert "CATFACT_BATCH_SIZE is set, but it no longer has any effect" in finished.err


def test_without_the_console_tools_the_console_says_in_one_line_how_to_get_them(
    shell: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A production install has no dpytest: importing the console fails as it would there.
    monkeypatch.setitem(sys.modules, "bot.console", None)
    finished = shell.run("--console", stdin="!add 1 1\n")
    assert finished.code == ExitCode.CONSOLE_UNAVAILABLE
    assert finished.out == ""
    [line] = finished.err.splitlines()
    assert line.startswith(
        "error: the offline console needs dpytest, which a production install leaves out: run "
        "`make console`, or `pip install -r requirements-console.txt`"
    )


def test_as_owner_applies_to_the_console_only(shell: Shell) -> None:
    with pytest.raises(SystemExit) as exited:
        shell.run("--as-owner")
    assert exited.value.code == ExitCode.USAGE
    last = shell.capsys.readouterr().err.splitlines()[-1]
    assert last == "python -m bot: error: --as-owner only applies to the console (--console)"


@pytest.mark.parametrize("mode", ["--console", "--console-if-no-token"])
def test_in_either_console_mode_as_owner_makes_you_the_owner(shell: Shell, mode: str) -> None:
    finished = shell.run(mode, "--as-owner", stdin="!reload info\n")
    assert finished.code == ExitCode.OK
    assert finished.out == "Reloaded `cogs.info`.\n"
    assert shell.run(mode, stdin="!reload info\n").out == (
        "Only the bot's owner can use `!reload`.\n"
    )


def test_every_bad_setting_is_printed_on_its_own_error_line(shell: Shell) -> None:
    finished = shell.run("--console", env={"CATFACT_TIMEOUT": "soon", "LOG_LEVEL": "LOUD"})
    assert finished.code == ExitCode.CONFIG
    assert [line.split()[:2] for line in finished.err.splitlines()] == [
        ["error:", "CATFACT_TIMEOUT"],
        ["error:", "LOG_LEVEL"],
    ]


def test_connecting_never_imports_the_console_or_test_tools(tmp_path: Path) -> None:
    # What production runs, in a fresh interpreter: the CLI and the bot, with no test tooling.
    code = (
        "import sys, bot.cli, bot.core, cogs.admin, cogs.arithmetic, cogs.catfact, cogs.info\n"
        "tools = ('discord.ext.test', 'pytest', 'pytest_asyncio', 'bot.console')\n"
        "print(sorted(name for name in tools if name in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"


def test_migrate_on_a_heroku_dyno_with_sqlite_warns_that_the_file_will_be_wiped(
    shell: Shell, tmp_path: Path
) -> None:
    finished = shell.run(
        "migrate", env={"DYNO": "release.1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    )
    assert finished.code == ExitCode.OK
    assert finished.out == (
        f"sqlite+aiosqlite:///{tmp_path}/x.db is at revision {head_revision()} (the latest)\n"
    )
    assert "DATABASE_URL is a SQLite file on a Heroku dyno" in plain(finished.err)


def test_migrate_says_in_one_line_why_it_could_not(shell: Shell, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    finished = shell.run("migrate", env={"DATABASE_URL": f"sqlite:///{blocker}/x.db"})
    assert finished.code == ExitCode.DATABASE
    assert finished.out == ""
    assert finished.err == (
        f"error: could not migrate sqlite+aiosqlite:///{blocker}/x.db: FileExistsError: "
        f"[Errno 17] File exists: '{blocker}'\n"
    )


def test_migrate_cannot_be_combined_with_the_console(shell: Shell) -> None:
    with pytest.raises(SystemExit) as stopped:
        shell.run("migrate", "--console")
    assert stopped.value.code == ExitCode.USAGE
    err = shell.capsys.readouterr().err
    assert err.endswith("error: migrate runs on its own, without --console\n")


def test_an_unknown_command_is_a_usage_error(shell: Shell) -> None:
    with pytest.raises(SystemExit) as stopped:
        shell.run("frobnicate")
    assert stopped.value.code == ExitCode.USAGE
    assert "argument command: invalid choice: 'frobnicate'" in shell.capsys.readouterr().err


def test_connecting_on_a_heroku_dyno_with_sqlite_warns_that_the_file_will_be_wiped(
    shell: Shell, gateway: AsyncMock
) -> None:
    finished = shell.run(env={"DISCORD_TOKEN": TOKEN, "DYNO": "worker.1"})
    assert finished.code == ExitCode.OK
    assert "DATABASE_URL is a SQLite file on a Heroku dyno" in plain(finished.err)
