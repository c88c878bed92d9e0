"""Databases made by an earlier appaudit upgrade in place on first use, their rows intact."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from registry.db import SCHEMA_HEAD, head_revision, open_database
from registry.service import Registry

NOW = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)


def _database_at(url: str, revision: str) -> None:
    """A registry database whose schema stops at `revision`, as that release left it."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", "registry:migrations")
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def _fill_revision_0001(url: str) -> None:
    engine = create_engine(url)
    entry = (
        "INSERT INTO entries (id, kind, name, provider, filing_no, status, package, category, "
        "audience, icp, mlps_level, note, created_at, updated_at) VALUES (:id, :kind, :name, '', "
        ":filing_no, :status, :package, '教学', '学生', '', '', '', :now, :now)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                text(entry),
                [
                    {"id": 1, "kind": "app", "name": "闽教高分", "filing_no": "教APP备1100819号",
                     "status": "active", "package": "com.zhl.mjqk.aphone", "now": NOW},
                    {"id": 2, "kind": "app", "name": "示例口算练习", "filing_no": "教APP备9900002号",
                     "status": "revoked", "package": "org.example.kousuan", "now": NOW},
                ],
            )  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO signers (entry_id, sha256, subject, added_at) "
                    "VALUES (1, :sha, '', :now)"
                ),
                {"sha": "ab" * 32, "now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO schools (id, name, code, is_district, created_at) "
                    "VALUES (1, '示例实验小学', '3135000001', :no, :now)"
                ),
                {"no": False, "now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO adoptions (school_id, entry_id, decision_ref, decided_on, "
                    "audience, note, created_at) VALUES (1, 1, '校务会议纪要', :day, '学生', '', :now)"
                ),
                {"day": NOW.date(), "now": NOW},
            )
            conn.execute(
                text(
                    "INSERT INTO changes (at, actor, action, subject, entry_id, label, reason, batch) "
                    "VALUES (:now, '导入员', 'add', 'entry', 1, '闽教高分', '', '')"
                ),
                {"now": NOW},
            )
    finally:
        engine.dispose()


def test_a_revision_0001_database_upgrades_on_first_use(db_url: str) -> None:
    _database_at(db_url, "0001")
    _fill_revision_0001(db_url)

    database = open_database(db_url)  # what every command does: upgrade, then work
    with database.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == (head_revision(),)
    registry = Registry(database, actor="测试员")
    first, revoked = registry.entries()
    assert (first.name, first.status, first.filed, first.signer_sha256) == (
        "闽教高分",
        "active",
        True,
        ("ab" * 32,),
    )
    assert (revoked.name, revoked.status) == ("示例口算练习", "revoked")
    for entry in (first, revoked):
        assert (entry.listing, entry.listing_date, entry.listing_ref, entry.certified_entity) == (
            "",
            None,
            "",
            "",
        )
    (adoption,) = registry.adoptions()
    assert (adoption.adoption.school, adoption.entry.name) == ("示例实验小学", "闽教高分")
    assert [c.actor for c in registry.history()] == ["导入员"]

    # The new columns take values like any other, and a second open changes nothing.
    registry.edit("闽教高分", {"listing": "暂停", "listing_ref": "区教育局〔2025〕9号"})
    database.close()
    again = Registry(open_database(db_url))
    assert again.get("闽教高分").listing == "suspended"
    assert again.get("闽教高分").listing_ref == "区教育局〔2025〕9号"
    again.db.close()


def test_the_schema_head_known_without_alembic_is_alembics_head() -> None:
    # A database at SCHEMA_HEAD is opened without loading Alembic; a new migration must
    # move it, or databases would stay at the old revision.
    assert head_revision() == SCHEMA_HEAD


def test_a_database_behind_the_head_is_still_upgraded(db_url: str) -> None:
    _database_at(db_url, "0001")
    open_database(db_url).close()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == (SCHEMA_HEAD,)
    finally:
        engine.dispose()
