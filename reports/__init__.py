"""Renderers of scan results: HTML (per school and district index), JSON, CSV, XLSX.

The names below are loaded when first used, so that a command which only needs a light
module of the package (the spreadsheet writers of the registry export, say) does not load
the HTML templates.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "DEFAULT_FORMATS": "reports.formats",
    "FORMATS": "reports.formats",
    "LANGUAGES": "reports.text",
    "MARKER": "reports.writer",
    "ReportError": "reports.interface",
    "ReportFormat": "reports.interface",
    "write_reports": "reports.writer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'reports' has no attribute {name!r}")
    return getattr(import_module(module), name)
