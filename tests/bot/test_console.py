"""The console: rendering, line reading, the in-process loop, and the real command from outside."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import io
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import pytest
from aiohttp import web
from discord.ext import commands

from bot.console import MEMBER_NAME, PROMPT, read_lines, render, run_console
from bot.database import parse_database_url
from bot.settings import Settings
from cogs.catfact import OFFLINE_FOOTER
from fakes import FACTS, FakeMeowfacts, refused_url
from tests.project import REPO, SETTINGS_VARIABLES


def message_with(
    content: str = "", embeds: list[discord.Embed] | None = None, files: list[str] | None = None
) -> discord.Message:
    """A stand-in exposing exactly what ``render`` reads from a message."""
    message = discord.Object(id=1)
    attachments = [type("Attachment", (), {"filename": name})() for name in files or []]
    message.content = content  # type: ignore[attr-defined]
    message.embeds = embeds or []  # type: ignore[attr-defined]
    message.attachments = attachments  # type: ignore[attr-defined]
    return message  # type: ignore[return-value]


class TestRender:
    def test_plain_content(self) -> None:
        assert render(message_with("5")) == "5"

    def test_an_embed_with_title_and_description_is_one_line(self) -> None:
        embed = discord.Embed(title="Cat fact", description="Cats purr.")
        assert render(message_with(embeds=[embed])) == "[Cat fact] Cats purr."

    def test_fields_footer_and_files_follow_on_their_own_lines(self) -> None:
        embed = discord.Embed(description="Body")
        embed.add_field(name="Source", value="meowfacts")
        embed.set_footer(text="cached")
        rendered = render(message_with("Hi", [embed], ["cat.png"]))
        assert rendered == "Hi\nBody\nSource: meowfacts\n(cached)\n[file: cat.png]"

    def test_a_title_alone(self) -> None:
        assert render(message_with(embeds=[discord.Embed(title="T")])) == "[T]"

    def test_a_description_alone_keeps_its_indentation(self) -> None:
        embed = discord.Embed(description="    indented code")
        assert render(message_with(embeds=[embed])) == "    indented code"


async def collect(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines]


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe; the test hands the write end to :func:`feed`, which closes it."""
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    os.close(read_fd)


def feed(write_fd: int, data: bytes) -> None:
    """Write ``data`` and close the pipe, from a thread: a pipe holds only 64 KiB until read."""

    def write() -> None:
        with os.fdopen(write_fd, "wb") as pipe_end:
            pipe_end.write(data)

    threading.Thread(target=write, daemon=True).start()


@pytest.mark.real_time  # a thread reads the pipe; the loop must wait for it in real time
class TestReadLines:
    async def test_splits_lines_and_drops_line_endings(self, pipe: tuple[int, int]) -> None:
        feed(pipe[1], b"one\r\ntwo\n\nlast without newline")
        assert await collect(read_lines(pipe[0])) == ["one", "two", "", "last without newline"]

    async def test_bad_utf8_becomes_replacement_characters(self, pipe: tuple[int, int]) -> None:
        feed(pipe[1], b"caf\xc3\xa9 \xff\n")
        assert await collect(read_lines(pipe[0])) == ["café \N{REPLACEMENT CHARACTER}"]

    async def test_a_line_over_the_limit_is_cut_and_the_next_line_kept(
        self, pipe: tuple[int, int]
    ) -> None:
        feed(pipe[1], b"!add " + b"1" * 200_000 + b"\n!add 1 1\n")
        lines = await collect(read_lines(pipe[0], max_length=100))
        assert lines == ["!add " + "1" * 95, "!add 1 1"]

    async def test_a_multibyte_character_split_across_reads_survives(
        self, pipe: tuple[int, int]
    ) -> None:
        # 80,001 bytes: more than one 64 KiB read. Reads come in even sizes, so after one
        # ASCII byte every read ends in the middle of an "é".
        data = b"x" + "é".encode() * 40_000
        feed(pipe[1], data)
        [line] = await collect(read_lines(pipe[0], max_length=50_000))
        assert line == "x" + "é" * 40_000

    async def test_by_default_a_line_is_cut_at_discords_message_limit(
        self, pipe: tuple[int, int]
    ) -> None:
        feed(pipe[1], b"a" * 5000 + b"\n")
        assert await collect(read_lines(pipe[0])) == ["a" * 4000]  # Discord's limit, with Nitro

    async def test_a_character_cut_off_at_the_end_of_input_is_shown_as_replaced(
        self, pipe: tuple[int, int]
    ) -> None:
        feed(pipe[1], "café".encode()[:-1])
        assert await collect(read_lines(pipe[0])) == ["caf\N{REPLACEMENT CHARACTER}"]

    async def test_a_line_longer_than_one_read_is_cut_exactly_at_the_limit(
        self, pipe: tuple[int, int]
    ) -> None:
        feed(pipe[1], b"a" * 200_000 + b"\nnext\n")  # the long line takes several reads
        lines = await collect(read_lines(pipe[0], max_length=100_000))
        assert lines == ["a" * 100_000, "next"]

    @pytest.mark.parametrize(
        ("data", "expected"),
        [
            (b"two words  \r\nMAX\r\nlast \r", ["two words  ", "MAX", "last "]),
            (b"\tTAX\r", ["\tTAX"]),
        ],
    )
    async def test_only_the_line_ending_is_removed(
        self, pipe: tuple[int, int], data: bytes, expected: list[str]
    ) -> None:
        feed(pipe[1], data)
        assert await collect(read_lines(pipe[0])) == expected

    async def test_an_unreadable_input_ends_like_end_of_input(self, pipe: tuple[int, int]) -> None:
        # Reading the write end of a pipe fails, as reading a terminal that hung up does.
        try:
            lines = await asyncio.wait_for(collect(read_lines(pipe[1])), timeout=GUARD)
        finally:
            os.close(pipe[1])
        assert lines == []

    async def test_a_reader_still_waiting_for_input_does_not_hold_up_exit(
        self, pipe: tuple[int, int]
    ) -> None:
        before = set(threading.enumerate())
        lines = read_lines(pipe[0])
        os.write(pipe[1], b"first\n")
        try:
            assert await anext(lines) == "first"
            readers = set(threading.enumerate()) - before
            assert readers
            assert all(reader.daemon for reader in readers)
        finally:
            os.close(pipe[1])
            assert await collect(lines) == []

    async def test_empty_input_gives_no_lines(self, pipe: tuple[int, int]) -> None:
        feed(pipe[1], b"")
        assert await collect(read_lines(pipe[0])) == []


async def run_in_process(
    text: str, settings: Settings, *, interactive: bool = False, as_owner: bool = False
) -> str:
    read_fd, write_fd = os.pipe()
    feed(write_fd, text.encode())
    output = io.StringIO()
    try:
        await run_console(
            settings, input_fd=read_fd, output=output, interactive=interactive, as_owner=as_owner
        )
    finally:
        os.close(read_fd)
    return output.getvalue()


@pytest.mark.real_time  # the console reads its input through a thread, as above
class TestConsoleInProcess:
    async def test_replies_in_order_one_per_line(self, settings: Settings) -> None:
        assert await run_in_process("!add 1 2\n!sub 5 7\n", settings) == "3\n-2\n"

    async def test_catfact_prints_the_embed_as_text(
        self, settings: Settings, meowfacts: FakeMeowfacts
    ) -> None:
        # Real time here: a generous budget, so a slow first fill on a busy machine still lands.
        out = await run_in_process("!catfact\n", dataclasses.replace(settings, catfact_timeout=30))
        assert out.startswith("[\N{CAT FACE} Cat fact] ")
        assert out.removeprefix("[\N{CAT FACE} Cat fact] ").removesuffix("\n") in FACTS

    async def test_errors_are_answered_and_the_console_goes_on(self) -> None:
        settings = Settings(catfact_providers=())  # offline facts only: no network wait at all
        out = await run_in_process(
            "!catfact\n!nosuchcommand\nhello\n!add x 1\n!add 2 2\n", settings
        )
        lines = out.splitlines()
        assert lines[0].startswith("[\N{CAT FACE} Cat fact] ")
        assert lines[1] == f"({OFFLINE_FOOTER})"
        assert lines[2].startswith("`x` isn't a number.")
        assert lines[3] == "4"
        assert len(lines) == 4

    async def test_the_console_keeps_its_server_and_settings_between_runs(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        """The same server and member every run, and the member may manage the server."""
        kept = dataclasses.replace(
            settings, database=parse_database_url(f"sqlite:///{tmp_path}/c.db")
        )
        first = await run_in_process("!settings prefix ?\n", kept)
        assert first == "Done: the prefix here is now `?`. Mentioning me works too.\n"
        second = (await run_in_process("?settings\n!add 1 1\n", kept)).splitlines()
        assert second[:4] == [
            "[Settings for Console]",
            "Prefix: `?` (mentioning me works too)",
            "Language: English, the default",
            "Cooldown: off, the default",
        ]
        assert second[4].startswith(f"Last changed: by {MEMBER_NAME} on ")  # the same member
        # The last line; and !add, with the old prefix, is not the bot's any more.
        assert second[5:] == [
            "(Admins change them with ?settings <name> <value>, or ?settings reset.)"
        ]

    async def test_owner_commands_are_refused(self, settings: Settings) -> None:
        assert (
            await run_in_process("!sync\n", settings) == "Only the bot's owner can use `!sync`.\n"
        )

    async def test_as_the_owner_sync_status_and_reload_can_be_tried(
        self, settings: Settings
    ) -> None:
        out = await run_in_process(
            "!sync\n!sync guild\n!sync clear\n!reload arithmetic\n!status\n!add 1 1\n",
            settings,
            as_owner=True,
        )
        lines = out.splitlines()
        commands = "/about, /add, /catfact, /daily, /ping, /settings, /sub"
        assert lines[:4] == [
            f"Synced 7 slash commands globally: {commands}.",
            f"Synced 7 slash commands to this server: {commands}.",
            "Synced 0 slash commands to this server.",
            "Reloaded `cogs.arithmetic`.",
        ]
        assert lines[4] == "[Status of this process]"
        assert "Cogs: loaded: admin, arithmetic, catfact, daily, info, settings" in lines
        assert lines[-1] == "2"

    async def test_ping_shows_the_reply_and_then_its_edit(self, settings: Settings) -> None:
        reply, edit = (await run_in_process("!ping\n", settings)).splitlines()
        assert reply == "Pong!"
        assert edit.startswith("(edited) Pong! Gateway latency: ")
        assert "Reply round trip: " in edit

    async def test_the_activity_log_names_the_console_member_you(
        self, settings: Settings, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="bot.commands")
        await run_in_process("!add 1 1\n", settings)
        [logged] = caplog.messages
        assert logged.startswith("!add by you#0001 (")

    async def test_interactive_mode_prompts_before_each_line(self, settings: Settings) -> None:
        out = await run_in_process("!add 1 1\n", settings, interactive=True)
        assert out == f"{PROMPT}2\n{PROMPT}\n"


GUARD = 10
"""Seconds a subprocess test waits before it fails as hung. A guard against a test stalling, not
a verdict: nothing asserts how long a process took (a busy machine may take a while to start
Python), only what it did."""


def run_bot(
    *args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` as an operator runs it, from a directory without a .env file."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=clean_env(env),
        cwd=cwd,
        timeout=3 * GUARD,
        check=False,
    )


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without any bot setting, plus ``extra``; the repo on the path."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env["PYTHONPATH"] = str(REPO)
    # Facts would go to the internet; point them at a closed local port instead.
    env["CATFACT_PROVIDERS"] = f"meowfacts={refused_url()}"
    env.update(extra or {})
    # Under `make mutation`, mutmut first records which tests reach which functions; that
    # bookkeeping lives in the test process and cannot follow a child into a temporary
    # directory, so the child runs unmutated code then. Testing a mutant, it runs the mutant.
    if env.get("MUTANT_UNDER_TEST") == "stats":
        del env["MUTANT_UNDER_TEST"]
    return env


class TestFromOutside:
    def test_piped_commands_print_their_answers(self, tmp_path: Path) -> None:
        result = run_bot("--console", stdin="!add 1 2\n!sub 5 7\n", cwd=tmp_path)
        assert result.returncode == 0
        assert result.stdout == "3\n-2\n"
        assert result.stderr == ""

    def test_an_unknown_option_exits_with_code_2(self, tmp_path: Path) -> None:
        result = run_bot("--bogus", cwd=tmp_path)
        assert result.returncode == 2
        assert "unrecognized arguments: --bogus" in result.stderr

    def test_an_invalid_setting_exits_with_one_line(self, tmp_path: Path) -> None:
        result = run_bot("--console", env={"LOG_LEVEL": "LOUD"}, cwd=tmp_path)
        assert result.returncode == 3
        assert result.stderr.splitlines() == [
            "error: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"
        ]

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
    def test_a_signal_closes_the_console_cleanly(self, tmp_path: Path, sig: signal.Signals) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--console"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
            cwd=tmp_path,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("!add 20 22\n")
        process.stdin.flush()
        assert process.stdout.readline() == "42\n"  # the bot is up and waiting for more input
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=GUARD)
        assert process.returncode == 0
        assert stderr == ""


@pytest.mark.real_time  # the bot runs in another process, on real time
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_during_a_hanging_fetch_still_exits_cleanly(
    tmp_path: Path, meowfacts: FakeMeowfacts, sig: signal.Signals
) -> None:
    # What a restart on Heroku looks like at the worst moment: a user's !catfact is waiting on
    # an upstream that does not answer. The process must still stop at once, exit 0, say nothing.
    arrived = asyncio.Event()
    hang = meowfacts.hang()

    async def handler(request: web.Request) -> web.StreamResponse:
        arrived.set()
        return await hang(request)

    meowfacts.handler = handler
    # The command's budget is far longer than the guard below: if the process waited for its
    # command instead of stopping, the guard would trip. No duration is asserted.
    env = clean_env(
        {"CATFACT_PROVIDERS": f"meowfacts={meowfacts.url}", "CATFACT_TIMEOUT": str(GUARD * 3)}
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--console",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(b"!catfact\n")
    await process.stdin.drain()
    await asyncio.wait_for(arrived.wait(), GUARD)  # the command is now waiting on the upstream
    process.send_signal(sig)
    stdout, stderr = await asyncio.wait_for(process.communicate(), GUARD)
    assert process.returncode == 0
    assert stderr == b""
    assert stdout == b""  # the command was cut short, not answered with a half-made reply


def test_the_private_apis_the_console_relies_on_still_exist() -> None:
    """The console's only private calls (see ``start_simulated``): if an upgrade of discord.py
    or dpytest removes one, this names it, instead of a puzzling failure elsewhere."""
    assert inspect.iscoroutinefunction(commands.Bot._async_setup_hook), (
        "discord.py no longer has Client._async_setup_hook: update bot.console.start_simulated"
    )
    state = discord.Client(intents=discord.Intents.none())._connection
    assert hasattr(state, "application_id"), (
        "discord.py's ConnectionState has no application_id: update bot.console.start_simulated"
    )
    for route in ("bulk_upsert_global_commands", "bulk_upsert_guild_commands"):
        parameters = inspect.signature(getattr(discord.http.HTTPClient, route)).parameters
        assert "payload" in parameters, (
            f"discord.py's HTTPClient has no {route}: update bot.console.simulate_command_sync"
        )
