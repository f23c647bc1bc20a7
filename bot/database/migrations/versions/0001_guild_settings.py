"""Each server's own settings: prefix, language and cooldown.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("prefix", sa.String(5)),
        sa.Column("language", sa.String(16)),
        sa.Column("cooldown", sa.Integer),
    )


def downgrade() -> None:
    op.drop_table("guild_settings")
