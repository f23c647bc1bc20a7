"""When a daily post is due: a local time of day in an IANA time zone, as instants in UTC.

A :class:`Schedule` is "09:00 in Europe/Berlin". Its *occurrence* on a local day is the instant
that day's post is due, worked out again for each day, so daylight saving time moves the
instant, not the local time people see:

- a time the clocks skip that day (02:30 on the spring-forward night) is due when the clock
  passes it: at the instant of the jump, 03:00 local;
- a time the clocks show twice (02:30 on the fall-back night) is due at its first showing, and
  once only: a post belongs to a local day (:meth:`Schedule.day_of`), and a day has one post.

What people type is read by :func:`parse_time` and :func:`parse_zone`, which raise
:class:`InvalidSchedule` with the reply to give (an example included).
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import functools
import re
import zoneinfo

from discord.ext import commands

from bot.text import echo

UTC = datetime.UTC
DEFAULT_ZONE = "UTC"
EXAMPLE = "`{prefix}daily 09:00 Europe/Berlin #general`"

_TIME = re.compile(r"(?P<hour>\d{1,2})[:.h](?P<minute>\d{2})")
_MAX_ZONE_LENGTH = 64
"""The longest IANA name is 32 characters; anything far longer is not one (and is not worth
comparing with every name for a suggestion)."""


class InvalidSchedule(commands.BadArgument):
    """What someone typed is not a time or a time zone; the message is the reply."""


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """A post every day at ``time`` (minutes, no seconds) on the clocks of ``zone``."""

    time: datetime.time
    zone: zoneinfo.ZoneInfo

    @property
    def zone_name(self) -> str:
        return self.zone.key

    def describe(self) -> str:
        """``09:00 Europe/Berlin``."""
        return f"{self.time:%H:%M} {self.zone_name}"

    def day_of(self, instant: datetime.datetime) -> datetime.date:
        """The local date at ``instant`` (an aware datetime) in this schedule's zone."""
        return instant.astimezone(self.zone).date()

    def occurrence(self, day: datetime.date) -> datetime.datetime:
        """The instant (UTC) the post of local ``day`` is due."""
        wall = datetime.datetime.combine(day, self.time)
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        if first.astimezone(self.zone).replace(tzinfo=None) == wall:
            return first  # it exists; when it exists twice, fold=0 is the first time
        # Skipped by the clocks. Between fold=1's reading (the offset after the jump) and fold=0's
        # (before it) lies the jump; the post is due there, the first instant the local clock
        # shows a time at or past ``wall``. Local time only rises in this interval: bisect it.
        low = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        high = first
        while high - low > datetime.timedelta(seconds=1):
            middle = low + (high - low) / 2
            if middle.astimezone(self.zone).replace(tzinfo=None) >= wall:
                high = middle
            else:
                low = middle
        return high.replace(microsecond=0)

    def next_after(self, instant: datetime.datetime) -> datetime.datetime:
        """The first occurrence strictly after ``instant``."""
        day = self.day_of(instant)
        for offset in range(-1, 3):  # a day's occurrence may fall on a neighbouring UTC date
            candidate = self.occurrence(day + datetime.timedelta(days=offset))
            if candidate > instant:
                return candidate
        raise AssertionError("no occurrence within two days")  # pragma: no cover

    def latest_until(self, instant: datetime.datetime) -> datetime.datetime:
        """The last occurrence at or before ``instant``."""
        day = self.day_of(instant)
        for offset in range(1, -3, -1):
            candidate = self.occurrence(day + datetime.timedelta(days=offset))
            if candidate <= instant:
                return candidate
        raise AssertionError("no occurrence within two days")  # pragma: no cover


def parse_time(text: str, *, prefix: str = "!") -> datetime.time:
    """``09:00`` (also ``9:00``, ``21.30``, ``9h30``) as a time of day; :class:`InvalidSchedule`
    otherwise."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise InvalidSchedule(
            f"{echo(text)} is not a time of day: write it as HH:MM on a 24-hour clock, "
            f"such as 09:00 or 21:30. Example: {EXAMPLE.format(prefix=prefix)}"
        )
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise InvalidSchedule(
            f"{echo(text)} is not a time of day: hours go from 00 to 23 and minutes from "
            f"00 to 59. Example: {EXAMPLE.format(prefix=prefix)}"
        )
    return datetime.time(hour, minute)


def parse_zone(text: str | None, *, prefix: str = "!") -> zoneinfo.ZoneInfo:
    """An IANA time zone name (``Europe/Berlin``, any letter case; default UTC) as a zone;
    :class:`InvalidSchedule`, with the nearest names, otherwise."""
    if text is None or not text.strip():
        return zoneinfo.ZoneInfo(DEFAULT_ZONE)
    wanted = text.strip()
    close: list[str] = []
    if len(wanted) <= _MAX_ZONE_LENGTH:
        key = _zone_keys().get(wanted.casefold())
        if key is not None:
            return zoneinfo.ZoneInfo(key)
        close = difflib.get_close_matches(wanted.casefold(), _zone_keys(), n=3, cutoff=0.6)
    hint = ""
    if close:
        hint = " Did you mean " + " or ".join(f"`{_zone_keys()[c]}`" for c in close) + "?"
    raise InvalidSchedule(
        f"I don't know the time zone {echo(text)}.{hint} Time zones are IANA names, "
        f"such as Europe/Berlin, America/New_York or UTC. Example: {EXAMPLE.format(prefix=prefix)}"
    )


def zone_names() -> list[str]:
    """Every IANA name this machine knows, sorted (for suggestions)."""
    return sorted(_zone_keys().values())


@functools.cache
def _zone_keys() -> dict[str, str]:
    """Every IANA zone name, by its case-folded form."""
    names = zoneinfo.available_timezones() | {DEFAULT_ZONE}
    # ``localtime`` and the like are the machine's own zone, not a place.
    return {name.casefold(): name for name in names if name not in {"localtime", "Factory"}}


__all__ = [
    "DEFAULT_ZONE",
    "InvalidSchedule",
    "Schedule",
    "parse_time",
    "parse_zone",
    "zone_names",
]
