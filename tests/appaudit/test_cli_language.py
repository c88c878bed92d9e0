"""The command line speaks Chinese by default and English when asked, from one catalogue."""

from __future__ import annotations

import os
import pickle
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from appaudit.cli import app
from appaudit.errors import AppauditError, Message
from appaudit.messages import catalogue
from registry.values import InvalidValue, parse_kind

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CODE = REPO / "appaudit"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env)


EN = {"APPAUDIT_LANG": "en"}


@pytest.fixture
def filled(sqlite_url: str) -> str:
    for name in ("registry.csv", "adoptions.csv"):
        result = run("registry", "import", str(EXAMPLES / name), "--db", sqlite_url)
        assert result.exit_code == 0, result.stderr
    run("registry", "revoke", "巧考", "--db", sqlite_url)
    return sqlite_url


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("section", ["help", "text"])
def test_every_message_exists_in_both_languages(section: str) -> None:
    for key, texts in catalogue()[section].items():
        assert set(texts) == {"zh", "en"}, key
        assert texts["zh"].strip() and texts["en"].strip(), key
        # Either language may leave out what its sentence already says (a row number the
        # reason names), but neither may ask for a value the other is not given.
        names = placeholders(texts["zh"]) | placeholders(texts["en"])
        values = {name.split(".")[0]: Message("x", "x") for name in names}
        for lang in ("zh", "en"):
            if "{task." in texts[lang] or "{}" in texts[lang]:
                continue  # filled in by the progress bar or the help screen, not by us
            texts[lang].format(**{k: v.text(lang) for k, v in values.items()})


def test_every_message_the_code_asks_for_is_in_the_catalogue() -> None:
    asked: dict[str, set[str]] = {"help": set(), "text": set()}
    for path in CODE.rglob("*.py"):
        source = path.read_text("utf-8")
        asked["help"] |= set(re.findall(r"\bh\(\s*\"([a-z_0-9-]+)\"", source))
        asked["text"] |= set(re.findall(r"\b[tm]\(\s*\"([a-z_0-9-]+)\"", source))
    for section, keys in asked.items():
        assert keys, section
        missing = keys - set(catalogue()[section])
        assert not missing, f"{section}: {sorted(missing)}"
    text = catalogue()["text"]
    # Keys the code builds: progress stages, change-log actions, what an import holds.
    stages = ("reading", "registry", "rules", "history", "reports")
    actions = ("add", "edit", "import", "revoke", "restore", "add-signer", "adopt", "unadopt",
               "update-adoption")  # fmt: skip
    built = [f"stage_{s}" for s in stages] + [f"action_{a}" for a in actions]
    built += ["what_entries", "what_adoptions"]
    assert [k for k in built if k not in text] == []


def test_chinese_registry_list_by_default(filled: str) -> None:
    result = run("registry", "list", "--db", filled)
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header == ["编号", "名称", "类型", "备案号", "备案状态", "准入状态", "标识", "类别"]
    rows = {line.split()[1]: line for line in result.stdout.splitlines()[2:]}
    assert "撤销" in rows["巧考"] and "公众号" in rows["示例区教育局"]
    assert "official_account" not in result.stdout and "revoked" not in result.stdout
    assert result.stderr.strip() == "共 25 条"


def test_english_registry_list_with_appaudit_lang(filled: str) -> None:
    for result in (run("registry", "list", "--db", filled, env=EN),
                   run("registry", "list", "--db", filled, "--lang", "en")):  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert result.stdout.splitlines()[0].split()[:3] == ["id", "name", "kind"]
        rows = {line.split()[1]: line for line in result.stdout.splitlines()[2:]}
        assert "revoked" in rows["巧考"] and "official account" in rows["示例区教育局"]
        assert result.stderr.strip() == "25 entries"


def test_a_command_language_option_wins_over_the_environment(filled: str) -> None:
    chinese = run("registry", "list", "--db", filled, "--lang", "zh", env=EN)
    assert chinese.stderr.strip() == "共 25 条"


def test_an_error_in_chinese_and_in_english(filled: str) -> None:
    zh = run("registry", "show", "不存在的应用", "--db", filled)
    assert zh.exit_code == 2 and zh.stdout == ""
    assert zh.stderr == (
        "appaudit：错误：登记表中没有与“不存在的应用”相符的条目（请给出编号、备案号、包名、"
        "账号ID或完整名称；可用 `appaudit registry list --search` 查找）\n"
    )
    en = run("registry", "show", "不存在的应用", "--db", filled, env=EN)
    assert en.exit_code == 2
    assert en.stderr.startswith("appaudit: error: no registry entry matches '不存在的应用'")


def test_an_import_reports_rejected_rows_in_chinese(sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "entries.csv"
    path.write_text("名称,类型,包名\n示例作业,火箭,org.example.zuoye\n", "utf-8")
    result = run("registry", "import", str(path), "--db", sqlite_url)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "entries.csv：第2行：未通过：无法识别的类型“火箭”（应为 APP、小程序、公众号、视频号、平台，"
        "或 app, miniprogram, official_account, channels, platform）",
        "登记条目：新增 0，更新 0，未变 0，未通过 1；未导入任何内容（请改正这些行，或使用 --skip-invalid）",
    ]


def test_the_scan_summary_in_chinese_and_in_english(filled: str, tmp_path: Path) -> None:
    submission = str(EXAMPLES / "submission.csv")
    zh = run("scan", submission, "--out", str(tmp_path / "zh"), "--db", filled)
    assert zh.exit_code == 1, zh.stderr
    summary, ledger, report = zh.stderr.splitlines()
    assert re.fullmatch(
        r"问题台账：新增 \d+ 项，持续 0 项，拟销号 0 项，复发 0 项，逾期 0 项", ledger
    )
    assert re.fullmatch(
        r"已核查 1 个文件共 27 行：4 所学校，发现问题 高 \d+、中 \d+、需人工研判 0、提示 \d+，"
        r"填报问题 1 处",
        summary,
    ), summary
    assert report == f"报告：{tmp_path / 'zh' / 'index.html'}"
    en = run("scan", submission, "--out", str(tmp_path / "en"), "--db", filled, env=EN)
    summary, ledger, report = en.stderr.splitlines()
    assert re.fullmatch(
        r"ledger: 0 new, \d+ continuing, 0 to verify, 0 reopened, 0 overdue", ledger
    )
    assert re.fullmatch(
        r"scanned 27 rows of 1 file\(s\): 4 schools, findings \d+ high, \d+ medium, "
        r"0 needs review, \d+ info, 1 input problem\(s\)",
        summary,
    ), summary
    assert report.startswith("report: ")


def test_help_is_chinese_by_default_and_english_when_asked() -> None:
    def help_text(*args: str, lang: str | None) -> str:
        env = {k: v for k, v in os.environ.items() if k != "APPAUDIT_LANG"}
        if lang:
            env["APPAUDIT_LANG"] = lang
        env["COLUMNS"] = "200"
        done = subprocess.run(
            [sys.executable, "-m", "appaudit", *args, "--help"],
            capture_output=True, text=True, env=env, check=True, cwd=REPO,
        )  # fmt: skip
        return done.stdout

    zh = help_text("registry", "list", lang=None)
    assert "列出登记条目" in zh and "选项" in zh and "显示此帮助并退出" in zh
    assert "Show this message" not in zh and "Only this kind" not in zh
    en = help_text("registry", "list", lang="en")
    assert "List entries" in en and "Options" in en and "Only this kind" in en
    assert "列出登记条目" not in en
    assert "核查学校" in help_text(lang=None)


def test_domain_errors_keep_both_languages_across_processes() -> None:
    with pytest.raises(InvalidValue) as raised:
        parse_kind("火箭")
    error = pickle.loads(pickle.dumps(raised.value))
    assert isinstance(error, InvalidValue) and isinstance(error, AppauditError)
    assert error.text("zh").startswith("无法识别的类型“火箭”")
    assert str(error).startswith("unknown kind '火箭'")
    assert AppauditError("plain").text("zh") == "plain"  # a room without words of its own


def test_a_system_error_is_said_in_words_with_its_file() -> None:
    """A full disk or a refused folder, as the command line says it (one line, exit 2)."""
    from appaudit.cli.common import error_message

    full = error_message(OSError(28, "No space left on device", "/data/report/schools/a.html"))
    assert full.text("zh") == "磁盘空间已满：/data/report/schools/a.html"
    assert full.text("en") == "No space left on device: /data/report/schools/a.html"
    assert error_message(PermissionError(13, "Permission denied")).text("zh") == "没有权限"
    assert error_message(OSError(71, "Protocol error")).text("zh") == "Protocol error"  # unlisted
