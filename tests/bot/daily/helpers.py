"""What the daily-post tests share: a wall clock they move, Discord as the scheduler sees it, and
bot processes opened on one database."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import itertools
import zoneinfo
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.daily import DailyPost, DailyService, Pacer, Schedule, ShardFilter, UndeliverableError
from bot.database import Database, parse_database_url
from bot.facts import ENGLISH, Language
from bot.facts.languages import by_code
from bot.facts.pool import Collection

UTC = datetime.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NINE_IN_BERLIN = Schedule(datetime.time(9, 0), BERLIN)
JAN_15 = datetime.datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
"""07:00 in Berlin, two hours before NINE_IN_BERLIN's post (08:00 UTC)."""
ADMIN = 42
GUILD = 1 << 22  # on shard 1 of any count above 1
ENGLISH_FACTS = Collection.of([f"Cats have {n} whiskers on a good day." for n in range(5)], "fake")
GERMAN_FACTS = Collection.of([f"Katzen haben {n} Schnurrhaare." for n in range(5)], "fake")


class WallClock:
    """The scheduler's wall clock (UTC): it moves only when a test moves it."""

    def __init__(self, start: datetime.datetime = JAN_15) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> datetime.datetime:
        self.now += datetime.timedelta(**delta)
        return self.now

    def set(self, instant: datetime.datetime) -> datetime.datetime:
        self.now = instant
        return instant


@dataclasses.dataclass(frozen=True)
class Made:
    """A message the fake Discord created."""

    message_id: int
    post: DailyPost
    at: datetime.datetime


class FakeDiscord:
    """Discord behind :class:`~bot.daily.Poster`: it keeps every message made, by channel, with
    the wall-clock time it was made, and applies the nonce rule (a second send with a nonce seen
    within ``nonce_window`` returns the first message) unless ``nonce_window`` is None.

    Tests script the rest: channels that refuse for good, sends that fail for now, history that
    can't be read, and hooks around a send (to hold it, or to kill the process there)."""

    def __init__(
        self,
        clock: WallClock,
        *,
        nonce_window: datetime.timedelta | None = datetime.timedelta(minutes=5),
    ) -> None:
        self.clock = clock
        self.nonce_window = nonce_window
        self.made: list[Made] = []
        self.sends = 0
        self.finds = 0
        self.refusing: dict[int, str] = {}
        self.failing: dict[int, int] = {}
        self.history_broken = False
        self.before_create: Callable[[DailyPost], Awaitable[None]] | None = None
        self.after_create: Callable[[Made], Awaitable[None]] | None = None
        self._ids = itertools.count(1000)

    async def send(self, post: DailyPost) -> int:
        self.sends += 1
        await asyncio.sleep(0)  # a request: other tasks run meanwhile
        if post.channel_id in self.refusing:
            raise UndeliverableError(self.refusing[post.channel_id])
        if self.failing.get(post.channel_id):
            self.failing[post.channel_id] -= 1
            raise ConnectionResetError("the network went away")
        if self.before_create is not None:
            await self.before_create(post)
        now = self.clock()
        if self.nonce_window is not None:
            for made in self.made:
                if made.post.nonce == post.nonce and now - made.at <= self.nonce_window:
                    return made.message_id
        made = Made(next(self._ids), post, now)
        self.made.append(made)
        if self.after_create is not None:
            await self.after_create(made)
        return made.message_id

    async def find(self, post: DailyPost, since: datetime.datetime) -> int | None:
        self.finds += 1
        if self.history_broken:
            return None
        for made in self.made:
            same = made.post.channel_id == post.channel_id and made.post.footer == post.footer
            if same and made.at >= since:
                return made.message_id
        return None

    def lose_next_answer(self) -> None:
        """The next send makes its message, and its answer never comes back (a timeout)."""

        async def lose(made: Made) -> None:
            self.after_create = None
            raise TimeoutError

        self.after_create = lose

    def create(self, post: DailyPost) -> Made:
        """A message made by a process that then died (before it could record it)."""
        made = Made(next(self._ids), post, self.clock())
        self.made.append(made)
        return made

    def days(self, channel_id: int) -> list[datetime.date]:
        """The days of the posts made in ``channel_id``, in the order made."""
        return [m.post.day for m in self.made if m.post.channel_id == channel_id]


class Processes:
    """Bot processes on one database, each with its own connections: a restart is a new one,
    Heroku's overlap two at once. They share the wall clock and Discord."""

    def __init__(self, url: str, clock: WallClock, discord: FakeDiscord) -> None:
        self.url = url
        self.clock = clock
        self.discord = discord
        self.languages: dict[int, Language] = {}
        self.on_language: Callable[[], Awaitable[None]] | None = None
        """Awaited whenever a process looks up a server's language: a slow moment, on demand."""
        self.opened: list[DailyService] = []
        self._migrated = False

    async def open(
        self,
        *,
        shards: ShardFilter | None = None,
        grace: datetime.timedelta = datetime.timedelta(hours=6),
        sleep: Callable[[float], Awaitable[None]] | None = None,
        chunk: int = 100,
        name: str | None = None,
    ) -> DailyService:
        database = Database(parse_database_url(self.url))
        if not self._migrated:
            await database.migrate()
            self._migrated = True
        service = DailyService(
            database,
            self.discord,
            self._facts,
            self._language_for,
            shards=shards,
            grace=grace,
            clock=self.clock,
            sleep=sleep or _never,
            pacer=Pacer(None),
            chunk=chunk,
            process=name or f"process-{len(self.opened) + 1}",
        )
        self.opened.append(service)
        return service

    async def close(self) -> None:
        for service in self.opened:
            await service.aclose()
            assert service.database is not None
            await service.database.close()

    async def _facts(self, code: str) -> Collection:
        return GERMAN_FACTS if code == "ger-de" else ENGLISH_FACTS

    async def _language_for(self, guild_id: int) -> Language:
        if self.on_language is not None:
            await self.on_language()
        return self.languages.get(guild_id, ENGLISH)

    def speak(self, guild_id: int, code: str) -> None:
        self.languages[guild_id] = by_code(code)


async def _never(delay: float) -> None:
    """A sleep for services whose loop a test does not run."""
    raise AssertionError(f"the scheduler slept {delay} s in a test that drives it by hand")


async def processes_on(
    url: str, clock: WallClock, discord: FakeDiscord
) -> AsyncIterator[Processes]:
    opened = Processes(url, clock, discord)
    try:
        yield opened
    finally:
        await opened.close()


__all__ = [
    "ADMIN",
    "BERLIN",
    "ENGLISH_FACTS",
    "GERMAN_FACTS",
    "GUILD",
    "JAN_15",
    "NINE_IN_BERLIN",
    "FakeDiscord",
    "Made",
    "Processes",
    "WallClock",
    "processes_on",
]
