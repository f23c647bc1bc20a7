"""The local Discord REST API (:mod:`fakes.discord_rest`), driven by a real ``discord.Client``.

Each test logs a real client in against the fake and sends through discord.py's own HTTP client
and rate limiter, so these tests show both that the fake answers as Discord does (discord.py
parses every answer, waits on every 429) and how discord.py behaves against Discord's limits.

The fake runs on the test's fast-forwarded loop and reads the loop's clock, the one discord.py
waits on: a 429's ``retry_after`` or a 5 s bucket passes at once and exactly, and the counts
asserted here come out the same however fast the machine is. Loopback HTTP needs no real time
(the server is in the same loop; see ``tests/README.md``, "Controlling time").
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import discord
import discord.http
import pytest

from fakes import FakeClock
from fakes.discord_rest import (
    API_PREFIX,
    MESSAGE_BUCKET,
    FakeDiscordREST,
    pointing_discord_at,
)

CHANNEL = 1_300_000_000_000_100_000
"""The first of the channel ids the tests send to (any id is a channel to the fake)."""


@contextlib.asynccontextmanager
async def fake_discord(**options: Any) -> AsyncIterator[FakeDiscordREST]:
    """A fake Discord on the loop's clock (unless ``clock`` is given), discord.py pointed at it."""
    options.setdefault("clock", asyncio.get_running_loop().time)
    async with FakeDiscordREST(**options) as discord_rest:
        with pointing_discord_at(discord_rest.url):
            yield discord_rest


@contextlib.asynccontextmanager
async def logged_in(discord_rest: FakeDiscordREST) -> AsyncIterator[discord.Client]:
    """A real ``discord.Client`` logged in to the fake (REST only: no gateway), closed after."""
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(discord_rest.token)
        yield client
    finally:
        await client.close()


@pytest.fixture
async def discord_rest() -> AsyncIterator[FakeDiscordREST]:
    async with fake_discord() as server:
        yield server


@pytest.fixture
async def client(discord_rest: FakeDiscordREST) -> AsyncIterator[discord.Client]:
    async with logged_in(discord_rest) as logged_in_client:
        yield logged_in_client


def channel(client: discord.Client, n: int = 0) -> discord.PartialMessageable:
    return client.get_partial_messageable(CHANNEL + n)


async def contents(messageable: discord.PartialMessageable) -> list[str]:
    """What the channel's history holds, newest first."""
    return [message.content async for message in messageable.history()]


def discord_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("discord") and record.levelno >= logging.WARNING
    ]


# Logging in ---------------------------------------------------------------------------------


async def test_login_reads_the_bot_user_and_the_application(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    assert client.user is not None
    assert client.user.id == discord_rest.bot_user_id
    assert client.user.bot
    assert client.application_id == discord_rest.bot_user_id
    assert discord_rest.requests_by_route == {
        "GET /users/@me": 1,
        "GET /oauth2/applications/@me": 1,
    }


def test_the_token_looks_like_a_bot_token() -> None:
    server = FakeDiscordREST(bot_user_id=1_300_000_000_000_000_001)
    first, stamp, tail = server.token.split(".")
    assert len(first) >= 20
    assert len(stamp) == 6
    assert len(tail) >= 27


async def test_a_wrong_token_fails_login_as_discord_py_reports_it(
    discord_rest: FakeDiscordREST,
) -> None:
    client = discord.Client(intents=discord.Intents.none())
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login(discord_rest.token + "x")
    finally:
        await client.close()
    assert discord_rest.requests == 1
    assert discord_rest.invalid_requests == 1


async def test_pointing_discord_at_is_undone_after_the_block() -> None:
    before = discord.http.Route.BASE
    with pointing_discord_at("http://127.0.0.1:1"):
        route = discord.http.Route("GET", "/users/@me")
        assert route.url == f"http://127.0.0.1:1{API_PREFIX}/users/@me"
    assert before == discord.http.Route.BASE
    assert discord.http.Route("GET", "/users/@me").url.startswith("https://discord.com/")


def test_pointing_discord_at_takes_only_a_loopback_url() -> None:
    with pytest.raises(ValueError, match="loopback"), pointing_discord_at("http://example.com"):
        pass


# Sending ------------------------------------------------------------------------------------


async def test_a_send_creates_one_message_that_discord_py_parses(
    client: discord.Client, discord_rest: FakeDiscordREST, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="discord")
    embed = discord.Embed(description="Cats sleep a lot.")
    sent = await channel(client).send(content="hello", embed=embed, nonce="hello-1")

    [created] = discord_rest.messages
    assert sent.id == created.id
    assert sent.content == "hello"
    assert sent.nonce == "hello-1"
    assert sent.embeds[0].description == "Cats sleep a lot."
    assert sent.channel.id == CHANNEL
    assert sent.author.id == discord_rest.bot_user_id
    assert created.payload["enforce_nonce"] is True
    assert created.nonce == "hello-1"
    assert discord_rest.channel_messages(CHANNEL) == [created]
    assert discord_warnings(caplog) == []
    # discord.py read the bucket from the headers: the channel's bucket, 4 creates left.
    assert any(MESSAGE_BUCKET in record.getMessage() for record in caplog.records)


async def test_ids_grow_with_every_message(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    for n in range(3):
        await channel(client, n).send(content=f"message {n}")
    ids = [message.id for message in discord_rest.messages]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_the_same_nonce_twice_gives_one_message(clock: FakeClock) -> None:
    async with (
        fake_discord(clock=clock, nonce_window=180) as discord_rest,
        logged_in(discord_rest) as client,
    ):
        first = await channel(client).send(content="once", nonce="daily-1")
        clock.advance(179)
        again = await channel(client).send(content="once", nonce="daily-1")
        assert again.id == first.id
        assert len(discord_rest.messages) == 1
        assert discord_rest.nonce_duplicates == 1

        clock.advance(2)  # the nonce was created 181 s ago: Discord has forgotten it
        later = await channel(client).send(content="once", nonce="daily-1")
    assert later.id != first.id
    assert len(discord_rest.messages) == 2


async def test_a_nonce_is_the_bot_s_not_the_channel_s(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    """The API documents the nonce check per author: the same nonce sent to another channel
    returns the first channel's message, and creates nothing there."""
    first = await channel(client, 0).send(content="to the first channel", nonce="n-1")
    other = await channel(client, 1).send(content="to the second channel", nonce="n-1")
    assert other.id == first.id
    assert other.content == "to the first channel"
    assert discord_rest.channel_messages(CHANNEL + 1) == []


async def test_a_nonce_longer_than_25_characters_is_refused(client: discord.Client) -> None:
    with pytest.raises(discord.HTTPException) as raised:
        await channel(client).send(content="x", nonce="n" * 26)
    assert (raised.value.status, raised.value.code) == (400, 50035)


@pytest.mark.parametrize(
    ("content", "code"),
    [("x" * 2001, 50035), (None, 50006)],
    ids=["too long", "empty"],
)
async def test_a_message_discord_would_not_create_is_refused(
    client: discord.Client, discord_rest: FakeDiscordREST, content: str | None, code: int
) -> None:
    with pytest.raises(discord.HTTPException) as raised:
        await channel(client).send(content=content)
    assert (raised.value.status, raised.value.code) == (400, code)
    assert discord_rest.messages == []


async def test_a_file_is_attached(client: discord.Client, discord_rest: FakeDiscordREST) -> None:
    sent = await channel(client).send(
        content="with a file", file=discord.File(io.BytesIO(b"meow"), filename="cat.txt")
    )
    [created] = discord_rest.messages
    assert created.files == (("cat.txt", b"meow"),)
    assert [(a.filename, a.size) for a in sent.attachments] == [("cat.txt", 4)]


# What can go wrong with a channel -----------------------------------------------------------


@pytest.mark.parametrize(
    ("mark", "error", "code"),
    [
        (FakeDiscordREST.delete_channel, discord.NotFound, 10003),
        (FakeDiscordREST.forbid, discord.Forbidden, 50013),
        (FakeDiscordREST.deny_access, discord.Forbidden, 50001),
    ],
    ids=["deleted", "forbidden", "no access"],
)
async def test_a_refusing_channel_raises_what_discord_py_raises(
    client: discord.Client,
    discord_rest: FakeDiscordREST,
    mark: Callable[[FakeDiscordREST, int], None],
    error: type[discord.HTTPException],
    code: int,
) -> None:
    mark(discord_rest, CHANNEL)
    with pytest.raises(error) as raised:
        await channel(client).send(content="hello")
    assert raised.value.code == code
    assert discord_rest.messages == []

    discord_rest.reopen(CHANNEL)
    await channel(client).send(content="hello")
    assert len(discord_rest.messages) == 1


async def test_history_of_a_refusing_channel(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    await channel(client, 2).send(content="readable")
    discord_rest.delete_channel(CHANNEL)
    discord_rest.deny_access(CHANNEL + 1)
    discord_rest.forbid(CHANNEL + 2)  # may not send, may still read
    with pytest.raises(discord.NotFound):
        await contents(channel(client, 0))
    with pytest.raises(discord.Forbidden):
        await contents(channel(client, 1))
    assert await contents(channel(client, 2)) == ["readable"]


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_5xx_that_discord_py_retries_creates_the_message_once(
    client: discord.Client, discord_rest: FakeDiscordREST, status: int
) -> None:
    discord_rest.fail_next(CHANNEL, 2, status)
    sent = await channel(client).send(content="hello")
    assert [m.id for m in discord_rest.messages] == [sent.id]
    assert discord_rest.requests_by_route["POST /channels/{channel_id}/messages"] == 3


async def test_a_503_is_not_retried_by_discord_py(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    discord_rest.fail_next(CHANNEL, 1, 503)
    with pytest.raises(discord.DiscordServerError) as raised:
        await channel(client).send(content="hello")
    assert raised.value.status == 503
    assert discord_rest.messages == []


async def test_an_answer_lost_after_creating_is_not_a_second_message(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    """Discord creates the message, then answers 500. discord.py retries the same payload,
    with the same random nonce it gives every message, and the nonce rule answers it."""
    discord_rest.fail_next(CHANNEL, 1, 500, after_creating=True)
    sent = await channel(client).send(content="hello")  # no nonce of the bot's own
    assert [m.id for m in discord_rest.messages] == [sent.id]
    assert discord_rest.nonce_duplicates == 1


async def test_a_send_cancelled_while_discord_holds_it_creates_nothing(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    discord_rest.stall(CHANNEL)
    sending = asyncio.create_task(channel(client).send(content="hello", nonce="held-1"))
    await discord_rest.stalled(CHANNEL)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    async with asyncio.timeout(10):  # a guard: the server notices the client left at once
        await discord_rest.until(lambda: discord_rest.cancelled_requests == 1)
    discord_rest.release(CHANNEL)
    assert discord_rest.messages == []

    again = await channel(client).send(content="hello", nonce="held-1")
    assert [m.id for m in discord_rest.messages] == [again.id]


async def test_a_sender_killed_after_discord_created_the_message(
    client: discord.Client, discord_rest: FakeDiscordREST
) -> None:
    """The message exists, the sender never learnt it; a resend with the same nonce gets it."""
    sending: asyncio.Task[discord.Message] | None = None

    async def kill_the_sender(message: object) -> None:
        assert sending is not None
        sending.cancel()

    discord_rest.on_created = kill_the_sender
    sending = asyncio.create_task(channel(client).send(content="hello", nonce="lost-1"))
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert len(discord_rest.messages) == 1

    discord_rest.on_created = None
    again = await channel(client).send(content="hello", nonce="lost-1")
    assert [m.id for m in discord_rest.messages] == [again.id]
    assert discord_rest.nonce_duplicates == 1


# Rate limits --------------------------------------------------------------------------------


async def send_to_many(client: discord.Client, count: int) -> list[discord.Message | BaseException]:
    """``count`` messages at once, each to a channel of its own, each with its own nonce."""
    return await asyncio.gather(
        *(channel(client, n).send(content=f"message {n}", nonce=f"n{n}") for n in range(count)),
        return_exceptions=True,
    )


def assert_each_created_once(discord_rest: FakeDiscordREST, count: int) -> None:
    by_channel = sorted((m.channel_id, m.nonce) for m in discord_rest.messages)
    assert by_channel == [(CHANNEL + n, f"n{n}") for n in range(count)]


async def test_120_messages_to_120_channels_at_once() -> None:
    async with fake_discord(global_rate=2000) as discord_rest, logged_in(discord_rest) as client:
        results = await send_to_many(client, 120)
    assert all(isinstance(result, discord.Message) for result in results)
    assert_each_created_once(discord_rest, 120)
    assert discord_rest.global_429s == discord_rest.route_429s == 0
    # The two login requests and all 120 sends came in the same second of the loop's clock.
    assert discord_rest.peak_requests_per_second() == 122


async def test_discord_py_waits_out_global_429s(caplog: pytest.LogCaptureFixture) -> None:
    """discord.py does not pace itself globally: it sends all 12 at once and waits only when
    told to. Login's 2 requests and 3 sends fill the first second; the other 9 get 429s, wait
    ``retry_after`` together, and 5 of them fit the next second: 13 429s, every message once."""
    async with fake_discord(global_rate=5) as discord_rest, logged_in(discord_rest) as client:
        results = await send_to_many(client, 12)
    assert all(isinstance(result, discord.Message) for result in results)
    assert_each_created_once(discord_rest, 12)
    assert discord_rest.global_429s == 13
    assert discord_rest.route_429s == 0
    assert discord_rest.peak_admitted_per_second() == 5
    assert discord_rest.peak_requests_per_second() == 14
    assert "Global rate limit has been hit. Retrying in 1.00 seconds." in discord_warnings(caplog)


async def test_a_burst_beyond_five_seconds_of_quota_loses_messages() -> None:
    """discord.py tries a request 5 times, then raises the 429: of 40 sends at once at 5 a
    second, the ones still refused in the fifth second fail (3 + 4 x 5 get through)."""
    async with fake_discord(global_rate=5) as discord_rest, logged_in(discord_rest) as client:
        results = await send_to_many(client, 40)
    failures = [result for result in results if isinstance(result, BaseException)]
    assert all(isinstance(failure, discord.HTTPException) for failure in failures)
    assert {getattr(failure, "status", None) for failure in failures} == {429}
    assert len(discord_rest.messages) == 23
    assert len(failures) == 17
    assert len({m.nonce for m in discord_rest.messages}) == 23


async def test_discord_py_paces_each_channel_from_the_headers() -> None:
    """From the bucket headers discord.py knows 5 creates in 5 s are allowed, and waits before
    the sixth instead of being told to."""
    async with fake_discord() as discord_rest, logged_in(discord_rest) as client:
        for n in range(7):
            await channel(client).send(content=f"message {n}")
    created = [m.created_at for m in discord_rest.messages]
    assert discord_rest.route_429s == 0
    assert created[5] - created[0] >= 5.0
    assert created[4] - created[0] < 5.0


async def test_two_clients_on_one_token_meet_the_channel_s_bucket() -> None:
    """Two copies of a bot (as during a restart) share Discord's buckets but not discord.py's
    limiter: 6 creates to one channel overrun its 5, and the one refused waits and retries."""
    async with (
        fake_discord() as discord_rest,
        logged_in(discord_rest) as first,
        logged_in(discord_rest) as second,
    ):

        async def three(client: discord.Client, name: str) -> None:
            for n in range(3):
                await channel(client).send(content=f"{name} {n}", nonce=f"{name}-{n}")

        await asyncio.gather(three(first, "first"), three(second, "second"))
    assert discord_rest.route_429s >= 1
    assert discord_rest.global_429s == 0
    nonces = sorted(m.nonce or "" for m in discord_rest.messages)
    assert nonces == sorted(f"{name}-{n}" for name in ("first", "second") for n in range(3))


async def test_the_rate_limit_answers_carry_discord_s_headers(
    session: aiohttp.ClientSession,
) -> None:
    async with fake_discord(global_rate=7) as discord_rest:
        url = f"{discord_rest.url}{API_PREFIX}/channels/{CHANNEL}/messages"
        headers = {"Authorization": f"Bot {discord_rest.token}"}
        answers = []
        for n in range(8):
            async with session.post(url, json={"content": f"m{n}"}, headers=headers) as response:
                answers.append((response.status, response.headers.copy(), await response.json()))

    statuses = [status for status, _, _ in answers]
    assert statuses == [200] * 5 + [429, 429, 429]
    _, first, _ = answers[0]
    assert first["Content-Type"] == "application/json"  # exactly: else discord.py reads text
    assert first["Via"]
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("5", "4")
    assert first["X-RateLimit-Bucket"] == MESSAGE_BUCKET
    assert float(first["X-RateLimit-Reset-After"]) == 5.0
    assert float(first["X-RateLimit-Reset"]) > 1_700_000_000

    _, route, route_body = answers[5]
    assert route["X-RateLimit-Scope"] == "user"
    assert route["X-RateLimit-Remaining"] == "0"
    assert route["Via"]  # without it, discord.py takes a 429 for Cloudflare's and raises
    assert route_body == {
        "message": "You are being rate limited.",
        "retry_after": 5.0,
        "global": False,
    }
    assert route["Retry-After"] == "5"

    _, overall, overall_body = answers[7]  # the 8th request in one second, with global_rate=7
    assert overall["X-RateLimit-Global"] == "true"
    assert overall["X-RateLimit-Scope"] == "global"
    assert overall_body == {
        "message": "You are being rate limited.",
        "retry_after": 1.0,
        "global": True,
    }
    assert overall["Retry-After"] == "1"
    assert (discord_rest.route_429s, discord_rest.global_429s) == (2, 1)


async def test_a_sliding_global_window_never_admits_more_than_the_rate() -> None:
    async with (
        fake_discord(global_rate=5, global_window="sliding") as discord_rest,
        logged_in(discord_rest) as client,
    ):
        results = await send_to_many(client, 12)
    assert all(isinstance(result, discord.Message) for result in results)
    assert_each_created_once(discord_rest, 12)
    assert discord_rest.peak_admitted_per_second() == 5


# Reading ------------------------------------------------------------------------------------


async def test_history_pages_newest_first_as_discord_does() -> None:
    async with fake_discord(route_limit=1000) as discord_rest, logged_in(discord_rest) as client:
        sent = [await channel(client).send(content=f"message {n}") for n in range(105)]
        ids = [message.id for message in sent]

        newest_first = [m.id async for m in channel(client).history(limit=None)]
        oldest_first = [m.id async for m in channel(client).history(limit=None, oldest_first=True)]
        after = [m.id async for m in channel(client).history(limit=3, after=sent[99])]
        before = [m.id async for m in channel(client).history(limit=3, before=sent[2])]
        around = [m.id async for m in channel(client).history(limit=3, around=sent[50])]
    assert newest_first == ids[::-1]  # two pages: 100, then 5
    assert oldest_first == ids
    assert after == ids[100:103]
    assert before == ids[1::-1]
    assert around == ids[51:48:-1]
    assert (
        discord_rest.requests_by_route["GET /channels/{channel_id}/messages"] == 2 + 2 + 1 + 1 + 1
    )
