"""The ledger's items lose their index on school_key alone: the unique key (school_key,
item_key, rule) begins with it and serves every look-up by school, and a scan that opens
hundreds of thousands of items kept both up to date.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_ledger_items_school_key", table_name="ledger_items")


def downgrade() -> None:
    op.create_index("ix_ledger_items_school_key", "ledger_items", ["school_key"], unique=False)
