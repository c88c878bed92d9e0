"""A scan survives every hostile APK: each bad row says why, the others are analysed.

Also: the APK budget in appaudit.toml reaches the workers, and no worker outlives a scan
that is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import apkfactory
import hostileapks
import pytest
from tablefactory import write_csv
from typer.testing import CliRunner, Result

from appaudit.cli import app

REPO = Path(__file__).resolve().parents[2]
REGISTRY = ["--registry", str(REPO / "examples" / "registry.csv")]
HEADER = ["学校", "类型", "名称", "包名", "要求对象", "要求内容", "安装包"]
GOOD = "cn.edu.example.good"
BUDGET = "[apk]\nmemory_mb = 100\nseconds = 3\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def hostile_folder(folder: Path) -> dict[str, str]:
    """Each hostile APK the readers or the budgets must stop; file name -> expected reason."""
    folder.mkdir()
    h = hostileapks
    h.end_element_apk(folder / "end-element.apk")
    h.deep_manifest_apk(folder / "deep.apk")
    h.manifest_apk(folder / "overlap.apk", h.pool_of_overlapping_strings())
    h.one_string_many_types(folder / "dex-only.apk", manifest=False)
    # Within every cap, but more than the budgets of BUDGET allow.
    h.slow_apk(folder / "hungry.apk", dex_mb=200, copies=1)
    h.slow_apk(folder / "slow.apk", dex_mb=20, copies=256, salt="slow")
    (folder / "empty.apk").write_bytes(b"")
    return {
        "end-element.apk": "has a corrupt chunk at byte 172",
        "deep.apk": "nests elements more than 256 deep",
        "overlap.apk": "string pool is corrupt (its strings overlap)",
        "dex-only.apk": "no AndroidManifest.xml",
        "hungry.apk": "needed more than 100 MB (the memory budget per APK)",
        "slow.apk": "took longer than 3 s (the time budget per APK)",
        "empty.apk": "not a zip archive (the file is empty)",
    }


def test_scan_of_every_hostile_apk_completes(tmp_path: Path) -> None:
    unreadable = hostile_folder(tmp_path / "apks")
    readable = {  # hostile parts inside an APK whose manifest is fine: read, with a problem
        "many-dex.apk": "the APK has 20000 DEX files, more than the cap of 256",
        "one-string.apk": "",
        "short-type.apk": "resources.arsc has a corrupt chunk",
        "long-package.apk": "names components of more than 4000000 characters",
    }
    apks = tmp_path / "apks"
    hostileapks.many_dex_entries(apks / "many-dex.apk", types=300)
    hostileapks.one_string_many_types(apks / "one-string.apk")
    hostileapks.short_type_chunk_apk(apks / "short-type.apk")
    hostileapks.manifest_apk(apks / "long-package.apk", hostileapks.long_package_many_components())
    apkfactory.simple_apk(apks / "good.apk", GOOD, label="好应用")
    rows = [["一中", "APP", name, "", "学生", "下载安装", f"apks/{name}"] for name in unreadable]
    rows += [["一中", "APP", name, "", "学生", "下载安装", f"apks/{name}"] for name in readable]
    rows.append(["一中", "APP", "好应用", GOOD, "学生", "下载安装", "apks/good.apk"])
    submission = write_csv(tmp_path / "school.csv", [HEADER, *rows], "utf-8-sig")
    config = tmp_path / "appaudit.toml"
    config.write_text(BUDGET, encoding="utf-8")
    out = tmp_path / "report"

    started = time.monotonic()
    result = run("scan", str(submission), "--out", str(out), *REGISTRY, "--jobs", "1",
                 "--config", str(config), "--format", "html,json,csv")  # fmt: skip
    elapsed = time.monotonic() - started

    assert result.exit_code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    findings = [f for s in doc["schools"] for f in s["findings"]]
    by_item: dict[str, list[dict[str, object]]] = {}
    for finding in findings:
        by_item.setdefault(str(finding["item"]), []).append(finding)
    for name, reason in unreadable.items():
        found = [f for f in by_item[name] if f["rule"] == "APK-UNREADABLE"]
        assert len(found) == 1, (name, by_item[name])
        assert reason in str(found[0]["evidence"]["reason"]), (name, found[0])  # type: ignore[index]
    # Code left unread (SDKs in it would go unseen) is said as well; other odd parts are not.
    (partly,) = [f for f in by_item["many-dex.apk"] if f["rule"] == "APK-UNREADABLE"]
    assert "only part of its code could be read" in str(partly["evidence"]["reason"])  # type: ignore[index]
    for name in ["one-string.apk", "short-type.apk", "long-package.apk", "好应用"]:
        assert not [f for f in by_item.get(name, []) if f["rule"] == "APK-UNREADABLE"], name
    good = [f for f in by_item["好应用"] if f["rule"] == "APK-UNSIGNED"]
    assert good and good[0]["evidence"]["package"] == GOOD  # type: ignore[index]
    assert (out / "index.html").is_file() and (out / "findings.csv").is_file()
    page = next((out / "schools").glob("*.html")).read_text("utf-8")
    for reason in readable.values():
        assert reason in page
    # The slow APK was stopped at its budget, not read for the 10 s it would take.
    assert elapsed < 60


def test_apk_inspect_uses_a_worker_and_the_budget(tmp_path: Path) -> None:
    hungry = hostileapks.slow_apk(tmp_path / "hungry.apk", dex_mb=200, copies=1)
    good = apkfactory.simple_apk(tmp_path / "good.apk", GOOD)
    config = tmp_path / "budget.toml"
    config.write_text(BUDGET, encoding="utf-8")
    result = run("apk", "inspect", str(hungry), str(good), "--json", "--jobs", "1",
                 "--config", str(config))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts[0]["readable"] is False
    assert facts[0]["problems"] == [
        "the analysis needed more than 100 MB (the memory budget per APK) and was stopped"
    ]
    assert facts[0]["sha256"] and facts[0]["size"] == hungry.stat().st_size
    assert facts[1]["readable"] is True and facts[1]["package"] == GOOD


# --------------------------------------------------------------------------- killed scans


def children_of(pid: int) -> set[int]:
    """Every live process whose parent is `pid`, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_a_killed_scan(tmp_path: Path) -> None:
    apks = tmp_path / "apks"
    apks.mkdir()
    rows = []
    for n in range(4):
        hostileapks.slow_apk(apks / f"slow{n}.apk", dex_mb=100, copies=40, salt=str(n))
        rows.append(["一中", "APP", f"慢{n}", "", "学生", "下载安装", f"apks/slow{n}.apk"])
    submission = write_csv(tmp_path / "school.csv", [HEADER, *rows], "utf-8-sig")
    scan = subprocess.Popen(
        [sys.executable, "-m", "appaudit", "scan", str(submission), "--out",
         str(tmp_path / "report"), *REGISTRY, "--jobs", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )  # fmt: skip
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and scan.poll() is None:
            time.sleep(0.2)
            workers = {p for p in children_of(scan.pid) if b"multiprocessing" in _cmdline(p)}
        assert len(workers) >= 2, "the scan never started its workers"
        time.sleep(2)  # well into the analysis of an APK that takes many seconds
        assert all(running(p) for p in workers), "the workers ended before the kill"
        everything = children_of(scan.pid)
        os.kill(scan.pid, signal.SIGKILL)
        scan.wait(10)
        deadline = time.monotonic() + 5
        while any(running(p) for p in everything) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [p for p in everything if running(p)]
        assert not survivors, f"processes outlived the killed scan: {survivors}"
    finally:
        if scan.poll() is None:
            scan.kill()
            scan.wait(10)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
