"""Ledger items built in code, as the store hands them to the writers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from registry.ledger import LedgerRecord


def item(
    seq: int,
    school: str = "示例实验小学",
    code: str = "3135000001",
    *,
    status: str = "open",
    rule: str = "NON-EDU-APP",
    basis: tuple[str, ...] = ("整治重点（三）", "附件2（三）3"),
    due: date | None = date(2026, 12, 30),
    **fields: object,
) -> LedgerRecord:
    values: dict[str, object] = {
        "id": seq,
        "number": f"2026-{seq:04d}",
        "school_key": f"code:{code}" if code else f"name:{school}",
        "item_key": f"app:{seq}",
        "rule": rule,
        "school": school,
        "school_code": code,
        "item": "国家反诈中心",
        "kind": "app",
        "severity": "high",
        "status": status,
        "description": "“国家反诈中心”不是教育类APP（反诈），不得要求师生、家长下载安装。",
        "basis": basis,
        # 16:30 UTC is the next day in Shanghai: the book shows the bureau's day.
        "first_seen_at": datetime(2026, 11, 29, 16, 30, tzinfo=UTC),
        "due": due,
    }
    values.update(fields)
    return LedgerRecord(**values)  # type: ignore[arg-type]
