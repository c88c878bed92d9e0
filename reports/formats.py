"""Every report format by the name `--format` selects it with."""

from __future__ import annotations

from reports.html_format import HtmlFormat
from reports.interface import ReportFormat
from reports.json_format import JsonFormat
from reports.table_format import CsvFormat, XlsxFormat

FORMATS: dict[str, type[ReportFormat]] = {
    cls.name: cls for cls in (HtmlFormat, JsonFormat, CsvFormat, XlsxFormat)
}

DEFAULT_FORMATS = ("html", "json", "csv")
