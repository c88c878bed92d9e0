"""A finding's evidence as short labelled facts in the report's language.

`findings.json` keeps the evidence as machine-readable data (DESIGN §5); pages, CSV and XLSX
show it through `facts`, with labels and values from `templates/evidence.toml`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from policies.model import Finding


@cache
def _catalogue() -> dict[str, Any]:
    text = resources.files("reports").joinpath("templates/evidence.toml").read_text("utf-8")
    return tomllib.loads(text)


def label(key: str, lang: str) -> str:
    """The label of an evidence key in `lang` (the key itself when the catalogue lacks it)."""
    found = _catalogue()["labels"].get(key)
    return str(found[lang]) if found else key


def value(raw: Any, lang: str) -> str:
    """A value in words: yes/no, none, lists joined, nested facts inline."""
    words = _catalogue()["values"]
    if raw is None or raw == "":
        return str(words["none"][lang])
    if isinstance(raw, bool):
        return str(words["yes" if raw else "no"][lang])
    if isinstance(raw, Mapping):
        sep = "，" if lang == "zh" else ", "
        colon = "：" if lang == "zh" else ": "
        return sep.join(f"{label(k, lang)}{colon}{value(v, lang)}" for k, v in raw.items())
    if isinstance(raw, list | tuple):
        sep = "；" if lang == "zh" else "; "
        return sep.join(value(v, lang) for v in raw)
    text = str(raw)
    coded = words.get("codes", {}).get(text)
    return str(coded[lang]) if coded else text


def facts(finding: Finding, lang: str) -> list[tuple[str, str]]:
    """(label, value) for each fact of the finding's evidence, in the evidence's order."""
    return [(label(k, lang), value(v, lang)) for k, v in finding.evidence.items()]


def as_text(finding: Finding, lang: str) -> str:
    """The facts on one line, for a spreadsheet cell."""
    colon, sep = ("：", "；") if lang == "zh" else (": ", "; ")
    return sep.join(f"{k}{colon}{v}" for k, v in facts(finding, lang))
