"""What an import did or would do, row by row: the report every importer fills.

Importers (registry entries, adoptions, the rectification ledger) validate every row first
and apply the whole file or nothing; the report says which rows were taken and why the
others were not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from appaudit.errors import Message


@dataclass
class ImportReport:
    """What an import did or would do, row by row."""

    what: str
    source: str = ""
    added: list[tuple[int, str]] = field(default_factory=list)
    updated: list[tuple[int, str, list[str]]] = field(default_factory=list)
    unchanged: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, Message]] = field(default_factory=list)
    """Rows that cannot be taken, with why."""
    listed_without_filing: list[int] = field(default_factory=list)
    """Rows whose 有效/正常 came without a filing number and were read as listed (准入)."""
    dry_run: bool = False
    applied: bool = False
    batch: str = ""
