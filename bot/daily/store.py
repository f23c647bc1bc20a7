"""The daily posts in the database: subscriptions, and the claims that make each post happen once.

Every statement here works on SQLite and PostgreSQL alike. What makes a post happen once is the
primary key of ``daily_posts`` (a channel and a local day): a process *claims* a post by
inserting that row, and a second process inserting the same row gets nothing. A claim left in
the ``claimed`` state by a process that died is stale after :data:`CLAIM_TIMEOUT` and may be
taken over, by a conditional update that one process at most can win.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.daily.schedule import Schedule
from bot.database import Database, schema

log = logging.getLogger(__name__)

SUBSCRIPTIONS = schema.daily_subscriptions
POSTS = schema.daily_posts

CLAIMED, SENT, FAILED = "claimed", "sent", "failed"

TOLD_LIMIT = 400
"""Digests of told facts kept per channel at most (a language has about 100 facts)."""

KEEP_POSTS = datetime.timedelta(days=35)
"""How long a post's row is kept: long past any claim's use, short enough to stay small."""

_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    """One channel's daily post, as stored."""

    channel_id: int
    guild_id: int
    schedule: Schedule
    next_at: datetime.datetime
    """When the scheduler acts next (UTC): the post's time, or a retry's."""
    changed_by: int
    changed_at: datetime.datetime
    """When it was set (UTC): no post is owed for a time before this."""
    failures: int = 0
    last_error: str | None = None
    paused: bool = False
    told: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """A post this process now holds: it alone may make it."""

    channel_id: int
    day: datetime.date
    first_claimed_at: datetime.datetime
    taken_over: bool
    """True when the row was there already (a claim that went stale, or this process's own
    earlier try): the post may have been made, so look before making it again."""
    claimed_at: datetime.datetime
    """When this process took it: it holds it until :data:`CLAIM_TIMEOUT` after that."""


@dataclasses.dataclass(frozen=True, slots=True)
class ShardFilter:
    """The servers one process posts for: those on its shards (all when ``count`` is None)."""

    count: int | None = None
    ids: tuple[int, ...] | None = None

    def clause(self) -> sa.ColumnElement[bool]:
        """Discord's rule, ``(guild_id >> 22) % count``, in SQL (both engines have it)."""
        if self.count is None or self.ids is None or len(self.ids) == self.count:
            return sa.true()
        # The shift's amount inline: PostgreSQL has ``bigint >> integer``, not ``>> bigint``.
        shard = SUBSCRIPTIONS.c.guild_id.op(">>")(sa.literal_column("22")) % self.count
        return shard.in_(self.ids)

    def covers(self, guild_id: int) -> bool:
        if self.count is None or self.ids is None:
            return True
        return (guild_id >> 22) % self.count in self.ids


class DailyStore:
    """The queries of :mod:`bot.daily`, one method each; every method is one transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._insert = _INSERTS[database.dialect]

    # Subscriptions -----------------------------------------------------------------------------

    async def put(self, subscription: Subscription) -> Subscription:
        """Create or change a channel's subscription; changing one resumes it and clears its
        failures, and keeps what it has told."""
        values = _row(subscription)
        insert = self._insert(SUBSCRIPTIONS).values(**values)
        kept = {"channel_id", "told"}
        upsert = insert.on_conflict_do_update(
            index_elements=[SUBSCRIPTIONS.c.channel_id],
            set_={name: insert.excluded[name] for name in values if name not in kept},
        ).returning(*SUBSCRIPTIONS.c)
        async with self.database.engine.begin() as connection:
            row = (await connection.execute(upsert)).one()
        return _subscription(row._asdict())

    async def remove(self, channel_id: int) -> bool:
        """Stop a channel's daily post; True if it had one. Its posts' rows stay (they expire)."""
        async with self.database.engine.begin() as connection:
            result = await connection.execute(
                sa.delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.channel_id == channel_id)
            )
        return bool(result.rowcount)

    async def for_guild(self, guild_id: int) -> list[Subscription]:
        """A server's subscriptions, by channel."""
        query = (
            sa.select(SUBSCRIPTIONS)
            .where(SUBSCRIPTIONS.c.guild_id == guild_id)
            .order_by(SUBSCRIPTIONS.c.channel_id)
        )
        async with self.database.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_subscription(row._asdict()) for row in rows]

    async def last_made(self, channel_id: int) -> datetime.datetime | None:
        """When the channel's latest daily post was claimed, of those made; None if none."""
        query = sa.select(sa.func.max(POSTS.c.first_claimed_at)).where(
            POSTS.c.channel_id == channel_id, POSTS.c.state == SENT
        )
        async with self.database.engine.connect() as connection:
            value = (await connection.execute(query)).scalar()
        return None if value is None else _utc(value)

    async def pending(
        self, channel_ids: Iterable[int]
    ) -> dict[int, tuple[datetime.date, datetime.datetime]]:
        """The posts still ``claimed`` of these channels (made or not, nobody knows yet): each
        channel's latest, with when it was first claimed."""
        query = (
            sa.select(POSTS.c.channel_id, POSTS.c.day, POSTS.c.first_claimed_at)
            .where(POSTS.c.channel_id.in_(list(channel_ids)), POSTS.c.state == CLAIMED)
            .order_by(POSTS.c.day)  # each channel's latest comes last, and stays
        )
        async with self.database.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {row.channel_id: (row.day, _utc(row.first_claimed_at)) for row in rows}

    # The scheduler -----------------------------------------------------------------------------

    async def next_at(self, shards: ShardFilter) -> datetime.datetime | None:
        """When the scheduler must act next for these shards (the index answers it)."""
        query = sa.select(sa.func.min(SUBSCRIPTIONS.c.next_at)).where(
            SUBSCRIPTIONS.c.paused == sa.false(), shards.clause()
        )
        async with self.database.engine.connect() as connection:
            value = (await connection.execute(query)).scalar()
        return None if value is None else _utc(value)

    async def due(
        self, now: datetime.datetime, shards: ShardFilter, limit: int
    ) -> list[Subscription]:
        """Subscriptions to act on at ``now``, the longest due first, at most ``limit``."""
        query = (
            sa.select(SUBSCRIPTIONS)
            .where(
                SUBSCRIPTIONS.c.next_at <= now,
                SUBSCRIPTIONS.c.paused == sa.false(),
                shards.clause(),
            )
            .order_by(SUBSCRIPTIONS.c.next_at, SUBSCRIPTIONS.c.channel_id)
            .limit(limit)
        )
        async with self.database.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_subscription(row._asdict()) for row in rows]

    async def claim(
        self,
        posts: Sequence[tuple[int, datetime.date]],
        *,
        by: str,
        now: datetime.datetime,
        stale_before: datetime.datetime,
    ) -> tuple[list[Claim], dict[tuple[int, datetime.date], str]]:
        """Claim each (channel, day) post for the process ``by``.

        Returns the claims won, and the state of each post that was not: ``sent`` or ``failed``
        (it was made, or given up, already), or ``claimed`` (another process holds it). A post
        in the ``claimed`` state is taken over when it was claimed by ``by`` itself, or before
        ``stale_before``.
        """
        if not posts:
            return [], {}
        # One order for every process: two claiming overlapping posts lock rows in the same order.
        posts = sorted(posts)
        rows = [
            {
                "channel_id": channel_id,
                "day": day,
                "state": CLAIMED,
                "claimed_by": by,
                "claimed_at": now,
                "first_claimed_at": now,
            }
            for channel_id, day in posts
        ]
        insert = (
            self._insert(POSTS)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[POSTS.c.channel_id, POSTS.c.day])
            .returning(POSTS.c.channel_id, POSTS.c.day)
        )
        won: list[Claim] = []
        lost: dict[tuple[int, datetime.date], str] = {}
        async with self.database.engine.begin() as connection:
            inserted = {(row.channel_id, row.day) for row in await connection.execute(insert)}
            won += [Claim(c, d, now, False, now) for c, d in posts if (c, d) in inserted]
            others = [(c, d) for c, d in posts if (c, d) not in inserted]
            for channel_id, day in others:
                key = (POSTS.c.channel_id == channel_id, POSTS.c.day == day)
                taken = await connection.execute(
                    sa.update(POSTS)
                    .where(
                        *key,
                        POSTS.c.state == CLAIMED,
                        sa.or_(POSTS.c.claimed_by == by, POSTS.c.claimed_at < stale_before),
                    )
                    .values(claimed_by=by, claimed_at=now)
                    .returning(POSTS.c.first_claimed_at)
                )
                first = taken.scalar()
                if first is not None:
                    won.append(Claim(channel_id, day, _utc(first), True, now))
                    continue
                state = (await connection.execute(sa.select(POSTS.c.state).where(*key))).scalar()
                lost[(channel_id, day)] = str(state)
        return won, lost

    async def record(self, outcomes: Iterable[Outcome], *, by: str) -> None:
        """Write what became of each post and its subscription, in one transaction.

        Nothing is written for a post whose claim ``by`` no longer holds (another process took
        it over, and writes it). The subscription's new values apply only if nobody changed it
        since it was read (an admin's change wins over the scheduler's); what the post itself
        did still does: the fact told is remembered, and a retry is kept if it comes sooner."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        async with self.database.engine.begin() as connection:
            for outcome in outcomes:
                if outcome.day is not None and not await _still_held(connection, outcome, by):
                    continue
                channel = SUBSCRIPTIONS.c.channel_id == outcome.channel_id
                told = {} if outcome.told is None else {"told": outcome.told}
                changed = await connection.execute(
                    sa.update(SUBSCRIPTIONS)
                    .where(channel, SUBSCRIPTIONS.c.changed_at == outcome.read_at)
                    .values(**outcome.subscription, **told)
                )
                if changed.rowcount:
                    continue
                if told:
                    await connection.execute(sa.update(SUBSCRIPTIONS).where(channel).values(**told))
                if outcome.retry_at is not None:
                    await connection.execute(
                        sa.update(SUBSCRIPTIONS)
                        .where(channel, SUBSCRIPTIONS.c.next_at > outcome.retry_at)
                        .values(next_at=outcome.retry_at)
                    )
            expired = min(o.now for o in outcomes) - KEEP_POSTS
            await connection.execute(
                sa.delete(POSTS).where(
                    POSTS.c.channel_id.in_({o.channel_id for o in outcomes}),
                    POSTS.c.day < expired.date(),
                )
            )


async def _still_held(connection: AsyncConnection, outcome: Outcome, by: str) -> bool:
    """Whether ``by`` still holds the claim of ``outcome``'s post; if the outcome settles the
    post (made, or refused), it is written at the same time."""
    key = (POSTS.c.channel_id == outcome.channel_id, POSTS.c.day == outcome.day)
    held = (POSTS.c.state == CLAIMED, POSTS.c.claimed_by == by)
    if outcome.post_state is None:  # to be tried again: is it still ours to try?
        query = sa.select(sa.func.count()).select_from(POSTS).where(*key, *held)
        return bool((await connection.execute(query)).scalar())
    settled = await connection.execute(
        sa.update(POSTS)
        .where(*key, *held)
        .values(state=outcome.post_state, message_id=outcome.message_id, error=outcome.error)
    )
    return bool(settled.rowcount)


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What to write for one subscription after a pass: its post's new state (if it had a claim)
    and the subscription's changed columns."""

    channel_id: int
    read_at: datetime.datetime
    """The subscription's ``changed_at`` as read: the update applies only if it is unchanged."""
    now: datetime.datetime
    subscription: dict[str, Any]
    day: datetime.date | None = None
    """The claimed post's day, for an outcome of a claim."""
    post_state: str | None = None
    """``sent`` or ``failed``: the post is settled; None: it is to be tried again."""
    message_id: int | None = None
    error: str | None = None
    told: str | None = None
    """The facts told this round, once this post's fact is among them (written even if an admin
    changed the subscription meanwhile: the fact was posted)."""
    retry_at: datetime.datetime | None = None
    """When to try the post again (kept even if the subscription was changed meanwhile, unless
    the change made it due sooner)."""


def _row(subscription: Subscription) -> dict[str, Any]:
    return {
        "channel_id": subscription.channel_id,
        "guild_id": subscription.guild_id,
        "at": f"{subscription.schedule.time:%H:%M}",
        "zone": subscription.schedule.zone_name,
        "next_at": subscription.next_at,
        "failures": subscription.failures,
        "last_error": subscription.last_error,
        "paused": subscription.paused,
        "told": " ".join(subscription.told[-TOLD_LIMIT:]),
        "changed_by": subscription.changed_by,
        "changed_at": subscription.changed_at,
    }


def _subscription(row: dict[str, Any]) -> Subscription:
    return Subscription(
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        schedule=Schedule(datetime.time.fromisoformat(row["at"]), _zone(row["zone"])),
        next_at=_utc(row["next_at"]),
        changed_by=row["changed_by"],
        changed_at=_utc(row["changed_at"]),
        failures=row["failures"],
        last_error=row["last_error"],
        paused=bool(row["paused"]),
        told=tuple(row["told"].split()),
    )


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """A stored zone; UTC, with a warning, if this machine's time-zone database lacks it (one
    older than the process's that stored it): one subscription off by hours, not all stopped."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r of a daily post is unknown here; using UTC", name)
        return zoneinfo.ZoneInfo("UTC")


def told_column(told: Sequence[str]) -> str:
    """The ``told`` column's value for these digests (the latest :data:`TOLD_LIMIT`)."""
    return " ".join(told[-TOLD_LIMIT:])


def _utc(value: datetime.datetime) -> datetime.datetime:
    """A stored time as an aware UTC datetime (SQLite keeps no time zone)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


__all__ = [
    "CLAIMED",
    "FAILED",
    "SENT",
    "Claim",
    "DailyStore",
    "Outcome",
    "ShardFilter",
    "Subscription",
    "told_column",
]
