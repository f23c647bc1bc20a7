"""Command line: ``python -m bot`` connects to Discord, ``python -m bot --console`` runs offline,
``python -m bot migrate`` brings the database's schema up to date and exits.

Start-up failures end with one readable line on stderr and a distinct exit code (see
:class:`ExitCode`), never a traceback. SIGINT and SIGTERM (Heroku's restart signal) close the bot
cleanly and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

import aiohttp
import discord
from dotenv import find_dotenv, load_dotenv

from bot import __version__
from bot.core import make_bot
from bot.database import Database
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, deployment_warnings, retired_settings

log = logging.getLogger(__name__)

OFFLINE_BANNER = (
    "No DISCORD_TOKEN configured, so this is the offline console (type !help, Ctrl-D to quit). "
    "To connect to Discord, put your bot token in .env (see .env.example) and run again."
)


@enum.unique
class ExitCode(enum.IntEnum):
    """Process exit codes; documented in docs/operations.md (Exit codes)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    LOGIN_FAILED = 4
    INTENTS_REQUIRED = 5
    UNREACHABLE = 6
    CONSOLE_UNAVAILABLE = 7
    DATABASE = 8


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Cat-fact and arithmetic Discord bot.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["migrate"],
        help="migrate: apply the database migrations (DATABASE_URL) and exit, as a release step "
        "would; the bot also applies them itself at start-up",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--console",
        action="store_true",
        help="run offline against a simulated server: one message per line on stdin, "
        "the bot's replies on stdout",
    )
    mode.add_argument(
        "--console-if-no-token",
        action="store_true",
        help="connect to Discord if DISCORD_TOKEN is set, otherwise run the console "
        "(what `make run` does)",
    )
    parser.add_argument(
        "--as-owner",
        action="store_true",
        help="in the console, be the bot's owner, so owner-only commands (!sync, !reload, "
        "!status) can be tried",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    if args.as_owner and not (args.console or args.console_if_no_token):
        parser.error("--as-owner only applies to the console (--console)")
    if args.command and (args.console or args.console_if_no_token):
        parser.error(f"{args.command} runs on its own, without --console")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bot; return the process exit code."""
    args = parse_args(argv)
    load_dotenv(find_dotenv(usecwd=True))
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        return fail(ExitCode.CONFIG, str(exc))
    if args.command == "migrate":
        configure_logging(settings.log_level_number_for())
        warn_about_retired_settings(settings)  # a SQLite file on a dyno, above all
        return asyncio.run(migrate(settings))

    console = args.console or (args.console_if_no_token and settings.discord_token is None)
    if console:
        try:
            # The console runs on dpytest, a test tool that production installs leave out.
            from bot.console import run_console
        except ImportError as exc:
            return fail(ExitCode.CONSOLE_UNAVAILABLE, f"{CONSOLE_NEEDS} ({exc})")
        configure_logging(settings.log_level_number_for(console=True))
        warn_about_retired_settings(settings)
        interactive = sys.stdin.isatty()
        if args.console_if_no_token or interactive:
            print(OFFLINE_BANNER if args.console_if_no_token else CONSOLE_BANNER, file=sys.stderr)
        return run_until_signalled(
            run_console(
                settings,
                input_fd=sys.stdin.fileno(),
                output=sys.stdout,
                interactive=interactive,
                as_owner=args.as_owner,
            )
        )

    try:
        token = settings.require_token()
    except SettingsError as exc:
        return fail(ExitCode.CONFIG, str(exc))
    configure_logging(settings.log_level_number_for(), secrets=[token])
    warn_about_retired_settings(settings)
    return run_until_signalled(connect(settings, token))


def warn_about_retired_settings(settings: Settings) -> None:
    """Tell the operator, once, about variables this version no longer reads, and settings that
    would lose data where the bot runs."""
    for line in retired_settings(os.environ) + deployment_warnings(os.environ, settings):
        log.warning(line)  # the bot's own words, with no % in them


async def migrate(settings: Settings) -> int:
    """Apply the migrations and say where the schema is; exit code 8 if the database fails."""
    assert settings.database is not None  # always set from the environment
    database = Database(settings.database)
    try:
        revision = await database.migrate()
    except Exception as exc:  # any failure is the operator's to read, in one line
        return fail(
            ExitCode.DATABASE,
            f"could not migrate {settings.database.describe()}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}",
        )
    finally:
        await database.close()
    print(f"{settings.database.describe()} is at revision {revision} (the latest)")
    return ExitCode.OK


CONSOLE_BANNER = "Offline console: type a message such as !help and press Enter; Ctrl-D quits."
CONSOLE_NEEDS = (
    "the offline console needs dpytest, which a production install leaves out: run `make "
    "console`, or `pip install -r requirements-console.txt`"
)


def fail(code: ExitCode, message: str) -> int:
    """Print ``message`` (one line per problem) on stderr and return ``code``."""
    for line in message.splitlines():
        print(f"error: {line}", file=sys.stderr)
    return code


async def connect(settings: Settings, token: str) -> int:
    """Log in and stay connected until the bot is closed."""
    log.info("catfact-bot %s starting, %s", __version__, settings.shards.describe())
    async with make_bot(settings) as bot:
        try:
            await bot.start(token)
        except discord.LoginFailure:
            return fail(
                ExitCode.LOGIN_FAILED,
                "Discord rejected DISCORD_TOKEN: reset the token on the Bot page of your "
                "application in the Discord Developer Portal and update it in .env or the "
                "config vars",
            )
        except discord.PrivilegedIntentsRequired:
            return fail(
                ExitCode.INTENTS_REQUIRED,
                "the Message Content intent is not enabled: turn on 'Message Content Intent' on "
                "the Bot page of your application in the Discord Developer Portal",
            )
        except (aiohttp.ClientConnectionError, OSError) as exc:
            # Logging in is one HTTP request; once connected, discord.py reconnects by itself.
            return fail(
                ExitCode.UNREACHABLE,
                f"could not reach Discord to log in ({type(exc).__name__}): check this "
                "machine's network connection; a process manager will start the bot again",
            )
    return ExitCode.OK


def run_until_signalled(coro: Coroutine[Any, Any, int | None]) -> int:
    """Run ``coro``; SIGINT or SIGTERM cancel it, which closes the bot, and the exit code is 0."""

    async def guarded() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop() -> None:
            # Only the first signal cancels: a second one must not interrupt the clean-up.
            if not task.cancelling():
                task.cancel()

        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, stop)
        try:
            result = await coro
        except asyncio.CancelledError:
            log.info("stopped by signal")
            return ExitCode.OK
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
        return ExitCode.OK if result is None else result

    return asyncio.run(guarded())
