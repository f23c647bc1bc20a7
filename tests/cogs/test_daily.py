"""``!daily`` end to end in dpytest's guild, on real SQLite: setting, listing, stopping, who may,
what is refused, and the post itself arriving at its time, through the real Discord poster."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.ext.test as dpytest
import discord.ext.test.backend as dpytest_backend
import pytest
import pytest_asyncio

from bot.core import CatFactBot
from bot.daily import DailyError, Subscription
from bot.daily.schedule import Schedule, parse_zone
from bot.database import parse_database_url
from bot.settings import Settings
from cogs.daily import describe, listing_embeds, when
from fakes import FACTS, GERMAN_FACTS, FakeMeowfacts, call_slash, interaction_context
from tests.bot.daily.helpers import JAN_15, WallClock
from tests.conftest import running_bot

pytestmark = pytest.mark.real_time  # the database answers from another thread

DUE = datetime.datetime(2026, 1, 15, 8, 0, tzinfo=datetime.UTC)  # 09:00 in Berlin on JAN_15
DAY = datetime.timedelta(days=1)


class ParkedSleep:
    """The scheduler's sleep in these tests: it waits until the test is over, so the test alone
    decides when the scheduler runs (:meth:`DailyService.run_due`)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.asked.append(delay)
        await discord.utils.sleep_until(datetime.datetime.max.replace(tzinfo=datetime.UTC))


@pytest.fixture
def clock() -> WallClock:
    return WallClock(JAN_15)


@pytest_asyncio.fixture
async def stored_bot(
    settings: Settings, tmp_path: Path, clock: WallClock
) -> AsyncIterator[CatFactBot]:
    """The real bot with a real SQLite database, its daily posts on ``clock``."""
    stored = dataclasses.replace(
        settings, database=parse_database_url(f"sqlite:///{tmp_path / 'catfact.db'}")
    )
    async with running_bot(stored, daily_clock=clock, daily_sleep=ParkedSleep()) as test_bot:
        yield test_bot


def add_member(name: str, **permissions: bool) -> discord.Member:
    guild = dpytest.get_config().guilds[0]
    role = dpytest_backend.make_role(
        f"{name}'s role", guild, permissions=discord.Permissions(**permissions).value
    )
    user = dpytest_backend.make_user(name, "0003")
    return dpytest_backend.make_member(user, guild, roles=[role])


@pytest.fixture
def admin(stored_bot: CatFactBot) -> discord.Member:
    return add_member("carol", manage_guild=True)


@pytest.fixture
def member(stored_bot: CatFactBot) -> discord.Member:
    """Someone with no permission to change anything."""
    found = dpytest.get_config().members[0]
    assert isinstance(found, discord.Member)
    return found


def channel(index: int = 0) -> discord.TextChannel:
    found = dpytest.get_config().guilds[0].text_channels[index]
    assert isinstance(found, discord.TextChannel)
    return found


def reply() -> str:
    return str(dpytest.get_message().content)


async def test_an_admin_sets_a_daily_post_and_it_comes_at_its_time(
    stored_bot: CatFactBot, admin: discord.Member, clock: WallClock
) -> None:
    await dpytest.message("!daily 09:00 Europe/Berlin", member=admin)
    assert reply() == (
        f"Done: a cat fact in {channel().mention} every day at 09:00 Europe/Berlin. "
        f"The first: <t:{int(DUE.timestamp())}:f> (<t:{int(DUE.timestamp())}:R>)."
    )
    clock.set(DUE - datetime.timedelta(minutes=1))
    await stored_bot.daily.run_due()
    assert dpytest.verify().message().nothing()
    clock.set(DUE)
    await stored_bot.daily.run_due()
    post = dpytest.get_message()
    assert post.channel == channel()
    assert post.author == stored_bot.user
    [embed] = post.embeds
    assert embed.title == "\N{CAT FACE} Daily cat fact"
    assert embed.description in FACTS
    assert embed.footer.text == "Daily cat fact for 2026-01-15"
    clock.advance(hours=1)
    await stored_bot.daily.run_due()
    assert dpytest.verify().message().nothing()  # once a day


async def test_the_post_is_in_the_servers_language(
    stored_bot: CatFactBot, admin: discord.Member, clock: WallClock, meowfacts: FakeMeowfacts
) -> None:
    await dpytest.message("!settings language german", member=admin)
    await dpytest.message("!daily 09:00 Europe/Berlin", member=admin)
    await dpytest.empty_queue()
    clock.set(DUE)
    await stored_bot.daily.run_due()
    [embed] = dpytest.get_message().embeds
    assert embed.description in GERMAN_FACTS


async def test_another_channel_by_mention_with_or_without_a_zone(
    stored_bot: CatFactBot, admin: discord.Member
) -> None:
    other = dpytest_backend.make_text_channel("facts", dpytest.get_config().guilds[0])
    await dpytest.message(f"!daily 7:30 {other.mention}", member=admin)
    assert reply().startswith(f"Done: a cat fact in {other.mention} every day at 07:30 UTC.")
    await dpytest.message("!daily 8:30 #facts", member=admin)  # the name, as typed
    assert reply().startswith(f"Done: a cat fact in {other.mention} every day at 08:30 UTC.")
    await dpytest.message(f"!daily 21.00 america/new_york {other.mention}", member=admin)
    assert reply().startswith(
        f"Done: a cat fact in {other.mention} every day at 21:00 America/New_York."
    )
    [subscription] = await stored_bot.daily.listing(other.guild.id)
    assert subscription.channel_id == other.id
    assert subscription.schedule.describe() == "21:00 America/New_York"


async def test_anyone_lists_them_with_the_next_time_of_each(
    stored_bot: CatFactBot, admin: discord.Member, member: discord.Member
) -> None:
    await dpytest.message("!daily", member=member)
    assert reply() == (
        "No daily cat facts here yet. Admins start one with "
        "`!daily <HH:MM> [time zone] [#channel]`, e.g. `!daily 09:00 Europe/Berlin #general`."
    )
    await dpytest.message("!daily 09:00 Europe/Berlin", member=admin)
    await dpytest.empty_queue()
    for command in ("!daily", "!daily list"):
        await dpytest.message(command, member=member)
        embed = dpytest.get_embed()
        assert embed.title == "Daily cat facts"
        [field] = embed.fields
        assert field.name == f"#{channel().name}"
        assert field.value == (
            "Every day at 09:00 Europe/Berlin\n"
            f"Next: <t:{int(DUE.timestamp())}:f> (<t:{int(DUE.timestamp())}:R>)"
        )
        assert embed.footer.text == "Admins change them with !daily <HH:MM> [zone] [#channel]"


async def test_off_stops_it(
    stored_bot: CatFactBot, admin: discord.Member, clock: WallClock
) -> None:
    await dpytest.message("!daily off", member=admin)
    assert reply() == f"{channel().mention} has no daily cat fact: nothing to stop."
    await dpytest.message("!daily 09:00", member=admin)
    await dpytest.empty_queue()
    await dpytest.message("!daily off", member=admin)
    assert reply() == f"Done: no more daily cat facts in {channel().mention}."
    clock.set(DUE + DAY)
    await stored_bot.daily.run_due()
    assert dpytest.verify().message().nothing()


async def test_changing_needs_manage_server_or_manage_channels(
    stored_bot: CatFactBot, member: discord.Member
) -> None:
    for command in ("!daily 09:00", "!daily off"):
        with pytest.raises(DailyError):
            await dpytest.message(command, member=member)
        assert reply() == (
            f"You need the Manage Server permission, or Manage Channels in {channel().mention}, "
            "to change its daily cat fact. Anyone may list them with `!daily`."
        )
    assert await stored_bot.daily.listing(channel().guild.id) == []
    moderator = add_member("dave", manage_channels=True)
    await dpytest.message("!daily 09:00", member=moderator)
    assert reply().startswith("Done: a cat fact in")


async def test_the_owner_may_change_it_anywhere(stored_bot: CatFactBot) -> None:
    await dpytest.message("!daily 09:00", member=dpytest.get_config().members[1])
    assert reply().startswith("Done: a cat fact in")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("!daily 9am", "`9am` is not a time of day: write it as HH:MM on a 24-hour clock"),
        ("!daily 25:00", "`25:00` is not a time of day: hours go from 00 to 23"),
        ("!daily 09:00 Mars/Olympus", "I don't know the time zone `Mars/Olympus`."),
        ("!daily 09:00 Europe/Berlim", "Did you mean `Europe/Berlin`"),
        ("!daily 09:00 #nowhere", 'Channel "nowhere" not found.'),
        ("!daily 09:00 UTC #nowhere", "Usage: `!daily <HH:MM> [time zone] [#channel]`"),
    ],
)
async def test_bad_input_gets_a_short_reply_with_an_example(
    stored_bot: CatFactBot, admin: discord.Member, command: str, expected: str
) -> None:
    with pytest.raises(discord.ext.commands.CommandError):
        await dpytest.message(command, member=admin)
    text = reply()
    assert expected in text
    assert len(text) < 400
    assert await stored_bot.daily.listing(channel().guild.id) == []


async def test_in_a_dm_it_says_it_is_for_servers(stored_bot: CatFactBot) -> None:
    user = dpytest.get_config().members[0]
    dm = await user.create_dm()
    with pytest.raises(discord.ext.commands.NoPrivateMessage):
        await dpytest.message("!daily 09:00", channel=dm)
    assert "server" in reply()


async def test_without_a_database_the_command_says_so(
    bot: CatFactBot, alice: discord.Member
) -> None:
    owner = dpytest.get_config().members[1]
    for command, member in (("!daily", alice), ("!daily 09:00", owner)):
        with pytest.raises(discord.ext.commands.CommandError):
            await dpytest.message(command, member=member)
        assert reply() == (
            "Daily posts need a database, and this bot runs without one (DATABASE_URL)."
        )


async def test_the_slash_command_sets_it_too(stored_bot: CatFactBot, admin: discord.Member) -> None:
    ctx = interaction_context(stored_bot.get_command("daily"))
    ctx.author = admin
    ctx.guild = admin.guild
    ctx.channel = channel()
    ctx.bot = stored_bot
    await call_slash(stored_bot, "daily", ctx, time="09:00", zone="Europe/Berlin", channel=None)
    ctx.defer.assert_awaited_once()
    [call] = ctx.send.await_args_list
    assert call.args[0].startswith(f"Done: a cat fact in {channel().mention} every day at 09:00")


async def test_zones_are_suggested_as_people_type(stored_bot: CatFactBot) -> None:
    cog = stored_bot.get_cog("Daily facts")
    assert cog is not None
    choices = await cog._suggest_zones(None, "berl")  # type: ignore[attr-defined]
    assert [c.value for c in choices] == ["Europe/Berlin"]
    assert len(await cog._suggest_zones(None, "")) == 25  # type: ignore[attr-defined]


# --- The listing's lines -------------------------------------------------------------------------


def subscription(**changes: object) -> Subscription:
    base = Subscription(
        channel_id=7,
        guild_id=1,
        schedule=Schedule(datetime.time(9, 0), parse_zone("Europe/Berlin")),
        next_at=DUE,
        changed_by=42,
        changed_at=JAN_15,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_failing_post_shows_its_reason_and_how_many_days() -> None:
    text = describe(subscription(failures=2, last_error="the channel is gone (deleted?)"), "!")
    assert text.endswith("Last problem (2 days): the channel is gone (deleted?)")
    text = describe(subscription(failures=1, last_error="x"), "!")
    assert text.endswith("Last problem (1 day): x")
    assert describe(subscription(last_error="skipped"), "!").endswith("Last problem: skipped")


def test_a_paused_post_says_why_and_how_to_resume() -> None:
    text = describe(subscription(paused=True, failures=7, last_error="I can't see it"), "?")
    assert text == (
        "Every day at 09:00 Europe/Berlin\n"
        "**Paused** after 7 days in a row I couldn't post: I can't see it. Fix that, then set "
        "it again to resume: `?daily 09:00 Europe/Berlin <#7>`"
    )


def test_when_is_in_every_readers_own_time_zone() -> None:
    assert when(DUE) == f"<t:{int(DUE.timestamp())}:f> (<t:{int(DUE.timestamp())}:R>)"


async def test_a_channel_the_bot_cant_post_in_is_refused_up_front(
    stored_bot: CatFactBot, admin: discord.Member
) -> None:
    target = dpytest_backend.make_text_channel("quiet", dpytest.get_config().guilds[0])
    denied = discord.PermissionOverwrite(send_messages=False, embed_links=False)
    # On @everyone: dpytest applies no overwrite for a member (it types them as users).
    dpytest_backend.update_text_channel(target, target.guild.default_role, denied)
    with pytest.raises(DailyError):
        await dpytest.message(f"!daily 09:00 {target.mention}", member=admin)
    assert reply() == (
        f"I can't post in {target.mention}: I need the Send Messages and Embed Links "
        "permissions there. Nothing was changed."
    )
    assert await stored_bot.daily.listing(target.guild.id) == []


async def test_subcommands_in_a_dm_say_they_are_for_servers(stored_bot: CatFactBot) -> None:
    dm = await dpytest.get_config().members[0].create_dm()
    for command in ("!daily list", "!daily off"):
        with pytest.raises(discord.ext.commands.NoPrivateMessage):
            await dpytest.message(command, channel=dm)
        assert "server" in reply()


async def test_the_listing_keeps_private_channels_private(
    stored_bot: CatFactBot, admin: discord.Member, member: discord.Member
) -> None:
    guild = dpytest.get_config().guilds[0]
    secret = dpytest_backend.make_text_channel("mods-only", guild)
    # The bot sees it as an administrator (dpytest applies only @everyone's overwrites).
    bots = dpytest_backend.make_role("bots", guild, permissions=8)
    dpytest_backend.update_member(guild.me, roles=[bots])
    hide = discord.PermissionOverwrite(view_channel=False)
    dpytest_backend.update_text_channel(secret, guild.default_role, hide)
    await dpytest.message(f"!daily 09:00 {secret.mention}", member=admin)
    await dpytest.empty_queue()
    await dpytest.message("!daily", member=member)
    assert reply() == "This server's daily cat facts (1) are all in channels you can't see."
    await dpytest.message("!daily 10:00", member=admin)
    await dpytest.empty_queue()
    await dpytest.message("!daily", member=member)
    embed = dpytest.get_embed()
    assert [field.name for field in embed.fields] == [f"#{channel().name}"]
    assert str(embed.footer.text).startswith("And 1 in channels you can't see. ")
    await dpytest.message("!daily", member=admin)  # Manage Server sees them all
    assert len(dpytest.get_embed().fields) == 2


def test_a_long_listing_is_split_under_discords_limit() -> None:
    value = describe(
        subscription(paused=True, failures=7, last_error="Discord refused it: " + "x" * 180), "!"
    )
    fields = [(f"#channel-{n:02d}" + "-" * 80, value) for n in range(25)]
    embeds = listing_embeds(fields, "Admins change them with !daily <HH:MM> [zone] [#channel]")
    assert len(embeds) > 1
    assert sum(len(e.fields) for e in embeds) == 25
    assert all(len(e) <= 6000 for e in embeds)
    assert embeds[0].title == "Daily cat facts"
    assert embeds[1].title == "Daily cat facts (continued)"
    assert embeds[-1].footer.text is not None
    assert embeds[0].footer.text is None
