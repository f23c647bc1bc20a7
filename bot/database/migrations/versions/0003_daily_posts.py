"""Daily cat facts: each channel's subscription, and one claim per post.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_subscriptions",
        sa.Column("channel_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("guild_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.String(5), nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(200)),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("told", sa.Text, nullable=False, server_default=""),
        sa.Column("changed_by", sa.BigInteger, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_daily_subscriptions_guild_id", "daily_subscriptions", ["guild_id"])
    op.create_index("ix_daily_subscriptions_next_at", "daily_subscriptions", ["next_at"])
    op.create_table(
        "daily_posts",
        sa.Column("channel_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("error", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("daily_posts")
    op.drop_index("ix_daily_subscriptions_next_at", "daily_subscriptions")
    op.drop_index("ix_daily_subscriptions_guild_id", "daily_subscriptions")
    op.drop_table("daily_subscriptions")
