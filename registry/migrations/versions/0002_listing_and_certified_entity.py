"""Entries: the bureau's listing (准入状态, date, decision) apart from the filing, and the
certified owner (认证主体) of an account or mini-program.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows take the empty values: no explicit listing state, no owner on record.
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("listing", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("listing_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("listing_ref", sa.String(length=500), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("certified_entity", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_column("certified_entity")
        batch_op.drop_column("listing_ref")
        batch_op.drop_column("listing_date")
        batch_op.drop_column("listing")
