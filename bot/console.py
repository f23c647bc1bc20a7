"""``python -m bot --console``: the real bot against a simulated guild, driven from stdin.

The same :class:`~bot.core.CatFactBot`, with the same cogs and the same cat-fact client, is wired to
dpytest's in-process Discord backend instead of the gateway. Each line of input is sent as a
message from a member of a one-channel guild; every message the bot sends back is printed as text
(embeds included) in order, flushed at once. No token and no Discord connection are needed, which
makes this the ten-second way to try the bot and the way scripts check it from outside.

The console needs dpytest, a test tool, so production installs (``requirements.txt``) leave it out
and nothing outside this module imports it. Every use of a library's private API the console
needs is in :func:`start_simulated`, :func:`close_simulated` and :func:`simulate_command_sync`, and
``tests/bot/test_console.py`` checks each one exists, so an upgrade that removes one fails there
by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import encodings.utf_8
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any, TextIO

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
from discord.ext import commands

from bot.core import CatFactBot, make_intents
from bot.settings import Settings

log = logging.getLogger(__name__)

PROMPT = "you> "
MAX_LINE_LENGTH = 4000
"""Discord's own limit for one message (with Nitro); longer console lines are cut there."""
GUILD_NAME = "Console"
CHANNEL_NAME = "general"
MEMBER_NAME = "you"
GUILD_ID = 1_000_000_000_000_000_001
MEMBER_ID = 1_000_000_000_000_000_002
"""The simulated server's and member's ids, the same in every run: the server's settings persist
between runs, and say who changed them."""
ADMIN_ROLE = "Admins"
"""The console's member has this role, with the Manage Server permission: it may change settings."""
APPLICATION_ID = 1
"""The simulated application's id, so that ``!sync`` has an application to register commands of."""


def simulated_intents() -> discord.Intents:
    """The bot's intents plus members: dpytest keeps its fake members in discord.py's member
    cache, which only exists with that intent."""
    intents = make_intents()
    intents.members = True
    return intents


def render(message: discord.Message) -> str:
    """A bot message as plain text: its content, then each embed and attachment on its own lines.

    An embed prints as ``[title] description``, then ``name: value`` per field and the footer in
    parentheses, so a one-line fact stays one line.
    """
    parts: list[str] = []
    if message.content:
        parts.append(message.content)
    for embed in message.embeds:
        head = f"[{embed.title}]" if embed.title else ""
        body = embed.description or ""
        parts.append(f"{head} {body}".strip() if head and body else head or body)
        parts.extend(f"{field.name}: {field.value}" for field in embed.fields)
        if embed.footer.text:
            parts.append(f"({embed.footer.text})")
    parts.extend(f"[file: {attachment.filename}]" for attachment in message.attachments)
    return "\n".join(parts)


class _FdReader:
    """Reads chunks of a file descriptor in a daemon thread, one chunk per request.

    A daemon thread blocked in ``os.read`` never delays exit, unlike the default executor (which
    ``asyncio.run`` waits for) and unlike reading ``sys.stdin`` (whose buffer lock a daemon thread
    may hold at shutdown). Reading only on request keeps memory bounded however long the input.
    """

    CHUNK = 64 * 1024

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._requests: queue.SimpleQueue[asyncio.Future[bytes]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        # Equivalent mutants: a thread's name shows nowhere
        self._thread.name = "console-stdin"  # pragma: no mutate
        self._thread.start()

    def _run(self) -> None:
        while True:
            future = self._requests.get()
            try:
                chunk = os.read(self._fd, self.CHUNK)
            except OSError:
                chunk = b""
            try:
                future.get_loop().call_soon_threadsafe(_resolve, future, chunk)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                return
            if not chunk:
                return

    async def read(self) -> bytes:
        """The next chunk; ``b""`` at end of input."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._requests.put(future)
        return await future


def _resolve(future: asyncio.Future[bytes], chunk: bytes) -> None:
    if not future.done():
        future.set_result(chunk)


async def read_lines(fd: int, max_length: int = MAX_LINE_LENGTH) -> AsyncIterator[str]:
    """Lines of UTF-8 text from ``fd``, without line endings; bad bytes become U+FFFD.

    A line longer than ``max_length`` characters is cut there (Discord would refuse it anyway)
    and the rest of it is skipped, so memory stays bounded and time linear whatever the input.
    """
    reader = _FdReader(fd)
    decoder = encodings.utf_8.IncrementalDecoder(errors="replace")
    parts: list[str] = []  # the current line so far
    kept = 0
    while True:
        chunk = await reader.read()
        pieces = decoder.decode(chunk, final=not chunk).split("\n")
        for index, piece in enumerate(pieces):
            # Equivalent mutants: at the limit the slice kept is empty
            if kept < max_length:  # pragma: no mutate
                parts.append(piece[: max_length - kept])
                kept += len(parts[-1])
            if index < len(pieces) - 1:  # a newline ends the line
                yield "".join(parts).rstrip("\r")
                parts, kept = [], 0
        if not chunk:
            break
    if kept:
        yield "".join(parts).rstrip("\r")


class Console:
    """Feeds lines to a bot configured on dpytest's backend and prints what it sends.

    ``as_owner`` makes the console's member the bot's owner, so that owner-only commands can be
    tried; otherwise they are refused as they would be for anyone in a server.
    """

    def __init__(self, bot: CatFactBot, output: TextIO, *, as_owner: bool) -> None:
        self.bot = bot
        self.output = output
        self.as_owner = as_owner
        self._edits: list[str] = []

    async def start(self) -> None:
        """Run the bot's real start-up, then attach it to the simulated server: always the same
        one (:data:`GUILD_ID`), with one channel and one member who may manage it."""
        await start_simulated(self.bot, guilds=0)
        member = add_guild(
            GUILD_NAME,
            guild_id=GUILD_ID,
            channel=CHANNEL_NAME,
            member=MEMBER_NAME,
            member_id=MEMBER_ID,
        )
        assert self.bot.user is not None
        self.bot.owner_id = member.id if self.as_owner else self.bot.user.id
        dpytest.callbacks.set_callback(self._edited, "edit_message")

    async def _edited(self, channel: object, message: object, fields: dict[str, Any]) -> None:
        """dpytest reports an edit (``!ping`` edits its reply) before applying it."""
        content = fields["params"].payload.get("content")
        if content:
            self._edits.append(f"(edited) {content}")

    async def send(self, line: str) -> None:
        """Deliver one message and print every reply, in order, as soon as it is complete."""
        if line.strip():
            # dpytest re-raises command errors for tests; the error handler has already replied.
            with contextlib.suppress(commands.CommandError):
                await dpytest.message(line)
        while not dpytest.runner.sent_queue.empty():
            self.output.write(render(dpytest.get_message()) + "\n")
            self.output.flush()
        for edit in self._edits:
            self.output.write(edit + "\n")
        self.output.flush()
        self._edits.clear()

    async def run(self, lines: AsyncIterator[str], *, prompt: str | None = None) -> None:
        """Send every line until the input ends."""
        try:
            while True:
                if prompt:
                    self.output.write(prompt)
                    self.output.flush()
                line = await anext(lines, None)
                if line is None:
                    # Equivalent mutants: the loop is the try's last statement: return runs the
                    # same finally
                    break  # pragma: no mutate
                await self.send(line)
        finally:
            if prompt:  # leave the terminal on a fresh line, after Ctrl-D or Ctrl-C alike
                self.output.write("\n")
                self.output.flush()


def simulate_command_sync(bot: CatFactBot) -> None:
    """Answer ``tree.sync()`` as Discord would: every command sent is registered and returned.

    dpytest has no application-command routes; these are the two that ``CommandTree.sync`` calls,
    on the HTTP client the tree was built with (dpytest later gives the bot a new one).
    """

    async def upsert(application_id: int, *args: Any, payload: Sequence[Any]) -> list[Any]:
        return [
            {**command, "id": str(number), "application_id": str(application_id)}
            for number, command in enumerate(payload)
        ]

    bot.http.bulk_upsert_global_commands = upsert  # type: ignore[method-assign,assignment]
    bot.http.bulk_upsert_guild_commands = upsert  # type: ignore[method-assign,assignment]


async def start_simulated(bot: CatFactBot, **configure: Any) -> None:
    """Run the bot's real start-up, then attach it to dpytest's backend.

    ``configure`` goes to ``dpytest.configure`` (guilds, channels, members). dpytest does not call
    ``setup_hook`` itself, and it replaces the bot's connection state with one that forgot the
    bot's ``allowed_mentions`` and ``application_id``; all of that is put right here, with the
    only private calls the console makes (discord.py has no public way to do either).
    """
    allowed_mentions, application_id = bot.allowed_mentions, bot.application_id
    await bot._async_setup_hook()  # what login() does before setup_hook
    await bot.setup_hook()
    simulate_command_sync(bot)
    dpytest.configure(bot, **configure)
    bot.allowed_mentions = allowed_mentions
    bot._connection.application_id = application_id


def add_guild(
    name: str, *, guild_id: int, channel: str, member: str, member_id: int
) -> discord.Member:
    """Add a server with this id to dpytest's backend, with one text channel and one member who
    has the Manage Server permission, and make them the ones ``dpytest.message`` uses."""
    guild = dpytest_backend.make_guild(name, id_num=guild_id)
    text_channel = dpytest_backend.make_text_channel(channel, guild)
    manage = discord.Permissions(manage_guild=True).value
    # Equivalent mutants: the role's name shows nowhere
    admins = dpytest_backend.make_role(ADMIN_ROLE, guild, permissions=manage)  # pragma: no mutate
    user = dpytest_backend.make_user(member, "0001", id_num=member_id)
    added = dpytest_backend.make_member(user, guild, roles=[admins])
    bot_user = dpytest_backend.get_state().user
    assert bot_user is not None  # dpytest.configure logged the bot in
    dpytest_backend.make_member(bot_user, guild)
    config = dpytest.get_config()  # configured with no server: these are its first
    config.guilds.append(guild)
    config.channels.append(text_channel)
    config.members.append(added)
    return added


async def close_simulated(bot: CatFactBot) -> None:
    """Close a bot that runs on dpytest's backend.

    dpytest's fake gateway has no socket, which ``Client.close()`` would try to close; detach it
    first. Everything else (the HTTP session above all) is closed by the bot's own ``close()``.
    """
    # Equivalent mutants: dpytest's queue only awaits discord.py's event tasks, which catch
    # everything
    with contextlib.suppress(Exception):  # pragma: no mutate
        await dpytest.empty_queue()
    bot.ws = None  # type: ignore[assignment]
    await bot.close()


async def run_console(
    settings: Settings,
    *,
    input_fd: int,
    output: TextIO,
    interactive: bool,
    as_owner: bool,
) -> None:
    """Run the console until the input ends; the bot is closed however it stops."""
    bot = CatFactBot(settings, intents=simulated_intents(), application_id=APPLICATION_ID)
    console = Console(bot, output, as_owner=as_owner)
    try:
        await console.start()
        await console.run(read_lines(input_fd), prompt=PROMPT if interactive else None)
    finally:
        await close_simulated(bot)
