"""No English on a Chinese command line: help, usage mistakes, errors and summaries.

Each command runs as a user types it with APPAUDIT_LANG unset; what it prints may hold
codes (rule ids, option names, file names, package names, URLs, format values) but no
English word. The same commands with APPAUDIT_LANG=en do speak English.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appaudit.cli import app

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

CODES = {
    "appaudit", "python", "registry", "scan", "rules", "runs", "apk", "inspect", "import",
    "add", "edit", "show", "list", "revoke", "restore", "adopt", "unadopt", "adoptions",
    "history", "export", "signer", "table", "json", "csv", "html", "xlsx", "never", "high",
    "medium", "review", "info", "entries", "sqlite", "postgresql", "psycopg", "sqlalchemy",
    "appid", "toml", "sdk", "iana", "asia", "shanghai", "root", "vendor", "category",
    "prefixes", "source", "report", "disabled", "severity", "thresholds", "app", "miniprogram",
    "channels", "platform", "ledger", "waive", "waivers", "update", "close", "dismiss",
    "open", "in_progress", "to_verify", "closed", "dismissed", "notice", "due_days",
}  # fmt: skip
"""Words that are codes here: commands, option values and kinds, CSV columns in the help, a
default folder name (appaudit-report), the keys of appaudit.toml, the OS user as the change
log's actor."""


def english_words(text: str) -> list[str]:
    """ASCII words of three letters or more, once codes, names and addresses are set aside."""
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"(?<!\w)--?[\w-]+", " ", text)  # options
    text = re.sub(r"[\w.+-]*[/\\][\w./\\+-]*", " ", text)  # paths
    text = re.sub(r"\b\w+(?:[._]\w+)+\b", " ", text)  # packages, file names, dotted codes
    text = re.sub(r"\b[A-Z0-9-]{2,}\b", " ", text)  # rule ids, abbreviations
    text = re.sub(r"SQLAlchemy|SQLite|PostgreSQL|AppID", " ", text)  # names of products
    text = re.sub(r"(?<![A-Za-z])[A-Z]{2,}(?![a-z])", " ", text)  # ICP备案号, APP …
    text = re.sub(r"\b(?:gh|wx|sph)\w+", " ", text)
    words = re.findall(r"[A-Za-z]{3,}", text)
    return sorted({w for w in words if w.lower() not in CODES})


def test_the_checker_finds_english_and_passes_codes() -> None:
    assert english_words("appaudit：错误：no such option: --db") == ["option", "such"]
    assert (
        english_words("没有 --bogus 这个选项；见 https://example.org/x 和 a2dp.Vol_137.apk") == []
    )
    assert english_words("NON-EDU-APP 教APP备1100819号 com.hicorenational.antifraud gh_1a") == []


def _environment(lang: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APPAUDIT_LANG", "APPAUDIT_DB")}
    if lang:
        env["APPAUDIT_LANG"] = lang
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with the examples, and the broken files a user might hand over."""
    tmp = tmp_path_factory.mktemp("words")
    database = str(tmp / "registry.db")
    for name in ("registry.csv", "adoptions.csv"):
        done = CliRunner().invoke(
            app, ["registry", "import", str(EXAMPLES / name), "--db", database]
        )
        assert done.exit_code == 0, done.stderr
    (tmp / "bad.apk").write_bytes(b"not an apk")
    (tmp / "bad.toml").write_text("[rules\n", "utf-8")
    (tmp / "bad-rule.toml").write_text('[rules]\ndisabled = ["NO-SUCH-RULE"]\n', "utf-8")
    (tmp / "kinds.csv").write_text("名称,类型,包名\n示例作业,火箭,org.example.zuoye\n", "utf-8")
    (tmp / "taken").write_text("someone's file", "utf-8")
    return tmp


def _cases(folder: Path) -> dict[str, list[str]]:
    db = ["--db", str(folder / "registry.db")]
    submission = str(EXAMPLES / "submission.csv")
    out = ["--out", str(folder / "out")]
    return {
        # Mistakes typer finds before a command runs.
        "unknown option": ["--bogus"],
        "unknown command": ["registry", "li"],
        "missing argument": ["scan"],
        "not a number": ["scan", "-j", "0", submission],
        "option without its value": ["registry", "list", "--db"],
        "extra argument": ["registry", "list", "多余"],
        # Errors of the input or the environment.
        "missing file": ["scan", str(folder / "缺少.csv"), *db, *out],
        "missing APK": ["apk", "inspect", str(folder / "缺少.apk")],
        "unreadable APK": ["apk", "inspect", str(folder / "bad.apk")],
        "broken configuration": ["rules", "--config", str(folder / "bad.toml")],
        "unknown rule in the configuration": ["rules", "--config", str(folder / "bad-rule.toml")],
        "no such entry": ["registry", "show", "不存在的应用", *db],
        "rejected rows": ["registry", "import", str(folder / "kinds.csv"), *db],
        "output in the way": ["scan", submission, *db, "--out", str(folder / "taken")],
        "unknown format": ["scan", submission, *db, *out, "--format", "表格"],
        # What a command says when it works.
        "registry list": ["registry", "list", *db],
        "registry show": ["registry", "show", "巧考", *db],
        "rules": ["rules"],
        "scan": ["scan", submission, *db, *out],
    }


CASES = list(_cases(Path("x")))


@pytest.mark.parametrize("case", CASES)
def test_chinese_by_default(case: str, folder: Path) -> None:
    args = _cases(folder)[case]
    done = CliRunner().invoke(app, args, env={"APPAUDIT_LANG": "", "COLUMNS": "200"})
    said = done.stdout + done.stderr
    assert said.strip(), case
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert english_words(said) == [], said
    assert re.search(r"[\u4e00-\u9fff]", said), said


EN_SAYS = {
    "unknown option": "no such option: --bogus",
    "unknown command": "no such command: li (did you mean list?)",
    "missing argument": "missing argument: FILES",
    "not a number": "'0' is not a whole number of at least 1",
    "option without its value": "option --db needs a value",
    "extra argument": "unexpected extra argument(s): 多余",
    "broken configuration": "not valid TOML",
    "unknown rule in the configuration": "unknown rule NO-SUCH-RULE in [rules] disabled",
    "unreadable APK": "the file is damaged or not an APK",
    "output in the way": "refusing to replace",
}


@pytest.mark.parametrize("case", list(EN_SAYS))
def test_english_when_asked(case: str, folder: Path) -> None:
    args = _cases(folder)[case]
    done = CliRunner().invoke(app, args, env={"APPAUDIT_LANG": "en", "COLUMNS": "200"})
    said = done.stdout + done.stderr
    assert EN_SAYS[case] in said, said
    assert not re.search(r"[\u4e00-\u9fff]{3,}", said.replace("多余", "")), said


def test_usage_mistakes_keep_exit_code_2(folder: Path) -> None:
    for case in ("unknown option", "missing argument", "not a number", "extra argument"):
        done = CliRunner().invoke(app, _cases(folder)[case], env={"APPAUDIT_LANG": ""})
        assert done.exit_code == 2, case


HELP_PROBE = """
import json, sys
from typer.main import get_command
from typer.testing import CliRunner
from appaudit.cli import app

def paths(command, prefix):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from paths(sub, [*prefix, name])

out = {}
for path in paths(get_command(app), []):
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    out[" ".join(path)] = done.stdout
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.parametrize(("lang", "english"), [(None, False), ("en", True)])
def test_every_help_screen(lang: str | None, english: bool) -> None:
    # Help text is chosen when the command line is built: a fresh process per language.
    done = subprocess.run(
        [sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, check=True,
        env=_environment(lang), cwd=REPO, timeout=120,
    )  # fmt: skip
    screens: dict[str, str] = json.loads(done.stdout)
    assert len(screens) > 15
    for path, text in screens.items():
        if english:
            assert "Usage:" in text and "Options" in text, path
        else:
            assert "用法：" in text and "选项" in text, path
            assert english_words(text) == [], (path, text)


def test_english_findings_read_as_english(folder: Path) -> None:
    out = folder / "en-report"
    db = ["--db", str(folder / "registry.db")]
    done = CliRunner().invoke(
        app,
        ["scan", str(EXAMPLES / "submission.csv"), *db, "--out", str(out), "-f", "json"],
        env={"APPAUDIT_LANG": "en"},
    )
    assert done.exit_code == 1, done.stderr
    report = json.loads((out / "findings.json").read_text("utf-8"))
    messages = [f["message"] for s in report["schools"] for f in s["findings"]]
    wrong = [m for m in messages if re.search(r"\ba [aeiou]|\ban [^aeiou\W]|\w+, \w+ are", m)]
    assert wrong == []
    assert any("is an official account unrelated to teaching" in m for m in messages)
