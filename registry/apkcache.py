"""Cached APK facts, by content SHA-256 and analyser version, as JSON text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from registry.db import Database
from registry.models import ApkFactsRecord, utcnow


def cached_facts(database: Database, version: str, digests: Iterable[str]) -> dict[str, str]:
    """The stored facts (JSON text) for those of `digests` analysed by this `version`."""
    wanted = sorted(set(digests))
    found: dict[str, str] = {}
    with database.read() as session:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = session.execute(
                select(ApkFactsRecord.sha256, ApkFactsRecord.facts).where(
                    ApkFactsRecord.analyser_version == version,
                    ApkFactsRecord.sha256.in_(chunk),
                )
            )
            found.update({sha: facts for sha, facts in rows})
    return found


def store_facts(database: Database, version: str, facts: Mapping[str, str]) -> None:
    """Remember facts; a digest another process stored meanwhile is left as it is."""
    if not facts:
        return
    with database.write() as session:
        have = set(
            session.scalars(
                select(ApkFactsRecord.sha256).where(
                    ApkFactsRecord.analyser_version == version,
                    ApkFactsRecord.sha256.in_(list(facts)),
                )
            )
        )
        for sha, text in facts.items():
            if sha not in have:
                session.add(
                    ApkFactsRecord(
                        sha256=sha, analyser_version=version, facts=text, created_at=utcnow()
                    )
                )
        try:
            session.flush()
        except IntegrityError:  # pragma: no cover - writers are serialised; kept for safety
            session.rollback()
