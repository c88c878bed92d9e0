"""Initial registry schema: entries, signers, schools, adoptions, change log, scan runs, APK facts.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
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
        "apk_facts",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("analyser_version", sa.String(length=40), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "analyser_version", name=op.f("pk_apk_facts")),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_changes_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_changes_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("filing_no", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("package", sa.String(length=255), nullable=True),
        sa.Column("original_id", sa.String(length=40), nullable=True),
        sa.Column("appid", sa.String(length=40), nullable=True),
        sa.Column("wechat_id", sa.String(length=40), nullable=True),
        sa.Column("channels_id", sa.String(length=80), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("audience", sa.String(length=100), nullable=False),
        sa.Column("icp", sa.String(length=100), nullable=False),
        sa.Column("mlps_level", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint("appid", name=op.f("uq_entries_appid")),
        sa.UniqueConstraint("channels_id", name=op.f("uq_entries_channels_id")),
        sa.UniqueConstraint("original_id", name=op.f("uq_entries_original_id")),
        sa.UniqueConstraint("package", name=op.f("uq_entries_package")),
        sa.UniqueConstraint("url", name=op.f("uq_entries_url")),
        sa.UniqueConstraint("wechat_id", name=op.f("uq_entries_wechat_id")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entries_filing_no"), ["filing_no"], unique=False)
        batch_op.create_index(batch_op.f("ix_entries_name"), ["name"], unique=False)

    op.create_table(
        "scan_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tool_version", sa.String(length=40), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("registry_digest", sa.String(length=64), nullable=False),
        sa.Column("registry_snapshot", sa.Text(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("out_dir", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_runs")),
    )
    op.create_table(
        "schools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("is_district", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schools")),
        sa.UniqueConstraint("code", name=op.f("uq_schools_code")),
        sa.UniqueConstraint("name", name=op.f("uq_schools_name")),
    )
    op.create_table(
        "adoptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("decision_ref", sa.String(length=500), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("audience", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_adoptions_entry_id_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_adoptions_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoptions")),
        sa.UniqueConstraint("school_id", "entry_id", name=op.f("uq_adoptions_school_id")),
    )
    with op.batch_alter_table("adoptions", schema=None) as batch_op:
        batch_op.create_index("ix_adoptions_entry_id", ["entry_id"], unique=False)

    op.create_table(
        "scan_schools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("school_code", sa.String(length=40), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["scan_runs.id"],
            name=op.f("fk_scan_schools_run_id_scan_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_schools")),
    )
    with op.batch_alter_table("scan_schools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_schools_run_id"), ["run_id"], unique=False)

    op.create_table(
        "signers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name=op.f("fk_signers_entry_id_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signers")),
        sa.UniqueConstraint("entry_id", "sha256", name=op.f("uq_signers_entry_id")),
    )
    with op.batch_alter_table("signers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signers_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signers_sha256"))

    op.drop_table("signers")
    with op.batch_alter_table("scan_schools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_schools_run_id"))

    op.drop_table("scan_schools")
    with op.batch_alter_table("adoptions", schema=None) as batch_op:
        batch_op.drop_index("ix_adoptions_entry_id")

    op.drop_table("adoptions")
    op.drop_table("schools")
    op.drop_table("scan_runs")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_name"))
        batch_op.drop_index(batch_op.f("ix_entries_filing_no"))

    op.drop_table("entries")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_changes_entry_id"))
        batch_op.drop_index(batch_op.f("ix_changes_at"))

    op.drop_table("changes")
    op.drop_table("apk_facts")
