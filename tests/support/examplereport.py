"""The bundled example district scanned end to end, as the README's quick start does it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from appaudit.cli import app
from policies.model import catalogue
from reports.text import strings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_SCHOOLS = ("示例实验小学", "示例第二中学", "示例第三小学", "示例第四中学")
SUBMISSION = EXAMPLES / "submission.csv"


def run(*args: str) -> Result:
    """`appaudit ARGS` in this process, its output captured."""
    return CliRunner().invoke(app, list(args))


def filled(db_url: str) -> str:
    """The database at `db_url` with the example registry and adoptions imported."""
    for name in ("registry.csv", "adoptions.csv"):
        result = run("registry", "import", str(EXAMPLES / name), "--db", db_url)
        assert result.exit_code == 0, result.stderr
    return db_url


def scan_examples(home: Path, *extra: str) -> Path:
    """Import the example registry and adoptions into a database in `home`, scan the example
    submission against it and return the report folder. The user's own database, settings
    and data folders are left alone."""
    database = f"sqlite:///{home / 'example.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.delenv("APPAUDIT_DB", raising=False)
        env.delenv("APPAUDIT_LANG", raising=False)
        for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            env.setenv(name, str(home / name.lower()))
        env.chdir(home)
        runner = CliRunner()
        for name in ("registry.csv", "adoptions.csv"):
            done = runner.invoke(
                app, ["registry", "import", str(EXAMPLES / name), "--db", database]
            )
            assert done.exit_code == 0, done.output
        out = home / "report"
        done = runner.invoke(
            app,
            [
                "scan",
                str(EXAMPLES / "submission.csv"),
                "--db",
                database,
                "--out",
                str(out),
                "--fail-on",
                "never",
                *extra,
            ],
        )
        assert done.exit_code == 0, done.output
    return out


ALLOWED_WORDS = frozenset({"APP", "AppID", "appaudit"})
"""Words Chinese documents and the report use as they are: the notice itself writes APP, WeChat
writes AppID, and the footer names the tool."""
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.:/-]*")
_HEX = re.compile(r"\b[0-9a-f]{32,}\b")


def input_words() -> set[str]:
    """Every word of the example input a page may repeat as it is: names, package names,
    IDs, addresses and file names of the submission and the registry — and the words
    Chinese documents write in Latin letters themselves."""
    found: set[str] = set(ALLOWED_WORDS)
    for name in ("submission.csv", "registry.csv", "adoptions.csv"):
        raw = (EXAMPLES / name).read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
        found |= set(_WORD.findall(text))
        found.add(name)
    return found


def texts(node: Any) -> Iterator[str]:
    """The text nodes of a parsed page a reader sees (not those of scripts and styles)."""
    if node.tag in ("style", "script", "title"):
        return
    for child in node.children:
        if isinstance(child, str):
            yield child
        else:
            yield from texts(child)


def registry_words(page: Any) -> set[str]:
    """The words of the registry's name in the page's footer: the user named that database."""
    footer = page.find("footer")
    labels = [dt.text() for dt in footer.find_all("dt")]
    return set(_WORD.findall(footer.find_all("dd")[labels.index(strings("zh")["registry"])].text()))


def english_words(page: Any, allowed: set[str]) -> set[str]:
    """Runs of three or more Latin letters a reader sees, outside the allowed identifiers,
    web addresses, rule codes and hashes."""
    flagged = set()
    for text in texts(page):
        for word in _WORD.findall(_HEX.sub("", text)):
            word = word.rstrip(".:/-")
            if not re.search(r"[A-Za-z]{3,}", word) or word in catalogue().rules:
                continue
            if word.startswith(("http://", "https://")):
                continue  # an address, written as it is
            if word in allowed or any(word in a for a in allowed):
                continue
            flagged.add(word)
    return flagged
