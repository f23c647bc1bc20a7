"""The tables, as SQLAlchemy Core sees them at the latest migration.

The migrations in ``migrations/versions`` are the history; this module is the present, for the
queries. A test checks the two agree (a fresh database migrated to the head has exactly these
columns), so a change here without a migration, or the other way round, fails.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

guild_settings = sa.Table(
    "guild_settings",
    metadata,
    # A Discord snowflake: 64 bits, below 2**63 for centuries yet.
    sa.Column("guild_id", sa.BigInteger, primary_key=True, autoincrement=False),
    # NULL means "the default": the operator's COMMAND_PREFIX, the language of the server's
    # Discord locale, the operator's CATFACT_COOLDOWN. A server that never chose follows them.
    sa.Column("prefix", sa.String(5)),
    sa.Column("language", sa.String(16)),
    sa.Column("cooldown", sa.Integer),
    # Who made the last change, and when (a Discord user id; UTC).
    sa.Column("changed_by", sa.BigInteger),
    sa.Column("changed_at", sa.DateTime(timezone=True)),
)
"""Each server's own settings; a server with no row uses the defaults."""

daily_subscriptions = sa.Table(
    "daily_subscriptions",
    metadata,
    # One daily post per channel: setting it again changes its time.
    sa.Column("channel_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("guild_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", sa.String(5), nullable=False),  # "09:00", local time
    sa.Column("zone", sa.String(64), nullable=False),  # an IANA name, "Europe/Berlin"
    # When the scheduler acts next (UTC): the next post's due time, or a retry's. The index is
    # what it wakes for; it never reads the whole table.
    sa.Column("next_at", sa.DateTime(timezone=True), nullable=False, index=True),
    # Days in a row the post could not be made, why the last one failed, and whether it gave up
    # (after a week; setting it again resumes it). Nothing is ever deleted for failing.
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(200)),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    # The facts posted in this channel since its round began (short digests, space-separated):
    # no fact comes again before every fact of the pool has been posted here.
    sa.Column("told", sa.Text, nullable=False, server_default=""),
    sa.Column("changed_by", sa.BigInteger, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)
"""Each channel's daily post: when, where, and how it has been going."""

daily_posts = sa.Table(
    "daily_posts",
    metadata,
    # The claim: one row per channel and local day, so that one post a day is a unique key, and
    # two processes that both find a post due cannot both make it.
    sa.Column("channel_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("state", sa.String(8), nullable=False),  # claimed, sent or failed
    sa.Column("claimed_by", sa.String(64), nullable=False),  # a process, for the logs
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),  # its latest claim
    sa.Column("first_claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("message_id", sa.BigInteger),
    sa.Column("error", sa.String(200)),
)
"""Every daily post claimed, made or failed, for the last few weeks."""

__all__ = ["daily_posts", "daily_subscriptions", "guild_settings", "metadata"]
