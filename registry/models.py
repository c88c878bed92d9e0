"""The registry's tables as SQLAlchemy 2 typed models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back as an aware datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class School(Base):
    """A school, or the district itself (bureau-level adoptions hang on that row)."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    is_district: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Entry(Base):
    """A filed education app, mini-program, official account, channel or platform — or a
    known non-education one the bureau lists so that rules recognise it."""

    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), index=True)
    provider: Mapped[str] = mapped_column(String(200), default="")
    filing_no: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), default="none")
    """The filing (备案状态): active, revoked, cancelled or none."""
    listing: Mapped[str] = mapped_column(String(20), default="", server_default="")
    """The bureau's own list (准入状态): listed, suspended, removed, or '' for no explicit state."""
    listing_date: Mapped[date | None] = mapped_column(Date)
    listing_ref: Mapped[str] = mapped_column(String(500), default="", server_default="")
    """The decision that set the listing state (e.g. 区教育局〔2025〕3号)."""
    package: Mapped[str | None] = mapped_column(String(255), unique=True)
    original_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    appid: Mapped[str | None] = mapped_column(String(40), unique=True)
    wechat_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    channels_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    url: Mapped[str | None] = mapped_column(String(500), unique=True)
    category: Mapped[str] = mapped_column(String(40), default="")
    audience: Mapped[str] = mapped_column(String(100), default="")
    certified_entity: Mapped[str] = mapped_column(String(200), default="", server_default="")
    """The verified owner (认证主体) of an official account or mini-program."""
    icp: Mapped[str] = mapped_column(String(100), default="")
    mlps_level: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    signers: Mapped[list[Signer]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="Signer.id"
    )


class Signer(Base):
    """A signing certificate (by SHA-256) that the entry's genuine APKs carry."""

    __tablename__ = "signers"
    __table_args__ = (UniqueConstraint("entry_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    entry: Mapped[Entry] = relationship(back_populates="signers")


class Adoption(Base):
    """A school's adoption (选用) of an entry by collective decision, or the bureau's."""

    __tablename__ = "adoptions"
    __table_args__ = (UniqueConstraint("school_id", "entry_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"))
    decision_ref: Mapped[str] = mapped_column(String(500), default="")
    decided_on: Mapped[date | None] = mapped_column(Date)
    audience: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    school: Mapped[School] = relationship()
    entry: Mapped[Entry] = relationship()


class Change(Base):
    """One recorded change: who, when, what before and after, and why."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(20))
    entry_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ref: Mapped[str] = mapped_column(String(40), default="", server_default="", index=True)
    """The number of the ledger item or waiver a change is about ('' for registry changes)."""
    label: Mapped[str] = mapped_column(String(300), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    batch: Mapped[str] = mapped_column(String(40), default="")


class ScanRun(Base):
    """One run of `appaudit scan`: its inputs, the registry it read, and its counts."""

    __tablename__ = "scan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    tool_version: Mapped[str] = mapped_column(String(40), default="")
    inputs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    registry_digest: Mapped[str] = mapped_column(String(64), default="")
    registry_snapshot: Mapped[str] = mapped_column(Text, default="")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    out_dir: Mapped[str] = mapped_column(Text, default="")

    schools: Mapped[list[ScanSchool]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="ScanSchool.id"
    )


class ScanSchool(Base):
    """The findings of one school in one scan run, as JSON text."""

    __tablename__ = "scan_schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scan_runs.id", ondelete="CASCADE"), index=True)
    school: Mapped[str] = mapped_column(String(200))
    school_code: Mapped[str] = mapped_column(String(40), default="")
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    findings: Mapped[str] = mapped_column(Text, default="[]")

    run: Mapped[ScanRun] = relationship(back_populates="schools")


class LedgerItem(Base):
    """One problem in the rectification ledger (问题台账): a rule's finding on one school's
    item, tracked from discovery to closing (销号) across scans."""

    __tablename__ = "ledger_items"
    __table_args__ = (UniqueConstraint("school_key", "item_key", "rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    """The readable number (问题编号), e.g. 2026-0001: the year first seen and a sequence."""
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    school_key: Mapped[str] = mapped_column(String(240))
    """The school (see `policies.ledger.school_key`); the unique key, which begins with it,
    serves look-ups by school."""
    item_key: Mapped[str] = mapped_column(String(400))
    rule: Mapped[str] = mapped_column(String(40))
    school: Mapped[str] = mapped_column(String(200))
    school_code: Mapped[str] = mapped_column(String(40), default="")
    item: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(20), default="")
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    """The problem as the finding states it (问题描述), in Chinese."""
    basis: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The finding's citations (keys of the rule catalogue's clauses)."""
    cause: Mapped[str] = mapped_column(String(40), default="")
    """The rule's variant (the cause the finding names), for its remediation text."""
    found_by: Mapped[str] = mapped_column(String(20), default="scan")
    first_seen_run: Mapped[int | None] = mapped_column(Integer)
    last_seen_run: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    due: Mapped[date | None] = mapped_column(Date)
    owner: Mapped[str] = mapped_column(Text, default="")
    measure: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[str] = mapped_column(String(100), default="")
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    opened_by: Mapped[str] = mapped_column(String(100), default="")
    """Who ran the scan that opened the item (its opening is not a change-log row)."""
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class LedgerBaseline(Base):
    """How many distinct items a school required when the ledger first saw it: the base of
    its reduction (压减) of required apps and accounts."""

    __tablename__ = "ledger_baselines"

    school_key: Mapped[str] = mapped_column(String(240), primary_key=True)
    school: Mapped[str] = mapped_column(String(200))
    required: Mapped[int] = mapped_column(Integer)
    first_run: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Waiver(Base):
    """A waiver (豁免): findings of a scope left out of counts until a date, with why and who."""

    __tablename__ = "waivers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school: Mapped[str] = mapped_column(String(200))
    """A school's name or code, or 全区 for every school."""
    item: Mapped[str] = mapped_column(String(200), default="")
    """An item's name or identifier; '' for every item."""
    rule: Mapped[str] = mapped_column(String(40), default="")
    """A rule id; '' for every rule."""
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    until: Mapped[date] = mapped_column(Date)
    """The last day the waiver applies."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str] = mapped_column(String(100), default="")
    revoke_reason: Mapped[str] = mapped_column(Text, default="")


class ApkFactsRecord(Base):
    """Cached facts of one APK, by content hash and analyser version."""

    __tablename__ = "apk_facts"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    analyser_version: Mapped[str] = mapped_column(String(40), primary_key=True)
    facts: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


Index("ix_adoptions_entry_id", Adoption.entry_id)
