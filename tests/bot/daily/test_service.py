"""The daily posts on real SQLite and real PostgreSQL: once a day at the local time, through
restarts, overlapping processes, outages, refusals and daylight saving time.

Each test drives the scheduler by hand (:meth:`DailyService.run_due` at the times it chooses on a
wall clock it moves) or runs its loop with a sleep that moves that clock: no test waits for real.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import zoneinfo
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa

from bot.daily import (
    MAX_PER_SERVER,
    PAUSE_AFTER,
    DailyPost,
    DailyService,
    DailyUnavailableError,
    Schedule,
    ShardFilter,
    TooManyPostsError,
)
from bot.daily.service import CLAIM_TIMEOUT, RESCAN, RETRY_FIRST, choose, digest
from bot.daily.store import KEEP_POSTS
from bot.database import Database, parse_database_url, schema
from bot.facts import ENGLISH, Language
from bot.facts.pool import Collection
from bot.guild_settings import NotSavedError
from fakes.tcp_proxy import TcpProxy
from tests.bot.daily.helpers import (
    ADMIN,
    BERLIN,
    ENGLISH_FACTS,
    GERMAN_FACTS,
    GUILD,
    NINE_IN_BERLIN,
    FakeDiscord,
    Processes,
    WallClock,
    processes_on,
)
from tests.postgres import through

pytestmark = pytest.mark.real_time  # the database answers from another thread or process

UTC = datetime.UTC
DUE = datetime.datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # NINE_IN_BERLIN on JAN_15
DAY = datetime.timedelta(days=1)
CHANNEL = 500


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def discord(clock: WallClock) -> FakeDiscord:
    return FakeDiscord(clock)


@pytest_asyncio.fixture
async def processes(
    database_url: str, clock: WallClock, discord: FakeDiscord
) -> AsyncIterator[Processes]:
    async for opened in processes_on(database_url, clock, discord):
        yield opened


async def subscribe(
    service: DailyService,
    channel_id: int = CHANNEL,
    schedule: Schedule = NINE_IN_BERLIN,
    guild_id: int = GUILD,
) -> None:
    await service.subscribe(guild_id, channel_id, schedule, by=ADMIN)


async def posts_table(service: DailyService) -> list[tuple[int, datetime.date, str]]:
    assert service.database is not None
    async with service.database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(
                schema.daily_posts.c.channel_id,
                schema.daily_posts.c.day,
                schema.daily_posts.c.state,
            ).order_by(schema.daily_posts.c.channel_id, schema.daily_posts.c.day)
        )
        return [(row.channel_id, row.day, row.state) for row in rows]


# --- Once a day, at its time ---------------------------------------------------------------------


async def test_a_post_is_made_at_its_time_once_and_not_before(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    assert await service.run_due() == DUE  # the next wake: the post's time
    clock.set(DUE - datetime.timedelta(seconds=1))
    assert await service.run_due() == DUE
    assert discord.made == []
    clock.set(DUE)
    assert await service.run_due() == DUE + DAY
    [made] = discord.made
    assert (made.post.channel_id, made.post.day, made.at) == (CHANNEL, DUE.date(), DUE)
    assert made.post.fact in ENGLISH_FACTS.facts
    assert made.post.nonce == "ddw260115"  # 500 in base 36 (13 * 36 + 32), and the day
    clock.advance(hours=3)
    assert await service.run_due() == DUE + DAY
    assert len(discord.made) == 1
    assert await posts_table(service) == [(CHANNEL, DUE.date(), "sent")]
    assert service.counters.sent == 1
    assert service.describe() == (
        "since start: 1 made, 0 found made before a restart, 0 refused, 0 to retry, "
        "0 skipped as too late, 0 left to another process"
    )


async def test_a_restart_reloads_the_schedule_and_does_not_post_again(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    first = await processes.open()
    await subscribe(first)
    clock.set(DUE)
    await first.run_due()
    await first.aclose()
    restarted = await processes.open()
    assert await restarted.run_due() == DUE + DAY  # all it knows comes from the database
    clock.set(DUE + DAY)
    await restarted.run_due()
    assert discord.days(CHANNEL) == [DUE.date(), DUE.date() + DAY]


async def test_two_processes_at_once_make_each_post_once_without_the_nonce(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    discord.nonce_window = None  # the claims alone must do it
    old, new = await processes.open(), await processes.open()
    channels = range(CHANNEL, CHANNEL + 40)
    for channel in channels:
        await subscribe(old, channel, guild_id=GUILD + channel)
    for day in range(3):
        clock.set(DUE + day * DAY)
        await asyncio.gather(old.run_due(), new.run_due(), old.run_due())
    assert sorted(m.post.channel_id for m in discord.made) == sorted(list(channels) * 3)
    assert all(discord.days(c) == [DUE.date() + n * DAY for n in range(3)] for c in channels)
    assert old.counters.sent + new.counters.sent == 120
    assert old.counters.lost_claims + new.counters.lost_claims >= 120  # every other try lost


async def test_a_post_claimed_by_a_live_process_is_left_to_it(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    slow, other = await processes.open(), await processes.open()
    await subscribe(slow)
    held = asyncio.Event()
    go = asyncio.Event()

    async def hold(post: DailyPost) -> None:
        held.set()
        await go.wait()

    discord.before_create = hold
    clock.set(DUE)
    sending = asyncio.create_task(slow.run_due())
    await held.wait()
    discord.before_create = None
    # Claimed, not yet made: the other process looks again once the claim would be stale.
    assert await other.run_due() == DUE + CLAIM_TIMEOUT
    assert other.counters.lost_claims == 1
    go.set()
    assert await sending == DUE + DAY
    clock.set(DUE + CLAIM_TIMEOUT)
    assert await other.run_due() == DUE + DAY  # made by then: nothing more today
    assert len(discord.made) == 1


# --- What a process that died leaves behind ------------------------------------------------------


async def die_holding_a_claim(service: DailyService, at: datetime.datetime) -> None:
    """What a process killed right after claiming today's post leaves in the database."""
    assert service.store is not None
    won, lost = await service.store.claim(
        [(CHANNEL, at.astimezone(BERLIN).date())], by="dead", now=at, stale_before=at
    )
    assert len(won) == 1
    assert not lost


async def die_after_posting(service: DailyService, clock: WallClock, discord: FakeDiscord) -> None:
    """What a process killed after making today's post, before recording it, leaves behind."""
    clock.set(DUE)
    await die_holding_a_claim(service, DUE)
    discord.create(DailyPost(CHANNEL, GUILD, DUE.date(), ENGLISH_FACTS.facts[0], ENGLISH))


async def test_a_claim_left_by_a_killed_process_is_taken_over_once_stale(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    await die_holding_a_claim(service, DUE)
    clock.set(DUE + datetime.timedelta(seconds=30))
    assert await service.run_due() == DUE + CLAIM_TIMEOUT + datetime.timedelta(seconds=30)
    assert discord.made == []
    clock.set(DUE + CLAIM_TIMEOUT + datetime.timedelta(seconds=30))
    await service.run_due()
    assert discord.days(CHANNEL) == [DUE.date()]
    assert discord.finds == 1  # it looked first: the dead process might have made it
    assert service.counters.sent == 1


async def test_a_post_made_by_a_process_killed_before_recording_it_is_found_not_made_again(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    await die_after_posting(service, clock, discord)  # made, then killed before writing it down
    discord.nonce_window = None  # long after the nonce expired: the look back must find it
    clock.set(DUE + 2 * CLAIM_TIMEOUT)
    assert await service.run_due() == DUE + DAY
    assert len(discord.made) == 1
    assert discord.sends == 0
    assert service.counters.found == 1
    assert await posts_table(service) == [(CHANNEL, DUE.date(), "sent")]


async def test_when_the_history_cant_be_read_the_nonce_stops_a_second_post(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    await die_after_posting(service, clock, discord)
    discord.history_broken = True
    clock.set(DUE + CLAIM_TIMEOUT + datetime.timedelta(seconds=1))
    await service.run_due()
    assert discord.sends == 1
    assert len(discord.made) == 1  # Discord answered with the message it had


async def test_a_send_whose_answer_was_lost_is_found_when_tried_again(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    discord.lose_next_answer()  # made, but the answer never came
    clock.set(DUE)
    assert await service.run_due() == DUE + RETRY_FIRST
    clock.set(DUE + RETRY_FIRST)
    assert await service.run_due() == DUE + DAY
    assert (discord.sends, discord.finds, len(discord.made)) == (1, 1, 1)
    assert (service.counters.retried, service.counters.found) == (1, 1)
    assert await posts_table(service) == [(CHANNEL, DUE.date(), "sent")]


async def test_a_send_whose_answer_was_lost_is_sent_again_with_its_nonce_if_not_found(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    discord.lose_next_answer()
    discord.history_broken = True
    clock.set(DUE)
    await service.run_due()
    clock.set(DUE + RETRY_FIRST)
    await service.run_due()
    assert (discord.sends, len(discord.made)) == (2, 1)  # the nonce: Discord's first message


# --- The database going away and coming back -----------------------------------------------------


async def test_a_post_made_while_the_database_went_away_is_recorded_when_it_is_back(
    postgres_url: str, proxy: TcpProxy, clock: WallClock, discord: FakeDiscord
) -> None:
    behind = through(proxy, postgres_url)
    async for processes in processes_on(behind, clock, discord):
        service = await processes.open()
        await subscribe(service)

        async def cut(made: object) -> None:
            discord.after_create = None
            await proxy.cut()  # between the send and its record

        discord.after_create = cut
        clock.set(DUE)
        with pytest.raises(Exception):  # noqa: B017, PT011  # whatever the driver raises
            await service.run_due()
        clock.advance(minutes=5)
        with pytest.raises(Exception):  # noqa: B017, PT011
            await service.run_due()  # still down
        await proxy.restore()
        clock.advance(minutes=5)
        assert await service.run_due() == DUE + DAY
        assert len(discord.made) == 1
        assert await posts_table(service) == [(CHANNEL, DUE.date(), "sent")]


async def test_the_loop_backs_off_while_the_database_is_down_and_posts_once_it_is_back(
    postgres_url: str, proxy: TcpProxy, clock: WallClock, discord: FakeDiscord
) -> None:
    behind = through(proxy, postgres_url)
    slept: list[float] = []
    restored = asyncio.Event()

    async def sleep(delay: float) -> None:
        slept.append(delay)
        if len(slept) == 4:
            await proxy.restore()
            restored.set()
        clock.advance(seconds=delay)
        await asyncio.sleep(0)

    async for processes in processes_on(behind, clock, discord):
        service = await processes.open(sleep=sleep)
        await subscribe(service)
        clock.set(DUE)
        await proxy.cut()
        service.start()
        await restored.wait()
        assert "Connect" in str(service.last_error)
        assert "\nthe database failed: " in service.describe()  # what !status shows meanwhile
        # The loop's turns; no time passes.
        while not discord.made or service.last_error is not None:  # noqa: ASYNC110
            await asyncio.sleep(0)
        assert slept[:4] == [1.0, 2.0, 4.0, 8.0]
        assert discord.days(CHANNEL) == [DUE.date()]


# --- Late, skipped, refused, failing -------------------------------------------------------------


async def test_a_post_missed_while_down_is_made_late_within_the_grace_window(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open(grace=datetime.timedelta(hours=6))
    await subscribe(service)
    clock.set(DUE + datetime.timedelta(hours=5, minutes=59))
    await service.run_due()
    [made] = discord.made
    assert made.post.day == DUE.date()


async def test_a_post_missed_by_more_than_the_grace_is_skipped_and_said(
    processes: Processes, clock: WallClock, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    service = await processes.open(grace=datetime.timedelta(hours=6))
    await subscribe(service)
    clock.set(DUE + datetime.timedelta(hours=6, minutes=1))
    with caplog.at_level(logging.WARNING, logger="bot.daily.service"):
        assert await service.run_due() == DUE + DAY
    assert discord.made == []
    assert "skipped" in caplog.text
    [subscription] = await service.listing(GUILD)
    assert subscription.last_error == (
        "the post of 2026-01-15 was skipped: I was offline from its time until too late"
    )
    clock.set(DUE + DAY)
    await service.run_due()
    assert discord.days(CHANNEL) == [DUE.date() + DAY]
    [subscription] = await service.listing(GUILD)
    assert subscription.last_error is None


async def test_several_missed_days_give_one_late_post_not_a_backlog(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    clock.set(DUE + 3 * DAY + datetime.timedelta(hours=1))  # down for three days and more
    await service.run_due()
    await service.run_due()
    assert discord.days(CHANNEL) == [DUE.date() + 3 * DAY]


async def test_set_after_todays_time_the_first_post_is_tomorrow(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    clock.set(DUE + datetime.timedelta(minutes=1))
    service = await processes.open()
    await subscribe(service)
    assert await service.run_due() == DUE + DAY
    assert discord.made == []


async def test_a_refused_post_is_kept_said_tried_daily_and_paused_after_a_week(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    discord.refusing[CHANNEL] = "the channel is gone (deleted?)"
    for day in range(PAUSE_AFTER):
        clock.set(DUE + day * DAY)
        await service.run_due()
        [subscription] = await service.listing(GUILD)
        assert subscription.failures == day + 1
        assert subscription.last_error == "the channel is gone (deleted?)"
    assert subscription.paused
    assert service.next_post(subscription) is None
    assert discord.sends == PAUSE_AFTER
    clock.set(DUE + 10 * DAY)
    assert await service.run_due() is None  # paused: nothing to wake for
    assert discord.sends == PAUSE_AFTER
    # Setting it again resumes it, from its next time.
    del discord.refusing[CHANNEL]
    await subscribe(service)
    [subscription] = await service.listing(GUILD)
    assert (subscription.paused, subscription.failures, subscription.last_error) == (
        False,
        0,
        None,
    )
    clock.set(DUE + 11 * DAY)
    await service.run_due()
    assert discord.days(CHANNEL) == [DUE.date() + 11 * DAY]


async def test_a_failure_that_passes_is_retried_soon_and_posted_once(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    discord.failing[CHANNEL] = 3
    clock.set(DUE)
    wakes = []
    for _ in range(4):
        wake = await service.run_due()
        assert wake is not None
        wakes.append(wake)
        clock.set(wake)
    assert len(discord.made) == 1
    assert wakes[:3] == [DUE + RETRY_FIRST, DUE + 2 * RETRY_FIRST, DUE + 3 * RETRY_FIRST]
    assert wakes[3] == DUE + DAY
    [subscription] = await service.listing(GUILD)
    assert (subscription.failures, subscription.last_error) == (0, None)


async def test_while_failing_the_reason_is_shown(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    discord.failing[CHANNEL] = 1
    clock.set(DUE)
    await service.run_due()
    [subscription] = await service.listing(GUILD)
    assert subscription.last_error == "trying again: ConnectionResetError: the network went away"
    assert service.next_post(subscription) == DUE + RETRY_FIRST


# --- Which servers, which facts ------------------------------------------------------------------


async def test_each_process_posts_only_for_the_servers_on_its_shards(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    low = await processes.open(shards=ShardFilter(4, (0, 1)))
    high = await processes.open(shards=ShardFilter(4, (2, 3)))
    for shard in range(4):
        guild = (shard + 4 * 1000) << 22  # on shard ``shard`` of 4
        await subscribe(low, CHANNEL + shard, guild_id=guild)
    clock.set(DUE)
    await low.run_due()
    assert sorted(m.post.channel_id for m in discord.made) == [CHANNEL, CHANNEL + 1]
    await high.run_due()
    assert sorted(m.post.channel_id for m in discord.made) == [CHANNEL + n for n in range(4)]
    assert ShardFilter(4, (2, 3)).covers((2 + 4 * 1000) << 22)
    assert not ShardFilter(4, (2, 3)).covers(GUILD)


async def test_facts_do_not_repeat_in_a_channel_until_all_were_posted_through_restarts(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    first = await processes.open()
    await subscribe(first)
    size = len(ENGLISH_FACTS)
    for day in range(2 * size):
        service = await processes.open()  # a restart every day
        clock.set(DUE + day * DAY)
        await service.run_due()
    facts = [m.post.fact for m in discord.made]
    assert len(facts) == 2 * size
    assert set(facts[:size]) == set(ENGLISH_FACTS.facts)
    assert set(facts[size:]) == set(ENGLISH_FACTS.facts)
    assert facts[size] != facts[size - 1]  # a new round never starts with the last one told


async def test_the_post_is_in_the_servers_language(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    processes.speak(GUILD, "ger-de")
    await subscribe(service)
    clock.set(DUE)
    await service.run_due()
    [made] = discord.made
    assert made.post.fact in GERMAN_FACTS.facts
    assert made.post.language.code == "ger-de"


def test_choose_starts_a_new_round_when_every_fact_was_told() -> None:
    rng = random.Random(1)  # noqa: S311  # variety, not secrecy
    told: tuple[str, ...] = ()
    seen = []
    for _ in range(len(ENGLISH_FACTS)):
        fact, told = choose(ENGLISH_FACTS, told, rng)
        seen.append(fact)
    assert set(seen) == set(ENGLISH_FACTS.facts)
    fact, told = choose(ENGLISH_FACTS, told, rng)
    assert told == (digest(fact),)
    assert fact != seen[-1]


# --- Daylight saving time, through the loop ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # 02:30 does not exist on 29 March: that day's post is at the jump (01:00 UTC).
        (
            datetime.datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
            2,
            [
                datetime.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
                datetime.datetime(2026, 3, 30, 0, 30, tzinfo=UTC),
            ],
        ),
        # 02:30 happens twice on 25 October: one post, at the first.
        (
            datetime.datetime(2026, 10, 24, 12, 0, tzinfo=UTC),
            2,
            [
                datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                datetime.datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
            ],
        ),
    ],
)
async def test_the_loop_wakes_at_each_post_through_daylight_saving_time(
    processes: Processes,
    clock: WallClock,
    discord: FakeDiscord,
    start: datetime.datetime,
    days: int,
    expected: list[datetime.datetime],
) -> None:
    clock.set(start)
    slept: list[float] = []
    end = start + datetime.timedelta(days=days)
    finished = asyncio.Event()

    async def sleep(delay: float) -> None:
        slept.append(delay)
        if clock.now + datetime.timedelta(seconds=delay) >= end:
            finished.set()
            await asyncio.Event().wait()  # sleeps until the test stops the loop
        clock.advance(seconds=delay)
        await asyncio.sleep(0)

    service = await processes.open(sleep=sleep)
    await subscribe(service, schedule=Schedule(datetime.time(2, 30), BERLIN))
    service.start()
    await finished.wait()
    await service.aclose()
    assert [m.at for m in discord.made] == expected  # at its time, to the second
    assert all(0 < delay <= RESCAN for delay in slept)
    # It sleeps until the next post (or RESCAN), not in steps of a second.
    assert len(slept) < days * (24 * 3600 / RESCAN + 2)


# --- The commands' side --------------------------------------------------------------------------


async def test_a_server_may_have_at_most_so_many_daily_posts(processes: Processes) -> None:
    service = await processes.open()
    for channel in range(MAX_PER_SERVER):
        await subscribe(service, CHANNEL + channel)
    with pytest.raises(TooManyPostsError, match="has 25 daily posts already"):
        await subscribe(service, CHANNEL + MAX_PER_SERVER)
    await subscribe(service, CHANNEL, Schedule(datetime.time(10, 0), BERLIN))  # a change is fine
    assert len(await service.listing(GUILD)) == MAX_PER_SERVER


async def test_set_again_after_todays_post_was_made_the_next_is_tomorrow(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    clock.set(DUE)
    await service.run_due()
    clock.advance(minutes=1)
    # Moved to later today: today's post was made, so no second one today.
    later = Schedule(datetime.time(12, 0), BERLIN)
    await subscribe(service, schedule=later)
    [subscription] = await service.listing(GUILD)
    assert subscription.next_at == later.occurrence(DUE.date() + DAY)
    clock.set(later.occurrence(DUE.date()))
    await service.run_due()
    assert len(discord.made) == 1


async def test_a_change_made_during_a_pass_wins_over_the_pass(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    noon = Schedule(datetime.time(12, 0), zoneinfo.ZoneInfo("UTC"))

    async def change_it(post: DailyPost) -> None:
        discord.before_create = None
        clock.advance(seconds=1)
        await subscribe(service, schedule=noon)

    discord.before_create = change_it
    clock.set(DUE)
    await service.run_due()
    [made] = discord.made
    [subscription] = await service.listing(GUILD)
    assert subscription.schedule == noon  # the admin's change, not the pass's
    assert subscription.told == (digest(made.post.fact),)  # but the fact was told
    clock.advance(seconds=1)
    assert await service.run_due() == datetime.datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
    clock.set(datetime.datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    await service.run_due()
    assert len(discord.made) == 1  # today had its post, if under the old time


async def test_off_stops_it_and_says_whether_there_was_one(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    assert await service.unsubscribe(CHANNEL)
    assert not await service.unsubscribe(CHANNEL)
    clock.set(DUE)
    assert await service.run_due() is None
    assert discord.made == []
    assert await service.listing(GUILD) == []


async def test_old_posts_rows_expire(processes: Processes, clock: WallClock) -> None:
    service = await processes.open()
    await subscribe(service)
    for day in (0, 10, KEEP_POSTS.days + 1):
        clock.set(DUE + day * DAY)
        await service.run_due()
    days = [day for _, day, _ in await posts_table(service)]
    assert days == [DUE.date() + 10 * DAY, DUE.date() + (KEEP_POSTS.days + 1) * DAY]


async def test_without_a_database_the_commands_say_why() -> None:
    service = DailyService(None, FakeDiscord(WallClock()), _facts, _lang)
    assert not service.available
    service.start()  # nothing to run
    for call in (
        service.subscribe(GUILD, CHANNEL, NINE_IN_BERLIN, by=ADMIN),
        service.unsubscribe(CHANNEL),
        service.listing(GUILD),
    ):
        with pytest.raises(DailyUnavailableError) as caught:
            await call
        assert str(caught.value) == (
            "Daily posts need a database, and this bot runs without one (DATABASE_URL)."
        )
    await service.aclose()


async def test_a_database_that_cant_be_reached_is_said_to_the_commands() -> None:
    database = Database(parse_database_url("sqlite:////dev/null/x.db"))
    service = DailyService(database, FakeDiscord(WallClock()), _facts, _lang)
    try:
        with pytest.raises(NotSavedError, match="the daily post was not saved"):
            await subscribe(service)
        with pytest.raises(NotSavedError, match="the daily post was not stopped"):
            await service.unsubscribe(CHANNEL)
        with pytest.raises(DailyUnavailableError) as caught:
            await service.listing(GUILD)
        assert str(caught.value) == (
            "I couldn't read the daily posts: the database can't be reached right now. "
            "Please try again in a minute."
        )
    finally:
        await database.close()


def test_two_processes_never_share_a_name() -> None:
    first, second = (DailyService(None, FakeDiscord(WallClock()), _facts, _lang) for _ in "ab")
    assert first.process != second.process


async def _facts(code: str) -> Collection:
    raise AssertionError("no facts are needed here")


async def _lang(guild: int) -> Language:
    raise AssertionError("no language is needed here")


async def test_stopping_lets_the_posts_in_flight_finish_and_records_them(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    held, go = asyncio.Event(), asyncio.Event()

    async def hold(post: DailyPost) -> None:
        held.set()
        await go.wait()

    discord.before_create = hold
    clock.set(DUE)
    service.start()
    await held.wait()
    stopping = asyncio.create_task(service.aclose())
    await asyncio.sleep(0)
    assert not stopping.done()  # waiting for the post in flight
    go.set()
    await stopping
    assert len(discord.made) == 1
    assert await posts_table(service) == [(CHANNEL, DUE.date(), "sent")]


async def test_a_sleeping_scheduler_is_woken_by_a_change_and_sleeps_until_the_next_post(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    asked: list[float] = []

    async def park(delay: float) -> None:
        asked.append(delay)
        await asyncio.Event().wait()  # until woken

    service = await processes.open(sleep=park)
    elsewhere = await processes.open()
    service.start()
    while not asked:  # noqa: ASYNC110  # the loop's turns; no time passes
        await asyncio.sleep(0)
    assert asked == [RESCAN]  # nothing to do: the longest sleep
    await subscribe(elsewhere)  # set in another process: this one is not told
    clock.set(DUE - datetime.timedelta(seconds=90))
    service.changed()  # as the command does in its own process
    while len(asked) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0)
    assert asked[1] == 90.0  # to the second of the post
    await subscribe(service, CHANNEL + 1)  # made here: wakes it at once
    while len(asked) < 3:  # noqa: ASYNC110
        await asyncio.sleep(0)
    assert discord.made == []


# --- What a change, a slow moment or a stale zone must not break --------------------------------


async def test_with_no_grace_a_post_is_made_on_time_only(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open(grace=datetime.timedelta(0))
    await subscribe(service)
    await subscribe(service, CHANNEL + 1, Schedule(datetime.time(8, 50), BERLIN))
    clock.set(DUE + datetime.timedelta(seconds=2))  # woken a moment after 09:00
    await service.run_due()
    assert [m.post.channel_id for m in discord.made] == [CHANNEL]  # 08:50 was 10 min 2 s ago
    assert service.counters.skipped == 1


async def test_setting_it_again_while_todays_post_is_being_retried_keeps_todays_post(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)
    discord.failing[CHANNEL] = 1
    clock.set(DUE)
    assert await service.run_due() == DUE + RETRY_FIRST
    clock.advance(seconds=20)
    await subscribe(service)  # the admin runs the same command again meanwhile
    assert await service.run_due() == DUE + DAY
    assert discord.days(CHANNEL) == [DUE.date()]
    assert await posts_table(service) == [(CHANNEL, DUE.date(), "sent")]


async def test_a_new_zone_does_not_give_a_second_post_on_the_same_local_day(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    utc_nine_pm = Schedule(datetime.time(21, 0), zoneinfo.ZoneInfo("UTC"))
    service = await processes.open()
    await subscribe(service, schedule=utc_nine_pm)
    clock.set(datetime.datetime(2026, 1, 15, 21, 0, tzinfo=UTC))
    await service.run_due()
    clock.advance(minutes=30)
    # 21:30 UTC on the 15th is 10:30 on the 16th in Auckland, which had its post at 10:00.
    auckland = Schedule(datetime.time(11, 0), zoneinfo.ZoneInfo("Pacific/Auckland"))
    await subscribe(service, schedule=auckland)
    [subscription] = await service.listing(GUILD)
    assert subscription.next_at == datetime.datetime(2026, 1, 16, 22, 0, tzinfo=UTC)  # the 17th


async def test_a_claim_held_too_long_before_its_send_is_not_sent_under(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    service = await processes.open()
    await subscribe(service)

    async def slow() -> None:
        processes.on_language = None
        clock.advance(seconds=45)  # the send could end after the claim is stale

    processes.on_language = slow
    clock.set(DUE)
    assert await service.run_due() == DUE + RETRY_FIRST  # due again at once
    assert discord.sends == 0
    [subscription] = await service.listing(GUILD)
    assert subscription.last_error == (
        "trying again: ClaimRanOutError: the claim ran out before the send"
    )
    clock.advance(seconds=RETRY_FIRST.total_seconds())
    await service.run_due()
    assert discord.days(CHANNEL) == [DUE.date()]


async def test_a_process_that_hung_and_lost_its_claim_changes_nothing_when_it_wakes(
    processes: Processes, clock: WallClock, discord: FakeDiscord
) -> None:
    hung, other = await processes.open(), await processes.open()
    await subscribe(hung)
    held, go = asyncio.Event(), asyncio.Event()

    async def hang(post: DailyPost) -> None:
        discord.before_create = None
        held.set()
        await go.wait()

    discord.before_create = hang
    clock.set(DUE)
    hanging = asyncio.create_task(hung.run_due())
    await held.wait()
    clock.set(DUE + CLAIM_TIMEOUT + datetime.timedelta(seconds=1))
    await other.run_due()  # takes the stale claim over, finds nothing, posts
    [made] = discord.made
    go.set()
    await hanging  # its send is answered with the same message (the nonce)
    assert len(discord.made) == 1
    assert await posts_table(other) == [(CHANNEL, DUE.date(), "sent")]
    [subscription] = await other.listing(GUILD)
    assert subscription.told == (digest(made.post.fact),)  # the holder's record, not the hung one's
    assert subscription.next_at == DUE + DAY


async def test_the_days_missed_before_a_late_post_are_logged(
    processes: Processes, clock: WallClock, caplog: pytest.LogCaptureFixture
) -> None:
    service = await processes.open()
    await subscribe(service)
    clock.set(DUE + 3 * DAY + datetime.timedelta(hours=1))
    with caplog.at_level(logging.WARNING, logger="bot.daily.service"):
        await service.run_due()
    assert "for the 3 days before 2026-01-18 skipped: I was offline" in caplog.text
    assert service.counters.skipped == 3


async def test_a_zone_this_machine_does_not_know_is_read_as_utc_not_a_stop(
    processes: Processes, clock: WallClock, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    service = await processes.open()
    await subscribe(service)
    await subscribe(service, CHANNEL + 1)
    assert service.database is not None
    async with service.database.engine.begin() as connection:
        await connection.execute(
            sa.update(schema.daily_subscriptions)
            .where(schema.daily_subscriptions.c.channel_id == CHANNEL + 1)
            .values(zone="Mars/Olympus")
        )
    clock.set(DUE + datetime.timedelta(hours=1))  # 09:00 in UTC
    await service.run_due()
    assert sorted(m.post.channel_id for m in discord.made) == [CHANNEL, CHANNEL + 1]
    assert "time zone 'Mars/Olympus' of a daily post is unknown here; using UTC" in caplog.text
