"""The rectification ledger (问题台账), its baselines, and waivers (豁免); change-log rows name what they are
about by number.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ref", sa.String(length=40), server_default="", nullable=False)
        )
        batch_op.create_index("ix_changes_ref", ["ref"], unique=False)
    op.create_table(
        "ledger_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("school_key", sa.String(length=240), nullable=False),
        sa.Column("item_key", sa.String(length=400), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("school_code", sa.String(length=40), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("basis", sa.JSON(), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("found_by", sa.String(length=20), nullable=False),
        sa.Column("first_seen_run", sa.Integer(), nullable=True),
        sa.Column("last_seen_run", sa.Integer(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=False),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_items")),
        sa.UniqueConstraint("number", name=op.f("uq_ledger_items_number")),
        sa.UniqueConstraint(
            "school_key", "item_key", "rule", name=op.f("uq_ledger_items_school_key")
        ),
    )
    op.create_index("ix_ledger_items_school_key", "ledger_items", ["school_key"], unique=False)
    op.create_index("ix_ledger_items_status", "ledger_items", ["status"], unique=False)
    op.create_table(
        "ledger_baselines",
        sa.Column("school_key", sa.String(length=240), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("first_run", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("school_key", name=op.f("pk_ledger_baselines")),
    )
    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=False),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waivers")),
    )


def downgrade() -> None:
    op.drop_table("waivers")
    op.drop_table("ledger_baselines")
    op.drop_index("ix_ledger_items_status", table_name="ledger_items")
    op.drop_index("ix_ledger_items_school_key", table_name="ledger_items")
    op.drop_table("ledger_items")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_ref")
        batch_op.drop_column("ref")
