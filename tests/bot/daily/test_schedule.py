"""When a daily post is due: local times in IANA zones, through daylight saving time, and what
people may type."""

from __future__ import annotations

import datetime
import itertools
import zoneinfo

import pytest

from bot.daily import InvalidSchedule, Schedule, parse_time, parse_zone, zone_names

UTC = datetime.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC)


def at(hour: int, minute: int, zone: zoneinfo.ZoneInfo = BERLIN) -> Schedule:
    return Schedule(datetime.time(hour, minute), zone)


# --- Occurrences ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "day", "due"),
    [
        # An ordinary winter and summer day in Berlin: one hour, then two, ahead of UTC.
        (at(9, 0), datetime.date(2026, 1, 15), utc(2026, 1, 15, 8, 0)),
        (at(9, 0), datetime.date(2026, 7, 15), utc(2026, 7, 15, 7, 0)),
        # 02:30 does not exist on 29 March 2026 in Berlin (02:00 jumps to 03:00, at 01:00 UTC):
        # due when the clock passes it, at the jump.
        (at(2, 30), datetime.date(2026, 3, 29), utc(2026, 3, 29, 1, 0)),
        (at(2, 0), datetime.date(2026, 3, 29), utc(2026, 3, 29, 1, 0)),
        (at(3, 0), datetime.date(2026, 3, 29), utc(2026, 3, 29, 1, 0)),
        (at(1, 59), datetime.date(2026, 3, 29), utc(2026, 3, 29, 0, 59)),
        # 02:30 happens twice on 25 October 2026 (03:00 goes back to 02:00, at 01:00 UTC): the
        # first time.
        (at(2, 30), datetime.date(2026, 10, 25), utc(2026, 10, 25, 0, 30)),
        (at(3, 0), datetime.date(2026, 10, 25), utc(2026, 10, 25, 2, 0)),
        # New York's gap is at 02:00 local on 8 March 2026 (07:00 UTC).
        (at(2, 15, NEW_YORK), datetime.date(2026, 3, 8), utc(2026, 3, 8, 7, 0)),
        # Far from UTC, the local day's occurrence falls on the UTC day before or after.
        (
            at(0, 30, zoneinfo.ZoneInfo("Pacific/Auckland")),
            datetime.date(2026, 6, 1),
            utc(2026, 5, 31, 12, 30),
        ),
        (
            at(23, 0, zoneinfo.ZoneInfo("Pacific/Honolulu")),
            datetime.date(2026, 6, 1),
            utc(2026, 6, 2, 9, 0),
        ),
        # A zone that skipped a whole day: Samoa went from 29 to 31 December 2011.
        (
            at(12, 0, zoneinfo.ZoneInfo("Pacific/Apia")),
            datetime.date(2011, 12, 31),
            utc(2011, 12, 30, 22, 0),
        ),
    ],
)
def test_occurrence(schedule: Schedule, day: datetime.date, due: datetime.datetime) -> None:
    assert schedule.occurrence(day) == due


def test_next_after_steps_through_the_spring_gap_one_post_a_day() -> None:
    schedule = at(2, 30)
    instant = utc(2026, 3, 27, 12, 0)
    seen = []
    for _ in range(4):
        instant = schedule.next_after(instant)
        seen.append(instant)
    assert seen == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # the gap: at the jump
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]
    assert [schedule.day_of(i) for i in seen] == [
        datetime.date(2026, 3, 28) + datetime.timedelta(days=n) for n in range(4)
    ]


def test_next_after_steps_over_the_repeated_hour_once() -> None:
    schedule = at(2, 30)
    first = schedule.next_after(utc(2026, 10, 24, 12, 0))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    # The second 02:30 of that night (01:30 UTC) belongs to the same local day: no post then.
    second = schedule.next_after(first)
    assert second == utc(2026, 10, 26, 1, 30)  # 02:30 CET, the next day
    assert schedule.day_of(utc(2026, 10, 25, 1, 30)) == schedule.day_of(first)


def test_next_after_is_strictly_after_and_latest_until_is_at_or_before() -> None:
    schedule = at(9, 0)
    due = utc(2026, 1, 15, 8, 0)
    assert schedule.next_after(due) == due + datetime.timedelta(days=1)
    assert schedule.next_after(due - datetime.timedelta(seconds=1)) == due
    assert schedule.latest_until(due) == due
    assert schedule.latest_until(due - datetime.timedelta(seconds=1)) == due - datetime.timedelta(
        days=1
    )


def test_every_day_of_a_year_has_exactly_one_occurrence_in_every_kind_of_zone() -> None:
    for name in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"):
        zone = zoneinfo.ZoneInfo(name)
        for hour, minute in ((0, 0), (2, 30), (23, 59)):
            schedule = Schedule(datetime.time(hour, minute), zone)
            instant = utc(2026, 1, 1)
            days = []
            while instant < utc(2027, 1, 1):
                instant = schedule.next_after(instant)
                days.append(schedule.day_of(instant))
            assert len(days) == len(set(days)), (name, hour, minute)
            assert all(b - a == datetime.timedelta(days=1) for a, b in itertools.pairwise(days)), (
                name
            )


def test_describe_names_time_and_zone() -> None:
    assert at(9, 5).describe() == "09:05 Europe/Berlin"
    assert at(9, 5).zone_name == "Europe/Berlin"


# --- What people type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("09:00", datetime.time(9, 0)),
        ("9:00", datetime.time(9, 0)),
        (" 21:30 ", datetime.time(21, 30)),
        ("21.30", datetime.time(21, 30)),
        ("9h30", datetime.time(9, 30)),
        ("00:00", datetime.time(0, 0)),
        ("23:59", datetime.time(23, 59)),
    ],
)
def test_times_people_write(text: str, time: datetime.time) -> None:
    assert parse_time(text) == time


@pytest.mark.parametrize("text", ["9", "9am", "09:0", "0900", "", "ten", "09:00:00", "-1:00"])
def test_what_is_not_a_time_gets_the_format_and_an_example(text: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse_time(text, prefix="?")
    message = str(caught.value)
    assert "is not a time of day: write it as HH:MM on a 24-hour clock" in message
    assert message.endswith("Example: `?daily 09:00 Europe/Berlin #general`")


@pytest.mark.parametrize("text", ["24:00", "12:60", "99:99"])
def test_hours_and_minutes_out_of_range_are_explained(text: str) -> None:
    with pytest.raises(InvalidSchedule, match="hours go from 00 to 23 and minutes from 00 to 59"):
        parse_time(text)


def test_what_people_typed_is_echoed_in_code_and_cut_short() -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse_time("`@everyone`" + "9" * 100)
    message = str(caught.value)
    assert message.startswith("`'@\u200beveryone'99")
    assert "…` is not a time of day" in message
    assert len(message) < 300


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (None, "UTC"),
        ("", "UTC"),
        ("  ", "UTC"),
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        (" AMERICA/NEW_YORK ", "America/New_York"),
        ("utc", "UTC"),
    ],
)
def test_zones_by_their_iana_names_in_any_case(text: str | None, key: str) -> None:
    assert parse_zone(text).key == key


def test_an_unknown_zone_suggests_the_nearest_names() -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse_zone("Europe/Berlim")
    message = str(caught.value)
    assert message.startswith("I don't know the time zone `Europe/Berlim`. Did you mean ")
    assert "`Europe/Berlin`" in message
    assert message.endswith("Example: `!daily 09:00 Europe/Berlin #general`")


def test_a_zone_far_from_any_name_gets_examples_only() -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse_zone("x" * 65)
    assert "Did you mean" not in str(caught.value)
    assert "such as Europe/Berlin, America/New_York or UTC" in str(caught.value)


def test_the_machines_own_zone_is_no_place() -> None:
    names = zone_names()
    assert {"Europe/Berlin", "UTC"} <= set(names)
    assert not {"localtime", "Factory"} & set(names)
    assert names == sorted(names)
    with pytest.raises(InvalidSchedule):
        parse_zone("localtime")
