"""Renderers of scan results: HTML (per school and district index), JSON, CSV, XLSX."""

from reports.formats import DEFAULT_FORMATS, FORMATS
from reports.interface import ReportError, ReportFormat
from reports.text import LANGUAGES
from reports.writer import MARKER, write_reports

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "LANGUAGES",
    "MARKER",
    "ReportError",
    "ReportFormat",
    "write_reports",
]
