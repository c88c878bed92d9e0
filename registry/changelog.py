"""The change log: who changed what, when, from what to what, and why.

Every writer of the database (registry entries and adoptions, the rectification ledger,
waivers) records its changes here, in the same transaction as the change itself, so the log
never disagrees with the data.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Change, utcnow

REGISTRY_SUBJECTS = ("entry", "adoption", "signer")
"""What `registry history` shows; the ledger and waivers keep their own histories."""


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers and services
        return "unknown"


def batch_id() -> str:
    """A new batch: the changes of one import or one scan, told apart from the others."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class ChangeRecord:
    """One entry of the change log."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    entry_id: int | None
    label: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    reason: str
    batch: str
    ref: str = ""
    """The ledger item's or waiver's number, for their changes."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "entry_id": self.entry_id,
            "label": self.label,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "batch": self.batch,
        }
        if self.ref:
            out["ref"] = self.ref
        return out


def log_change(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    label: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    reason: str = "",
    batch: str = "",
    entry_id: int | None = None,
    ref: str = "",
    at: datetime | None = None,
) -> None:
    session.add(
        Change(
            at=at or utcnow(),
            actor=actor,
            action=action,
            subject=subject,
            entry_id=entry_id,
            ref=ref,
            label=label,
            before=dict(before) if before is not None else None,
            after=dict(after) if after is not None else None,
            reason=reason,
            batch=batch,
        )
    )


def read_changes(
    session: Session,
    *,
    subjects: Collection[str],
    entry_id: int | None = None,
    refs: Collection[str] | None = None,
) -> list[ChangeRecord]:
    """The changes of these subjects, oldest first; of one entry, or of some numbers."""
    query = select(Change).where(Change.subject.in_(subjects)).order_by(Change.id)
    if entry_id is not None:
        query = query.where(Change.entry_id == entry_id)
    if refs is not None:
        query = query.where(Change.ref.in_(refs))
    return [
        ChangeRecord(
            id=c.id,
            at=c.at,
            actor=c.actor,
            action=c.action,
            subject=c.subject,
            entry_id=c.entry_id,
            label=c.label,
            before=c.before,
            after=c.after,
            reason=c.reason,
            batch=c.batch,
            ref=c.ref or "",
        )
        for c in session.scalars(query).all()
    ]
