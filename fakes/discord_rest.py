"""Discord's REST API as a local HTTP server on 127.0.0.1, for a real :class:`discord.Client`.

dpytest replaces discord.py's HTTP client; this fake replaces Discord instead, so what runs is
discord.py's own request code, its rate limiter and its parsing: a bot (or a benchmark) that logs
in with :attr:`FakeDiscordREST.token` while :func:`pointing_discord_at` is active sends real HTTP
requests and gets answers shaped like Discord's, with the headers discord.py reads.

What it imitates (API v10, under ``/api/v10``), and why:

- logging in: ``GET /users/@me`` and ``GET /oauth2/applications/@me``, the two requests
  :meth:`discord.Client.login` makes; any ``Authorization`` other than ``Bot <token>`` gets a 401,
  which discord.py turns into :class:`discord.LoginFailure`;
- sending: ``POST /channels/{channel_id}/messages`` (JSON, or multipart with ``payload_json`` and
  files, as discord.py sends attachments) creates a message and answers it in full;
- Discord's nonce rule: a create with ``nonce`` and ``enforce_nonce: true`` (discord.py 2.7 sends
  both with every message, a random nonce when none is given) returns the message this bot
  already created with that nonce within the last ``nonce_window`` seconds, instead of a second
  one. The API documents it per author, not per channel, and so the fake keys it;
- reading: ``GET /channels/{channel_id}/messages`` with ``limit``, ``before``, ``after`` and
  ``around``, newest first, for :meth:`discord.abc.Messageable.history`;
- the rate limits: a global one for the whole bot (``global_rate`` requests a second) and a bucket
  per channel for creating messages (5 per 5 s), with the headers and 429 bodies Discord sends;
- what can go wrong with a channel: deleted (404, code 10003), no permission to send (403, 50013),
  no access at all (403, 50001), a few 5xx answers in a row, a request held until released, and
  the message created but the answer never delivered (:attr:`FakeDiscordREST.on_created`).

Everything it sees is recorded for assertions: the messages created, the requests, the 429s it
answered and the busiest second. It holds no guilds, members or permissions: every channel id
exists, as a text channel the bot may write to, until a test says otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import datetime
import enum
import json
import math
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

import discord.http
import yarl
from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler, Middleware

API_PREFIX = "/api/v10"
"""Where discord.py 2.7 sends its requests: ``Route.BASE`` ends in it."""

DISCORD_EPOCH_MS = 1_420_070_400_000
"""The first millisecond of 2015, from which Discord's snowflake ids count time."""

DEFAULT_BOT_USER_ID = 1_300_000_000_000_000_001
DEFAULT_OWNER_ID = 1_300_000_000_000_000_002

NONCE_WINDOW = 180.0
"""Seconds Discord remembers a nonce for ("the past few minutes", in the API docs)."""

GLOBAL_RATE = 50
"""Requests a second a bot may make, all routes together (Discord's global rate limit)."""

ROUTE_LIMIT = 5
ROUTE_PERIOD = 5.0
"""Discord's bucket for creating messages: 5 per channel in 5 s."""

MESSAGE_BUCKET = "80c17d2f203122d936070c88c8d10f33"
"""The ``X-RateLimit-Bucket`` of message creation. The same for every channel, as at Discord: the
channel id (a "major parameter") is what tells two buckets apart, for discord.py too."""

VIA = "1.1 google"
"""Discord's answers come through Google's load balancer. discord.py takes a 429 without a
``Via`` header for Cloudflare's ban page and raises instead of waiting: every answer carries it."""

WINDOW = 1.0
"""The global limit's window, in seconds."""

EPSILON = 1e-6
"""Clock readings this close count as equal: a loop clock rounds (looptime's to the microsecond),
so a client that sleeps exactly ``retry_after`` must find the window over."""

BACKLOG = 4096
"""Connections the kernel queues before the server accepts them (Linux caps it at somaxconn)."""

SHUTDOWN = 5.0
"""Seconds :meth:`FakeDiscordREST.close` lets requests in flight finish before cancelling them."""

CONTENT_LIMIT = 2000
NONCE_LIMIT = 25
EMBED_DESCRIPTION_LIMIT = 4096
HISTORY_LIMIT = 100

KEPT_FLAGS = 4 | 4096
"""The message flags a bot may set when sending (``SUPPRESS_EMBEDS``, ``SUPPRESS_NOTIFICATIONS``);
Discord ignores the others."""

Clock = Callable[[], float]
Hook = Callable[["CreatedMessage"], Awaitable[object]]
JSON = dict[str, Any]


class ChannelState(enum.Enum):
    """What a channel is to the bot, as a test sets it."""

    OPEN = "open"
    """Exists, and the bot may read and write (every channel, unless a test says otherwise)."""
    DELETED = "deleted"
    """Gone: every request about it gets 404 Unknown Channel (10003)."""
    FORBIDDEN = "forbidden"
    """Visible, but sending gets 403 Missing Permissions (50013); reading still works."""
    NO_ACCESS = "no access"
    """Not visible to the bot: 403 Missing Access (50001) for sending and reading."""


ERRORS: Mapping[ChannelState, tuple[int, int, str]] = {
    ChannelState.DELETED: (404, 10003, "Unknown Channel"),
    ChannelState.FORBIDDEN: (403, 50013, "Missing Permissions"),
    ChannelState.NO_ACCESS: (403, 50001, "Missing Access"),
}
"""The HTTP status, Discord's error code and message for each state that refuses a request."""

SERVER_ERRORS: Mapping[int, str] = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


@dataclass(frozen=True)
class CreatedMessage:
    """A message the fake created, with what it was sent and what it answered."""

    id: int
    channel_id: int
    payload: JSON
    """The request's JSON body (``payload_json`` of a multipart one), as sent."""
    created_at: float
    """When it was created, on the fake's clock."""
    nonce: str | None
    data: JSON
    """The message object answered (and answered again to a create with the same nonce)."""
    files: tuple[tuple[str, bytes], ...] = ()
    """Each attached file's name and content, in order."""


@dataclass
class _Failure:
    status: int
    after_creating: bool


@dataclass
class _Channel:
    """What the fake holds for one channel id."""

    state: ChannelState = ChannelState.OPEN
    messages: list[CreatedMessage] = field(default_factory=list)
    failures: collections.deque[_Failure] = field(default_factory=collections.deque)
    bucket_reset: float | None = None
    bucket_used: int = 0
    gate: asyncio.Event | None = None
    """Set: requests go through. Cleared: creates wait on it (:meth:`FakeDiscordREST.stall`)."""
    held: int = 0


class _GlobalLimit:
    """The bot's global limit: at most ``rate`` requests admitted per window of ``WINDOW`` s.

    ``"fixed"`` opens a window with the first request after the last one ended and admits
    ``rate`` requests in it, so every client told to wait finds the whole quota free when it
    comes back. ``"sliding"`` admits a request only when fewer than ``rate`` were admitted in the
    second before it: never more than ``rate`` in any second, stricter at the edges. Discord does
    not document which it does; a request it refuses with a 429 uses no quota in either.
    """

    def __init__(self, rate: int, kind: Literal["fixed", "sliding"]) -> None:
        self.rate = rate
        self.kind = kind
        self._start: float | None = None
        self._count = 0
        self._times: collections.deque[float] = collections.deque()

    def admit(self, now: float) -> float | None:
        """None if a request at ``now`` is admitted (and counted); else the seconds to wait."""
        if self.kind == "sliding":
            while self._times and now - self._times[0] >= WINDOW - EPSILON:
                self._times.popleft()
            if len(self._times) >= self.rate:
                return self._times[0] + WINDOW - now
            self._times.append(now)
            return None
        if self._start is None or now - self._start >= WINDOW - EPSILON:
            self._start, self._count = now, 0
        if self._count >= self.rate:
            return self._start + WINDOW - now
        self._count += 1
        return None


def _seconds(value: float) -> float:
    """A wait as Discord writes it: in seconds with three decimals, rounded up (never 0), so a
    client that sleeps that long finds the limit over."""
    return max(0.001, math.ceil(value * 1000 - EPSILON) / 1000)


def _peak(times: list[float]) -> int:
    """The most of ``times`` (in order) that fall within any span shorter than one second."""
    best, first = 0, 0
    for last, now in enumerate(times):
        while now - times[first] >= WINDOW - EPSILON:
            first += 1
        best = max(best, last - first + 1)
    return best


def _answer(
    payload: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer as Discord sends it. The ``Content-Type`` is exactly ``application/json``:
    discord.py parses a body only then, and ``web.json_response`` would add ``; charset=utf-8``
    (discord.py would then hand the JSON on as a string)."""
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _error(status: int, code: int, message: str, **extra: object) -> web.Response:
    return _answer({"message": message, "code": code, **extra}, status)


def _invalid_form(name: str, code: str, message: str) -> web.Response:
    """Discord's 400 for a body it refuses (50035), naming the field, as discord.py shows it."""
    errors = {name: {"_errors": [{"code": code, "message": message}]}}
    return _error(400, 50035, "Invalid Form Body", errors=errors)


def _snowflake_param(request: web.Request, name: str) -> int | web.Response:
    text = request.match_info.get(name) or request.query.get(name, "")
    if not text.isdigit() or len(text) > 20:
        return _invalid_form(name, "NUMBER_TYPE_COERCE", f'Value "{text}" is not snowflake.')
    return int(text)


def _token_for(user_id: int) -> str:
    """A token shaped like Discord's: the user id in base64, a time stamp, an HMAC-sized tail."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    stamp = int(time.time()).to_bytes(4, "big")
    return f"{b64(str(user_id).encode())}.{b64(stamp)}.{secrets.token_urlsafe(28)}"


class FakeDiscordREST:
    """Discord's REST API for one bot, on a free loopback port: ``async with`` starts and stops
    it. Point discord.py at :attr:`url` with :func:`pointing_discord_at` and log in with
    :attr:`token`.

    ``clock`` times the nonce window and the rate limits (``time.monotonic`` unless given; a test
    on a fast-forwarded loop passes ``loop.time``, the clock discord.py waits on, so both sides
    agree). ``wall_clock`` gives the dates Discord writes: message ids and time stamps, and
    ``X-RateLimit-Reset``. ``global_rate`` is the global limit, ``route_limit`` creates per
    ``route_period`` seconds the bucket of each channel, and ``global_window`` how the global
    window is counted (see :class:`_GlobalLimit`).
    """

    def __init__(
        self,
        *,
        global_rate: int = GLOBAL_RATE,
        nonce_window: float = NONCE_WINDOW,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        route_limit: int = ROUTE_LIMIT,
        route_period: float = ROUTE_PERIOD,
        global_window: Literal["fixed", "sliding"] = "fixed",
        bot_user_id: int = DEFAULT_BOT_USER_ID,
        username: str = "Cat Facts",
    ) -> None:
        self.nonce_window = nonce_window
        self.route_limit = route_limit
        self.route_period = route_period
        self.bot_user_id = bot_user_id
        self.token = _token_for(bot_user_id)
        """The only token it accepts."""
        self.user: JSON = {
            "id": str(bot_user_id),
            "username": username,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "bot": True,
            "system": False,
            "mfa_enabled": False,
            "verified": True,
            "email": None,
            "locale": "en-US",
            "flags": 0,
            "public_flags": 0,
        }
        """The bot user, as ``GET /users/@me`` answers it."""
        self.on_created: Hook | None = None
        """Awaited with each message just created, before the answer goes: a test can cancel or
        kill the sender there, after Discord has the message and before the bot knows it."""

        self.messages: list[CreatedMessage] = []
        """Every message created, in order (a create answered by the nonce rule adds none)."""
        self.requests = 0
        """Every request that reached it."""
        self.requests_by_route: collections.Counter[str] = collections.Counter()
        """Requests by discord.py's route key: ``"POST /channels/{channel_id}/messages"``."""
        self.request_times: list[float] = []
        """When each request arrived, on the clock."""
        self.admitted_times: list[float] = []
        """When each request that passed the global limit arrived."""
        self.global_429s = 0
        self.route_429s = 0
        self.nonce_duplicates = 0
        """Creates answered with the message an earlier one created (the nonce rule)."""
        self.invalid_requests = 0
        """Answers Discord counts against its limit of 10,000 invalid requests in 10 minutes
        (401, 403 and 429 but shared-scope ones; the fake counts, it does not ban)."""
        self.cancelled_requests = 0
        """Requests whose client went away before its answer (aiohttp then stops the handler)."""

        self._clock = clock
        self._wall_clock = wall_clock
        self._global = _GlobalLimit(global_rate, global_window)
        self._channels: dict[int, _Channel] = {}
        self._nonces: collections.OrderedDict[str, CreatedMessage] = collections.OrderedDict()
        self._last_id = 0
        self._changed = asyncio.Event()
        """Set (and replaced by a fresh one) whenever a request is held or ends: what
        :meth:`until` waits on."""
        self._application: JSON = {
            "id": str(bot_user_id),
            "name": username,
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": secrets.token_hex(32),
            "owner": {**self.user, "id": str(DEFAULT_OWNER_ID), "username": "owner", "bot": False},
            "team": None,
            "flags": 0,
            "bot": self.user,
        }

        app = web.Application(middlewares=[self._front_door()])
        app.router.add_get(f"{API_PREFIX}/users/@me", self._get_me)
        app.router.add_get(f"{API_PREFIX}/oauth2/applications/@me", self._get_application)
        app.router.add_post(f"{API_PREFIX}/channels/{{channel_id}}/messages", self._create)
        app.router.add_get(f"{API_PREFIX}/channels/{{channel_id}}/messages", self._history)
        self._app = app
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # Running ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash: what :func:`pointing_discord_at` takes."""
        if self._url is None:
            raise RuntimeError("the fake Discord is not started")
        return self._url

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1.

        As ``aiohttp.test_utils.TestServer`` does, but on a socket of its own, for a listen
        backlog deep enough for a benchmark's thousands of connections at once (with
        TestServer's 128 they time out while connecting), and without an access log line per
        request. A handler is cancelled when its client goes away, as with TestServer.
        """
        runner = web.AppRunner(
            self._app, handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            site = web.SockSite(runner, sock, backlog=BACKLOG)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner, self._url = runner, site.name

    async def close(self) -> None:
        """Let every held request go (so the server can stop), then stop."""
        for channel in self._channels.values():
            if channel.gate is not None:
                channel.gate.set()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # What a test sets ---------------------------------------------------------------------------

    def delete_channel(self, channel_id: int) -> None:
        """From now on the channel is gone: 404 Unknown Channel (10003)."""
        self._channel(channel_id).state = ChannelState.DELETED

    def forbid(self, channel_id: int) -> None:
        """From now on the bot may not send there: 403 Missing Permissions (50013)."""
        self._channel(channel_id).state = ChannelState.FORBIDDEN

    def deny_access(self, channel_id: int) -> None:
        """From now on the bot cannot see the channel: 403 Missing Access (50001)."""
        self._channel(channel_id).state = ChannelState.NO_ACCESS

    def reopen(self, channel_id: int) -> None:
        """The channel is an ordinary one again."""
        self._channel(channel_id).state = ChannelState.OPEN

    def fail_next(
        self, channel_id: int, count: int = 1, status: int = 500, *, after_creating: bool = False
    ) -> None:
        """Answer the next ``count`` creates in the channel with ``status`` (a 5xx, JSON body).

        With ``after_creating``, each creates its message first (the nonce rule remembers it),
        then fails: Discord did the work and the answer was lost, the case a retry must not turn
        into a second message.
        """
        if status not in SERVER_ERRORS:
            raise ValueError(f"status {status} is not one of {sorted(SERVER_ERRORS)}")
        self._channel(channel_id).failures.extend(
            _Failure(status, after_creating) for _ in range(count)
        )

    def stall(self, channel_id: int) -> None:
        """Hold every create in the channel, once past the rate limits, until :meth:`release`.

        A request whose client goes away meanwhile is dropped: aiohttp stops its handler, and
        no message is created (Discord never got to it). :meth:`stalled` waits until one is held.
        """
        channel = self._channel(channel_id)
        if channel.gate is None:
            channel.gate = asyncio.Event()
        channel.gate.clear()

    def release(self, channel_id: int) -> None:
        """Let the held creates of the channel, and the ones after them, go on."""
        gate = self._channel(channel_id).gate
        if gate is not None:
            gate.set()

    async def stalled(self, channel_id: int, count: int = 1) -> None:
        """Return once ``count`` creates in the channel are being held."""
        channel = self._channel(channel_id)
        await self.until(lambda: channel.held >= count)

    async def until(self, condition: Callable[[], bool]) -> None:
        """Return once ``condition()`` is true, checking it whenever a request is held or ends
        (answered or abandoned): ``await discord_rest.until(lambda: len(discord_rest.messages)
        == 3)``. Bound it with ``asyncio.timeout`` in a test."""
        while not condition():
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # What a test reads --------------------------------------------------------------------------

    def channel_messages(self, channel_id: int) -> list[CreatedMessage]:
        """The messages created in the channel, oldest first."""
        return list(self._channel(channel_id).messages)

    def peak_requests_per_second(self) -> int:
        """The most requests that arrived within any one second, 429s included."""
        return _peak(self.request_times)

    def peak_admitted_per_second(self) -> int:
        """The most requests past the global limit within any one second. With the default fixed
        window it can reach twice ``global_rate`` across the end of a window; never with a sliding
        one."""
        return _peak(self.admitted_times)

    # The front door: what every request passes --------------------------------------------------

    def _front_door(self) -> Middleware:
        """Count the request, check the token, apply the global limit, and stamp ``Via``."""

        @web.middleware
        async def front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
            now = self._clock()
            self.requests += 1
            self.request_times.append(now)
            resource = request.match_info.route.resource
            path = resource.canonical.removeprefix(API_PREFIX) if resource else request.path
            self.requests_by_route[f"{request.method} {path}"] += 1
            try:
                response = await self._admit(request, handler, now)
            except asyncio.CancelledError:
                self.cancelled_requests += 1
                raise
            finally:
                self._notify()
            if response.status in {401, 403} or (
                response.status == 429 and response.headers.get("X-RateLimit-Scope") != "shared"
            ):
                self.invalid_requests += 1
            response.headers["Via"] = VIA
            return response

        return front_door

    async def _admit(
        self,
        request: web.Request,
        handler: Handler,
        now: float,
    ) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, 0, "401: Unauthorized")
        wait = self._global.admit(now)
        if wait is not None:
            self.global_429s += 1
            retry_after = _seconds(wait)
            return _answer(
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": True,
                },
                429,
                {
                    "Retry-After": str(math.ceil(retry_after)),
                    "X-RateLimit-Global": "true",
                    "X-RateLimit-Scope": "global",
                },
            )
        self.admitted_times.append(now)
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error(404, 0, "404: Not Found")
        except web.HTTPMethodNotAllowed:
            return _error(405, 0, "405: Method Not Allowed")

    # Routes -------------------------------------------------------------------------------------

    async def _get_me(self, request: web.Request) -> web.StreamResponse:
        return _answer(self.user)

    async def _get_application(self, request: web.Request) -> web.StreamResponse:
        return _answer(self._application)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        """Create a message: the per-channel bucket, the channel's state, the body, the nonce."""
        channel_id = _snowflake_param(request, "channel_id")
        if isinstance(channel_id, web.Response):
            return channel_id
        channel = self._channel(channel_id)
        now = self._clock()
        limited, headers = self._route_bucket(channel, now)
        if limited:
            self.route_429s += 1
            retry_after = float(headers["X-RateLimit-Reset-After"])
            return _answer(
                {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": False,
                },
                429,
                {
                    **headers,
                    "Retry-After": str(math.ceil(retry_after)),
                    "X-RateLimit-Scope": "user",
                },
            )
        if channel.gate is not None and not channel.gate.is_set():
            await self._hold(channel, channel.gate)
        if channel.state is not ChannelState.OPEN:
            status, code, text = ERRORS[channel.state]
            return _error(status, code, text)

        parsed = await self._read_body(request)
        if isinstance(parsed, web.Response):
            return parsed
        payload, files = parsed
        refusal = self._refusal(payload, files)
        if refusal is not None:
            return refusal

        failure = channel.failures.popleft() if channel.failures else None
        if failure is not None and not failure.after_creating:
            return _error(failure.status, 0, SERVER_ERRORS[failure.status])
        nonce = payload.get("nonce")
        existing = self._remembered(nonce, self._clock()) if payload.get("enforce_nonce") else None
        if existing is not None:
            self.nonce_duplicates += 1
            message = existing
        else:
            message = self._new_message(channel_id, payload, files)
            channel.messages.append(message)
            self.messages.append(message)
            if nonce is not None:
                self._nonces.pop(str(nonce), None)  # the newest goes last: creation order
                self._nonces[str(nonce)] = message
            if self.on_created is not None:
                await self.on_created(message)
        if failure is not None:
            return _error(failure.status, 0, SERVER_ERRORS[failure.status])
        return _answer(message.data, 200, headers)

    async def _history(self, request: web.Request) -> web.StreamResponse:
        """A page of the channel's messages, newest first, as Discord answers it: ``before``
        gives the newest ones older than it, ``after`` the oldest ones newer than it, ``around``
        the ones nearest it, the message itself included."""
        channel_id = _snowflake_param(request, "channel_id")
        if isinstance(channel_id, web.Response):
            return channel_id
        channel = self._channel(channel_id)
        if channel.state in {ChannelState.DELETED, ChannelState.NO_ACCESS}:
            status, code, text = ERRORS[channel.state]
            return _error(status, code, text)
        limit_text = request.query.get("limit", "50")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= HISTORY_LIMIT:
            return _invalid_form(
                "limit", "NUMBER_TYPE_MAX", f"int value should be <= {HISTORY_LIMIT} and >= 1."
            )
        limit = int(limit_text)
        marks: dict[str, int] = {}
        for name in ("before", "after", "around"):
            if name in request.query:
                mark = _snowflake_param(request, name)
                if isinstance(mark, web.Response):
                    return mark
                marks[name] = mark
        oldest_first = channel.messages  # ids grow with time: creation order is id order
        if "around" in marks:
            middle = sum(1 for m in oldest_first if m.id < marks["around"])
            start = max(0, middle - limit // 2)
            chosen = oldest_first[start : start + limit]
        elif "after" in marks:
            chosen = [m for m in oldest_first if m.id > marks["after"]][:limit]
        else:
            before = marks.get("before")
            older = [m for m in oldest_first if before is None or m.id < before]
            chosen = older[-limit:]
        return _answer([m.data for m in reversed(chosen)])

    # How a create is judged ---------------------------------------------------------------------

    def _channel(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel()
        return channel

    def _route_bucket(self, channel: _Channel, now: float) -> tuple[bool, dict[str, str]]:
        """Take one from the channel's bucket (opened by the first create after the last one
        ended, as Discord's reset at a time, not gradually). True when it was empty; the headers
        describe the bucket either way, as Discord's do."""
        if channel.bucket_reset is None or now >= channel.bucket_reset - EPSILON:
            channel.bucket_reset, channel.bucket_used = now + self.route_period, 0
        limited = channel.bucket_used >= self.route_limit
        if not limited:
            channel.bucket_used += 1
        reset_after = _seconds(channel.bucket_reset - now)
        return limited, {
            "X-RateLimit-Limit": str(self.route_limit),
            "X-RateLimit-Remaining": str(self.route_limit - channel.bucket_used),
            "X-RateLimit-Reset": f"{self._wall_clock() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": MESSAGE_BUCKET,
        }

    async def _hold(self, channel: _Channel, gate: asyncio.Event) -> None:
        channel.held += 1
        self._notify()
        try:
            await gate.wait()
        finally:
            channel.held -= 1

    @staticmethod
    async def _read_body(
        request: web.Request,
    ) -> tuple[JSON, list[tuple[str, bytes]]] | web.Response:
        """The JSON payload and the files: a JSON body, or multipart as discord.py sends files
        (``payload_json``, then ``files[0]``, ``files[1]``...)."""
        files: list[tuple[str, bytes]] = []
        if request.content_type == "multipart/form-data":
            payload: object = None
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                elif part.name is not None and part.name.startswith("files["):
                    files.append((part.filename or "unknown", bytes(await part.read())))
        elif request.content_type == "application/json":
            try:
                payload = await request.json()
            except ValueError:
                payload = None
        else:
            return _error(400, 50109, "The request body contains invalid JSON.")
        if not isinstance(payload, dict):
            return _error(400, 50109, "The request body contains invalid JSON.")
        return payload, files

    @staticmethod
    def _refusal(payload: JSON, files: list[tuple[str, bytes]]) -> web.Response | None:
        """Discord's 400 for a message it will not create, or None: too long, empty, a nonce
        longer than 25 characters."""
        content = payload.get("content") or ""
        if len(content) > CONTENT_LIMIT:
            return _invalid_form(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {CONTENT_LIMIT} or fewer in length."
            )
        nonce = payload.get("nonce")
        if nonce is not None and len(str(nonce)) > NONCE_LIMIT:
            return _invalid_form(
                "nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {NONCE_LIMIT} or fewer in length."
            )
        for embed in payload.get("embeds") or []:
            if len(embed.get("description") or "") > EMBED_DESCRIPTION_LIMIT:
                return _invalid_form(
                    "embeds.0.description",
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {EMBED_DESCRIPTION_LIMIT} or fewer in length.",
                )
        substance = ("embeds", "sticker_ids", "components", "poll")
        if not content and not files and not any(payload.get(key) for key in substance):
            return _error(400, 50006, "Cannot send an empty message")
        return None

    def _remembered(self, nonce: object, now: float) -> CreatedMessage | None:
        """The message this bot created with ``nonce`` within the nonce window, if any (and
        forget the ones that left the window: they are in creation order)."""
        while self._nonces:
            oldest = next(iter(self._nonces.values()))
            if now - oldest.created_at < self.nonce_window:
                break
            self._nonces.popitem(last=False)
        return None if nonce is None else self._nonces.get(str(nonce))

    def _next_id(self) -> tuple[int, datetime.datetime]:
        """A snowflake for now on the wall clock (later ids are always larger), and its time."""
        wall = self._wall_clock()
        milliseconds = int(wall * 1000) - DISCORD_EPOCH_MS
        self._last_id = max((milliseconds << 22) | (1 << 17), self._last_id + 1)
        return self._last_id, datetime.datetime.fromtimestamp(wall, datetime.UTC)

    def _new_message(
        self, channel_id: int, payload: JSON, files: list[tuple[str, bytes]]
    ) -> CreatedMessage:
        message_id, when = self._next_id()
        attachments = []
        for index, (filename, content) in enumerate(files):
            attachment_id = message_id + index + 1
            url = f"{self.url}/attachments/{channel_id}/{attachment_id}/{filename}"
            attachments.append(
                {
                    "id": str(attachment_id),
                    "filename": filename,
                    "size": len(content),
                    "url": url,
                    "proxy_url": url,
                    "content_type": "application/octet-stream",
                }
            )
        data: JSON = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": {
                key: self.user[key]
                for key in (
                    "id",
                    "username",
                    "discriminator",
                    "global_name",
                    "avatar",
                    "avatar_decoration_data",
                    "bot",
                    "public_flags",
                )
            },
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "timestamp": when.isoformat(timespec="microseconds"),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": int(payload.get("flags") or 0) & KEPT_FLAGS,
        }
        nonce = payload.get("nonce")
        if nonce is not None:
            data["nonce"] = nonce
        return CreatedMessage(
            id=message_id,
            channel_id=channel_id,
            payload=payload,
            created_at=self._clock(),
            nonce=None if nonce is None else str(nonce),
            data=data,
            files=tuple(files),
        )


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@contextlib.contextmanager
def pointing_discord_at(base_url: str) -> Iterator[None]:
    """Send discord.py's REST requests to ``base_url`` (a :class:`FakeDiscordREST`'s ``url``)
    inside the block, and to Discord again after it.

    discord.py builds each request's URL from the class attribute ``Route.BASE`` when it creates
    the ``Route`` (every API call does, at the call), so every client in the process follows it
    for as long as the block runs. Only loopback URLs are taken: this is for tests and the
    benchmark, and there is no setting or variable that could do it in production.
    """
    host = yarl.URL(base_url).host
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"pointing_discord_at takes a loopback URL, not {base_url!r}")
    route = discord.http.Route
    previous = route.BASE
    route.BASE = f"{base_url.rstrip('/')}{API_PREFIX}"
    try:
        yield
    finally:
        route.BASE = previous


__all__ = [
    "API_PREFIX",
    "ChannelState",
    "CreatedMessage",
    "FakeDiscordREST",
    "pointing_discord_at",
]
