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

__all__ = ["guild_settings", "metadata"]
