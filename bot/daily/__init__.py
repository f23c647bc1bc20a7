"""Daily cat facts: one post a day in a channel, at a local time, made exactly once.

The rest of the bot imports from this package only. :class:`DailyService` holds the
subscriptions for the commands and runs the scheduler that makes the posts;
:func:`parse_time` and :func:`parse_zone` read what an admin typed into a :class:`Schedule`, or
raise :class:`InvalidSchedule` with the reply. The modules:

- :mod:`~bot.daily.schedule`: local times, time zones, daylight saving time, as instants in UTC;
- :mod:`~bot.daily.store`: the tables' queries: subscriptions, claims, outcomes;
- :mod:`~bot.daily.service`: the commands' side and the scheduler, and what each crash leaves;
- :mod:`~bot.daily.poster`: Discord's side: the embed, the nonce, the look back, the errors.
"""

from __future__ import annotations

from bot.daily.poster import (
    DailyPost,
    DiscordPoster,
    Poster,
    UndeliverableError,
    missing_permissions,
)
from bot.daily.schedule import (
    DEFAULT_ZONE,
    InvalidSchedule,
    Schedule,
    parse_time,
    parse_zone,
    zone_names,
)
from bot.daily.service import (
    MAX_PER_SERVER,
    PAUSE_AFTER,
    DailyError,
    DailyService,
    DailyUnavailableError,
    Pacer,
    TooManyPostsError,
    wall_clock,
)
from bot.daily.store import ShardFilter, Subscription

__all__ = [
    "DEFAULT_ZONE",
    "MAX_PER_SERVER",
    "PAUSE_AFTER",
    "DailyError",
    "DailyPost",
    "DailyService",
    "DailyUnavailableError",
    "DiscordPoster",
    "InvalidSchedule",
    "Pacer",
    "Poster",
    "Schedule",
    "ShardFilter",
    "Subscription",
    "TooManyPostsError",
    "UndeliverableError",
    "missing_permissions",
    "parse_time",
    "parse_zone",
    "wall_clock",
    "zone_names",
]
