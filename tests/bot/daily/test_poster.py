"""The daily post on Discord's side: real discord.py against the fake Discord REST API for what
Discord answers, and a cached channel for what the bot can tell before asking."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from bot.daily import DailyPost, DiscordPoster, UndeliverableError, missing_permissions
from bot.daily.poster import post_embed
from bot.facts import ENGLISH, Fact
from bot.facts.languages import by_code
from bot.facts.pool import OFFLINE
from fakes import FakeDiscordREST, pointing_discord_at

CHANNEL = 123_456_789_012_345_678
GUILD = 987_654_321_098_765_432
DAY = datetime.date(2026, 1, 15)
FACT = Fact("Cats sleep for around 13 to 16 hours a day.", "meowfacts")


def post(day: datetime.date = DAY, channel_id: int = CHANNEL) -> DailyPost:
    return DailyPost(channel_id, GUILD, day, FACT, ENGLISH)


@pytest.fixture
async def discord_rest() -> AsyncIterator[FakeDiscordREST]:
    # On the loop's clock: the one discord.py's rate limiter waits on, fast-forwarded here.
    async with FakeDiscordREST(clock=asyncio.get_running_loop().time) as server:
        with pointing_discord_at(server.url):
            yield server


@pytest.fixture
async def poster(discord_rest: FakeDiscordREST) -> AsyncIterator[DiscordPoster]:
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(discord_rest.token)
        yield DiscordPoster(client)
    finally:
        await client.close()


async def test_a_post_is_an_embed_with_its_nonce(
    poster: DiscordPoster, discord_rest: FakeDiscordREST
) -> None:
    message_id = await poster.send(post())
    [made] = discord_rest.messages
    assert made.id == message_id
    assert made.channel_id == CHANNEL
    assert made.nonce == post().nonce
    assert made.payload["enforce_nonce"] is True
    [embed] = made.payload["embeds"]
    assert embed["title"] == "\N{CAT FACE} Daily cat fact"
    assert embed["description"] == FACT.text
    assert embed["footer"]["text"] == "Daily cat fact for 2026-01-15"


async def test_the_same_post_sent_twice_is_one_message(
    poster: DiscordPoster, discord_rest: FakeDiscordREST
) -> None:
    first = await poster.send(post())
    again = await poster.send(post())
    assert first == again
    assert len(discord_rest.messages) == 1
    assert discord_rest.nonce_duplicates == 1
    assert await poster.send(post(DAY + datetime.timedelta(days=1))) != first  # the next day


def test_nonces_are_short_and_differ_by_channel_and_day() -> None:
    nonces = {
        post(day, channel).nonce
        for day in (DAY, DAY + datetime.timedelta(days=1))
        for channel in (CHANNEL, CHANNEL + 1, 0, 2**64 - 1)
    }
    assert len(nonces) == 8
    assert max(len(n) for n in nonces) <= 25  # Discord's limit
    assert post(channel_id=0).nonce == "d0260115"


@pytest.mark.parametrize(
    ("refuse", "reason"),
    [
        ("delete_channel", "the channel is gone (deleted?)"),
        (
            "forbid",
            "I'm missing a permission there: I need View Channel, Send Messages and Embed Links",
        ),
        (
            "deny_access",
            "I can't see the channel: I was removed from the server, or lost View Channel there",
        ),
    ],
)
async def test_what_discord_refuses_for_good_is_undeliverable(
    poster: DiscordPoster, discord_rest: FakeDiscordREST, refuse: str, reason: str
) -> None:
    getattr(discord_rest, refuse)(CHANNEL)
    with pytest.raises(UndeliverableError) as caught:
        await poster.send(post())
    assert str(caught.value) == reason
    assert discord_rest.messages == []


async def test_a_server_error_that_outlasts_discord_pys_retries_is_passing(
    poster: DiscordPoster, discord_rest: FakeDiscordREST
) -> None:
    discord_rest.fail_next(CHANNEL, count=10, status=503)
    with pytest.raises(discord.DiscordServerError):
        await poster.send(post())


async def test_a_server_error_after_creating_is_retried_into_the_same_message(
    poster: DiscordPoster, discord_rest: FakeDiscordREST
) -> None:
    discord_rest.fail_next(CHANNEL, count=1, status=500, after_creating=True)
    message_id = await poster.send(post())  # discord.py retries a 5xx itself, same nonce
    [made] = discord_rest.messages
    assert made.id == message_id


async def test_the_post_is_found_in_the_channel_by_its_day(
    poster: DiscordPoster, discord_rest: FakeDiscordREST
) -> None:
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    message_id = await poster.send(post())
    assert await poster.find(post(), before) == message_id
    assert await poster.find(post(DAY + datetime.timedelta(days=1)), before) is None
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
    assert await poster.find(post(), later) is None
    assert await poster.find(post(channel_id=CHANNEL + 1), before) is None


async def test_a_history_that_cant_be_read_finds_nothing(
    poster: DiscordPoster, discord_rest: FakeDiscordREST, caplog: pytest.LogCaptureFixture
) -> None:
    await poster.send(post())
    discord_rest.deny_access(CHANNEL)
    before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    assert await poster.find(post(), before) is None
    assert "could not look for the daily post" in caplog.text


def test_an_offline_fact_in_another_language_says_it_is_english() -> None:
    offline = DailyPost(CHANNEL, GUILD, DAY, Fact("Cats purr.", OFFLINE), by_code("ger-de"))
    footer = post_embed(offline).footer.text
    assert footer == (
        "Daily cat fact for 2026-01-15 (from the bot's own collection, in English, as the "
        "cat-fact service is down)"
    )
    english = DailyPost(CHANNEL, GUILD, DAY, Fact("Cats purr.", OFFLINE), ENGLISH)
    assert post_embed(english).footer.text == "Daily cat fact for 2026-01-15"


# --- What the bot can tell before asking ---------------------------------------------------------


class Channel:
    """A cached text channel, with the bot's permissions in it, and its history."""

    def __init__(self, **permissions: bool) -> None:
        self.permissions = discord.Permissions(**permissions)
        self.guild = SimpleNamespace(me=SimpleNamespace(id=1))
        self.sent: list[dict[str, Any]] = []
        self.error: Exception | None = None
        self.messages: list[Any] = []
        self.asked: list[dict[str, Any]] = []

    async def history(self, **options: Any) -> AsyncIterator[Any]:
        self.asked.append(options)
        for message in self.messages:
            yield message

    def permissions_for(self, member: object) -> discord.Permissions:
        return self.permissions

    async def send(self, **kwargs: Any) -> Any:
        if self.error is not None:
            raise self.error
        self.sent.append(kwargs)
        return SimpleNamespace(id=77)


class Client:
    """What the poster asks of a discord.py client, with one cached channel (or none)."""

    def __init__(self, channel: Channel | None, *, ready: bool = True) -> None:
        self.channel = channel
        self.ready = ready
        self.user = SimpleNamespace(id=1)
        self.asked_guilds: list[int] = []
        self.partial: tuple[int, int] | None = None

    def get_channel(self, channel_id: int) -> Channel | None:
        return self.channel

    def is_ready(self) -> bool:
        return self.ready

    def get_guild(self, guild_id: int) -> None:
        self.asked_guilds.append(guild_id)

    def get_partial_messageable(self, channel_id: int, *, guild_id: int) -> Channel:
        self.partial = (channel_id, guild_id)
        return Channel(view_channel=True, send_messages=True, embed_links=True)


def poster_for(client: Client) -> DiscordPoster:
    return DiscordPoster(client)  # type: ignore[arg-type]


async def test_missing_permissions_are_named_before_anything_is_sent() -> None:
    channel = Channel(view_channel=True)
    with pytest.raises(UndeliverableError) as caught:
        await poster_for(Client(channel)).send(post())
    assert str(caught.value) == "I'm missing a permission there: Send Messages, Embed Links"
    assert channel.sent == []
    assert missing_permissions(channel, object()) == ["Send Messages", "Embed Links"]  # type: ignore[arg-type]


async def test_a_server_the_bot_left_is_undeliverable_once_it_knows_its_servers() -> None:
    client = Client(None, ready=True)
    with pytest.raises(UndeliverableError) as caught:
        await poster_for(client).send(post())
    assert str(caught.value) == "I'm not in that server any more"
    assert client.asked_guilds == [GUILD]
    unready = Client(None, ready=False)
    assert await poster_for(unready).send(post()) == 77  # not known yet: try
    assert unready.partial == (CHANNEL, GUILD)


async def test_the_look_back_reads_the_bots_own_messages_oldest_first_in_one_request() -> None:
    channel = Channel(view_channel=True, send_messages=True, embed_links=True)
    footer = post_embed(post())
    someone = SimpleNamespace(id=2, embeds=[footer], author=SimpleNamespace(id=2))
    mine = SimpleNamespace(id=3, embeds=[footer], author=SimpleNamespace(id=1))
    channel.messages = [someone, mine]
    since = datetime.datetime(2026, 1, 15, 7, 59, tzinfo=datetime.UTC)
    assert await poster_for(Client(channel)).find(post(), since) == 3  # not someone else's copy
    assert channel.asked == [{"limit": 100, "after": since, "oldest_first": True}]


@pytest.mark.parametrize(
    ("status", "undeliverable"),
    [(400, True), (499, True), (429, False), (500, False), (502, False)],
)
async def test_other_refusals_are_undeliverable_but_rate_limits_and_5xx_pass(
    status: int, undeliverable: bool
) -> None:
    channel = Channel(view_channel=True, send_messages=True, embed_links=True)
    response = SimpleNamespace(status=status, reason="Nope")
    channel.error = discord.HTTPException(response, {"code": 0, "message": "no"})
    poster = poster_for(Client(channel))
    if undeliverable:
        with pytest.raises(UndeliverableError) as caught:
            await poster.send(post())
        assert str(caught.value) == f"Discord refused it: {status} no"
    else:
        with pytest.raises(discord.HTTPException):
            await poster.send(post())


async def test_a_long_refusal_is_cut_to_what_the_listing_shows() -> None:
    channel = Channel(view_channel=True, send_messages=True, embed_links=True)
    response = SimpleNamespace(status=400, reason="Bad Request")
    channel.error = discord.HTTPException(response, {"code": 50035, "message": "x" * 500})
    with pytest.raises(UndeliverableError) as caught:
        await poster_for(Client(channel)).send(post())
    assert len(str(caught.value)) == 200
