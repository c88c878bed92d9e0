"""Every format name maps to a writer; options and interface words are checked up front."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest
import resultfactory

from reports import DEFAULT_FORMATS, FORMATS, LANGUAGES, ReportError, ReportFormat, write_reports
from reports.text import strings

MAIN_FILE = {
    "html": "index.html",
    "json": "findings.json",
    "csv": "findings.csv",
    "xlsx": "findings.xlsx",
}


def test_the_four_formats_and_the_defaults() -> None:
    assert set(FORMATS) == set(MAIN_FILE)
    assert DEFAULT_FORMATS == ("html", "json", "csv")
    assert set(DEFAULT_FORMATS) <= set(FORMATS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_name_maps_to_an_implementation_that_writes_its_file(
    name: str, tmp_path: Path
) -> None:
    cls = FORMATS[name]
    assert issubclass(cls, ReportFormat)
    assert cls.name == name
    written = cls().write(resultfactory.realistic_result(), tmp_path, "zh")
    assert written[0] == tmp_path / MAIN_FILE[name]
    for path in written:
        assert path.is_file() and path.stat().st_size > 0
        assert tmp_path in path.parents
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [MAIN_FILE[name]]


def test_an_unknown_format_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ReportError, match=r"unknown report format 'pdf'.*html"):
        write_reports(resultfactory.realistic_result(), out, formats=("html", "pdf"))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_language_is_refused(tmp_path: Path) -> None:
    result = resultfactory.realistic_result()
    with pytest.raises(ReportError, match="unknown report language 'fr'"):
        write_reports(result, tmp_path / "out", lang="fr")
    assert list(tmp_path.iterdir()) == []
    for cls in FORMATS.values():
        with pytest.raises(ReportError, match="'fr'"):
            cls().write(result, tmp_path, "fr")


def _strings_file() -> dict[str, dict[str, object]]:
    text = resources.files("reports").joinpath("templates/strings.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_every_language_has_the_same_interface_words() -> None:
    raw = _strings_file()
    assert set(raw) == set(LANGUAGES)

    def keys(table: dict[str, object], prefix: str = "") -> set[str]:
        found = set()
        for key, value in table.items():
            if isinstance(value, dict):
                found |= keys(value, f"{prefix}{key}.")
            else:
                found.add(prefix + key)
        return found

    zh, en = (keys(raw[lang]) for lang in LANGUAGES)
    assert zh == en
    assert {"kinds.app", "kinds.miniprogram", "kinds.official_account"} <= zh


def test_every_word_the_templates_and_code_use_exists() -> None:
    package = resources.files("reports")
    used: set[str] = set()
    for entry in package.joinpath("templates").iterdir():
        if entry.name.endswith(".j2"):
            used |= set(re.findall(r"\bt\.(\w+)", entry.read_text("utf-8")))
    for entry in package.iterdir():
        if entry.name.startswith(("html_", "apk_")) and entry.name.endswith(".py"):
            used |= set(
                re.findall(
                    r"""\b(?:s|strings\(lang\))\[["'](\w+)["']\]""", entry.read_text("utf-8")
                )
            )
    assert len(used) > 40
    for lang in LANGUAGES:
        missing = used - set(strings(lang).words)
        assert not missing, f"{lang}: {sorted(missing)}"
