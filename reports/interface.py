"""The interface every report format implements, and the error the report writers raise."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from appaudit.errors import AppauditError
from policies.results import ScanResult


class ReportError(AppauditError):
    """A report cannot be written as asked (bad option, or an output folder not ours to replace)."""


class ReportFormat(ABC):
    """One kind of output (html, json, csv, xlsx) written from a scan result into a folder."""

    name: ClassVar[str]
    """The value of `--format` that selects it."""

    @abstractmethod
    def write(self, result: ScanResult, out_dir: Path, lang: str) -> list[Path]:
        """Write this format's files into `out_dir` (which exists) and return their paths.

        `lang` is one of `reports.text.LANGUAGES`; an unknown one raises `ReportError`.
        """
