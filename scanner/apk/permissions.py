"""Android permissions in plain words (Chinese and English), and which ones are sensitive.

The catalogue is `scanner/data/permissions.csv`; "sensitive" marks permissions that reach
personal data or let an app act beyond its own window (location, contacts, SMS, camera,
microphone, app lists, overlays, installing apps …).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class PermissionInfo:
    """One permission (权限) with its meaning, protection level and sensitivity."""

    permission: str
    name_zh: str
    meaning_zh: str
    meaning_en: str
    protection: str
    sensitive: bool
    source: str

    @property
    def listed(self) -> bool:
        """False for a permission the catalogue does not describe."""
        return bool(self.source)


@cache
def permission_catalogue() -> Mapping[str, PermissionInfo]:
    """Every permission the catalogue describes, by its full name."""
    text = resources.files("scanner").joinpath("data/permissions.csv").read_text("utf-8")
    catalogue: dict[str, PermissionInfo] = {}
    for row in csv.DictReader(io.StringIO(text)):
        info = PermissionInfo(
            permission=row["permission"].strip(),
            name_zh=row["name_zh"].strip(),
            meaning_zh=row["meaning_zh"].strip(),
            meaning_en=row["meaning_en"].strip(),
            protection=row["protection"].strip(),
            sensitive=row["sensitive"].strip().lower() == "yes",
            source=row["source"].strip(),
        )
        catalogue[info.permission] = info
    return catalogue


def describe_permission(permission: str) -> PermissionInfo:
    """The catalogue's entry, or a plain placeholder for a permission it does not list."""
    known = permission_catalogue().get(permission)
    if known is not None:
        return known
    short = permission.rsplit(".", 1)[-1]
    return PermissionInfo(
        permission=permission,
        name_zh=short,
        meaning_zh="未收录的权限",
        meaning_en="a permission this catalogue does not describe",
        protection="unknown",
        sensitive=False,
        source="",
    )


def sensitive_permissions(permissions: Iterable[str]) -> tuple[PermissionInfo, ...]:
    """The sensitive ones among `permissions`, in catalogue order."""
    requested = set(permissions)
    return tuple(
        info
        for name, info in permission_catalogue().items()
        if info.sensitive and name in requested
    )
