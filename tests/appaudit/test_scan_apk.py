"""APKs named by submissions, end to end: built APKs, a real HTTP server, the cache, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import apkfactory
import pytest
from httpfolder import serve_folder
from tablefactory import write_csv
from typer.testing import CliRunner, Result

from appaudit.cli import app

PACKAGE = "cn.edu.example.zuoye"
HEADER = ["学校", "类型", "名称", "包名", "备案号", "要求对象", "要求内容", "安装包"]
PANGLE = "com.bytedance.sdk.openadsdk.TTAdSdk"
GDT = "com.qq.e.ads.nativ.NativeUnifiedAD"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def keys() -> dict[str, apkfactory.SigningKey]:
    return {
        "genuine": apkfactory.signing_key("示例作业科技", organisation="Example Edu"),
        "other": apkfactory.signing_key("Repackager", organisation="Somebody"),
    }


def make_apk(path: Path, key: apkfactory.SigningKey | None, *, package: str = PACKAGE,
             classes: tuple[str, ...] = (), permissions: tuple[str, ...] = ()) -> Path:  # fmt: skip
    main = f"{package}.MainActivity"
    return apkfactory.build_apk(
        path,
        manifest_xml=apkfactory.manifest(
            package, label="示例作业", activities=[main], permissions=permissions
        ),
        dex=[apkfactory.dex_file([main, *classes])],
        signer=key,
    )


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving one folder; anything else is 404."""
    root = tmp_path / "www"
    root.mkdir()

    with serve_folder(root) as base:
        yield base, root


@pytest.fixture
def registry(sqlite_url: str, tmp_path: Path, keys: dict[str, apkfactory.SigningKey]) -> str:
    """A registry with one filed, district-adopted app whose genuine signer is known."""
    genuine = make_apk(tmp_path / "genuine" / "zuoye.apk", keys["genuine"])
    ok = lambda *a: run(*a, "--db", sqlite_url)  # noqa: E731
    assert ok("registry", "add", "--name", "示例作业", "--kind", "APP", "--package", PACKAGE,
              "--filing-no", "教APP备9900001号", "--category", "教学").exit_code == 0  # fmt: skip
    assert (
        ok("registry", "adopt", "全区", PACKAGE, "--decision", "区教育局〔2024〕12号").exit_code
        == 0
    )
    result = ok("registry", "add-signer", PACKAGE, "--from-apk", str(genuine))
    assert result.exit_code == 0, result.stderr
    return sqlite_url


def scan(db: str, submission: Path, out: Path, *extra: str) -> tuple[Result, dict[str, list]]:
    result = run("scan", str(submission), "--out", str(out), "--db", db, "--fail-on", "never",
                 "--jobs", "2", *extra)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    doc = json.loads((out / "findings.json").read_text("utf-8"))
    by_row: dict[str, list] = {}
    for school in doc["schools"]:
        for finding in school["findings"]:
            by_row.setdefault(str(finding["row"]), []).append(finding["rule"])
    return result, by_row


def test_apks_in_a_submission(
    registry: str, tmp_path: Path, keys: dict[str, apkfactory.SigningKey],
    http_server: tuple[str, Path],
) -> None:  # fmt: skip
    base, www = http_server
    folder = tmp_path / "school"
    make_apk(folder / "apks" / "genuine.apk", keys["genuine"])
    make_apk(folder / "apks" / "repackaged.apk", keys["other"])
    make_apk(folder / "apks" / "ads.apk", keys["genuine"], classes=(PANGLE, GDT))
    make_apk(folder / "apks" / "fake.apk", keys["other"], package="com.example.fake")
    make_apk(folder / "apks" / "unsigned.apk", None)
    (folder / "apks" / "broken.apk").write_bytes(b"this is not a zip file")
    make_apk(www / "download.apk", keys["genuine"],
             permissions=("android.permission.ACCESS_FINE_LOCATION",))  # fmt: skip
    shelf = folder / "shelf"
    make_apk(shelf / "whatever-name.apk", keys["genuine"])
    row = ["一中", "APP", "示例作业", PACKAGE, "教APP备9900001号", "学生", "下载安装"]
    submission = write_csv(
        folder / "submission.csv",
        [
            HEADER,
            [*row, "apks/genuine.apk"],  # 2
            [*row, "apks/repackaged.apk"],  # 3
            [*row, "apks/ads.apk"],  # 4
            [*row, "apks/fake.apk"],  # 5
            [*row, "apks/unsigned.apk"],  # 6
            [*row, "apks/broken.apk"],  # 7
            [*row, f"{base}/download.apk"],  # 8
            [*row, f"{base}/missing.apk"],  # 9
            [*row, "apks/nowhere.apk"],  # 10
            ["一中", "APP", "示例作业", "", "", "学生", "下载安装", "shelf"],  # 11: by package
            [*row, ""],  # 12: no APK at all
        ],
        "gb18030",
    )
    result, by_row = scan(registry, submission, tmp_path / "report")
    apk = {row: {r for r in rules if r.startswith("APK-")} for row, rules in by_row.items()}
    assert apk.get("2", set()) == set()
    assert apk["3"] == {"APK-SIGNER-MISMATCH"}
    assert apk["4"] == {"APK-AD-SDK"}
    assert apk["5"] == {"APK-PACKAGE-MISMATCH"}
    assert apk["6"] == {"APK-UNSIGNED"}
    assert apk["7"] == {"APK-UNREADABLE"}
    assert apk["8"] == {"APK-SENSITIVE-PERMISSION"}
    assert apk["9"] == {"APK-UNREADABLE"} and apk["10"] == {"APK-UNREADABLE"}
    assert apk.get("11", set()) == set() and apk.get("12", set()) == set()
    doc = json.loads((tmp_path / "report" / "findings.json").read_text("utf-8"))
    findings = [f for s in doc["schools"] for f in s["findings"]]
    missing = next(f for f in findings if f["row"] == 9)
    assert "404" in missing["evidence"]["reason"]
    ads = next(f for f in findings if f["rule"] == "APK-AD-SDK")
    assert {s["prefix"] for s in ads["evidence"]["sdks"]} == {
        "com.bytedance.sdk.openadsdk",
        "com.qq.e",
    }
    assert "安装包：填报 10 个" in result.stderr and "取自缓存 0 个" in result.stderr
    page = next((tmp_path / "report" / "schools").glob("*.html")).read_text("utf-8")
    assert "com.bytedance.sdk.openadsdk" in page  # the APK panel's SDK table

    again, by_row_again = scan(registry, submission, tmp_path / "report")
    assert by_row_again == by_row
    assert "新分析 0 个" in again.stderr, again.stderr  # everything came from the cache


def test_add_signer_from_apk_checks_the_package(
    registry: str, tmp_path: Path, keys: dict[str, apkfactory.SigningKey]
) -> None:
    fake = make_apk(tmp_path / "fake.apk", keys["other"], package="com.example.fake")
    refused = run("registry", "add-signer", PACKAGE, "--from-apk", str(fake), "--db", registry)
    assert refused.exit_code == 2 and "com.example.fake" in refused.stderr
    forced = run(
        "registry", "add-signer", PACKAGE, "--from-apk", str(fake), "--force", "--db", registry
    )
    assert forced.exit_code == 0 and "已登记签名证书 2 个" in forced.stderr
    shown = json.loads(run("registry", "show", PACKAGE, "-f", "json", "--db", registry).stdout)
    assert shown["signer_sha256"] == [keys["genuine"].sha256, keys["other"].sha256]
    unsigned = make_apk(tmp_path / "unsigned.apk", None)
    bad = run("registry", "add-signer", PACKAGE, "--from-apk", str(unsigned), "--db", registry)
    assert bad.exit_code == 2 and "不取其证书" in bad.stderr


def test_apk_inspect_built_apks(tmp_path: Path, keys: dict[str, apkfactory.SigningKey]) -> None:
    ads = make_apk(tmp_path / "ads.apk", keys["genuine"], classes=(PANGLE,))
    broken = tmp_path / "broken.apk"
    broken.write_bytes(b"PK\x03\x04 nope")
    result = run("apk", "inspect", str(ads), str(broken), "--json", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert [f["file"] for f in facts] == [str(ads), str(broken)]
    assert facts[0]["package"] == PACKAGE and facts[0]["label"] == "示例作业"
    assert facts[0]["signers"][0]["sha256"] == keys["genuine"].sha256
    assert facts[0]["sdks"][0]["category"] == "ads"
    assert facts[1]["readable"] is False and facts[1]["problems"]
    table = run("apk", "inspect", str(ads), str(broken))
    assert PACKAGE in table.stdout and "无法读取 1 个" in table.stderr
    missing = run("apk", "inspect", str(tmp_path / "nope.apk"))
    assert missing.exit_code == 2 and "文件不存在" in missing.stderr


def test_apk_inspect_every_fixture(fixture_apks: Path) -> None:
    files = sorted(fixture_apks.glob("*.apk"))
    result = run("apk", "inspect", "--json", *map(str, files))
    assert result.exit_code == 0, result.stderr
    facts = {Path(f["file"]).name: f for f in json.loads(result.stdout)}
    assert set(facts) == {f.name for f in files}
    a2dp = facts["ag-a2dp.Vol_137.apk"]
    assert (a2dp["package"], a2dp["label"], a2dp["version_name"], a2dp["version_code"]) == (
        "a2dp.Vol", "A2DP Volume", "2.12.9.2", 137,
    )  # fmt: skip
    for odd in ("ag-apksig-empty-unsigned.apk", "ag-multidex-nomanifest.apk"):
        assert facts[odd]["readable"] is False and facts[odd]["problems"], odd
    assert "com.tencent.smtt" in {s["prefix"] for s in facts["pypi-airtest-Yosemite.apk"]["sdks"]}


def test_tampered_copies_of_the_genuine_apk_are_caught(
    registry: str, tmp_path: Path, keys: dict[str, apkfactory.SigningKey]
) -> None:
    """The case this tool exists for: a counterfeit passed around in parents' group chats,
    carrying the genuine developer's certificate copied byte for byte."""
    folder = tmp_path / "school"
    genuine = make_apk(folder / "apks" / "genuine.apk", keys["genuine"])
    evil = apkfactory.dex_file([f"{PACKAGE}.MainActivity", "com.evil.Stealer"])
    apkfactory.rebuild(genuine, folder / "apks" / "rebuilt.apk",
                       replace={"classes.dex": evil}, add={"assets/x.bin": b"x"})  # fmt: skip
    apkfactory.rebuild(genuine, folder / "apks" / "v1only.apk", replace={"classes.dex": evil},
                       keep_block=False)  # fmt: skip
    row = ["一中", "APP", "示例作业", PACKAGE, "教APP备9900001号", "学生", "下载安装"]
    submission = write_csv(
        folder / "submission.csv",
        [
            HEADER,
            [*row, "apks/genuine.apk"],  # 2
            [*row, "apks/rebuilt.apk"],  # 3: META-INF and signing block copied
            [*row, "apks/v1only.apk"],  # 4: META-INF copied, no signing block
        ],
        "utf-8",
    )
    _, by_row = scan(registry, submission, tmp_path / "report")
    apk = {row: {r for r in rules if r.startswith("APK-")} for row, rules in by_row.items()}
    assert apk.get("2", set()) == set()
    assert apk["3"] == {"APK-SIGNATURE-INVALID"}
    assert apk["4"] == {"APK-SIGNATURE-INVALID"}
    doc = json.loads((tmp_path / "report" / "findings.json").read_text("utf-8"))
    found = {f["row"]: f for s in doc["schools"] for f in s["findings"]}
    assert found[3]["severity"] == "high" and found[3]["evidence"]["kind"] == "modified"
    assert "签名之后被人改动过" in found[3]["message"]
    # The copied certificate is the genuine one: shown as found, not accepted as the signer.
    assert found[3]["evidence"]["certificates_found"][0]["sha256"] == keys["genuine"].sha256
    assert found[4]["evidence"]["reason"] == "stripped-scheme"
    page = next((tmp_path / "report" / "schools").glob("*.html")).read_text("utf-8")
    assert "签名有效" in page and "签名无效（" in page  # each APK panel gives the verdict

    refused = run("registry", "add-signer", PACKAGE, "--from-apk",
                  str(folder / "apks" / "rebuilt.apk"), "--db", registry)  # fmt: skip
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and "签名验证不通过" in refused.stderr

    table = run("apk", "inspect", str(genuine), str(folder / "apks" / "rebuilt.apk"))
    assert "签名有效" in table.stdout and "签名无效（安装包内容在签名后被修改" in table.stdout
    english = run("apk", "inspect", "--lang", "en", str(folder / "apks" / "rebuilt.apk"))
    assert "signature invalid (the APK's content was changed after signing" in english.stdout
