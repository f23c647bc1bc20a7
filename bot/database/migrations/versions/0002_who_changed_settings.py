"""Who changed a server's settings last, and when (``!settings`` shows it).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guild_settings") as table:
        table.add_column(sa.Column("changed_by", sa.BigInteger))
        table.add_column(sa.Column("changed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("guild_settings") as table:
        table.drop_column("changed_at")
        table.drop_column("changed_by")
