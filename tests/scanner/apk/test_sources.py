"""APK sources: the cell's shape picks a path, a folder matched by package, or a URL."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import apkfactory
import pytest

from scanner.apk import analyse, analyse_apk
from scanner.apk.download import DownloadOptions
from scanner.apk.sources import (
    FolderIndexCache,
    FolderSource,
    LocalApk,
    LocalFolders,
    PathSource,
    SourceFailure,
    UnavailableSource,
    UrlSource,
    source_for,
)


def app(path: Path, package: str, version_code: int = 1) -> Path:
    return apkfactory.build_apk(
        path,
        manifest_xml=apkfactory.manifest(
            package, version_code=version_code, version_name=f"1.{version_code}"
        ),
    )


def test_relative_path_resolves_against_the_submission_folder(tmp_path: Path) -> None:
    submission = tmp_path / "第一中学"
    apk = app(submission / "apks" / "作业.apk", "cn.edu.homework")
    source = source_for("apks/作业.apk", submission, "cn.edu.homework")
    assert isinstance(source, PathSource)
    resolved = source.resolve()
    assert resolved == LocalApk(path=apk, origin="apks/作业.apk")


def test_windows_style_path_and_stray_quotes_still_find_the_file(tmp_path: Path) -> None:
    apk = app(tmp_path / "apks" / "a.apk", "cn.edu.a")
    resolved = source_for(' "apks\\a.apk" ', tmp_path, None).resolve()
    assert isinstance(resolved, LocalApk) and resolved.path == apk


def test_absolute_path_inside_an_allowed_folder_is_used_as_is(tmp_path: Path) -> None:
    apk = app(tmp_path / "elsewhere" / "b.apk", "cn.edu.b")
    allowed = LocalFolders((tmp_path / "elsewhere",))
    resolved = source_for(str(apk), tmp_path / "submission", None, folders=allowed).resolve()
    assert isinstance(resolved, LocalApk) and resolved.path == apk
    anywhere = LocalFolders(any_path=True)
    resolved = source_for(str(apk), tmp_path / "submission", None, folders=anywhere).resolve()
    assert isinstance(resolved, LocalApk) and resolved.path == apk


def _outside_cells(tmp_path: Path) -> dict[str, str]:
    """Cells that lead outside the submission's folder, each to a file that exists."""
    secret = app(tmp_path / "private" / "secret.apk", "cn.edu.secret")
    submission = tmp_path / "school"
    (submission / "apks").mkdir(parents=True)
    (submission / "apks" / "link.apk").symlink_to(secret)
    (submission / "apks" / "private-folder").symlink_to(secret.parent)
    return {
        "absolute": str(secret),
        "dot-dot": "../private/secret.apk",
        "dot-dot-inside": "apks/../../private/secret.apk",
        "symlink": "apks/link.apk",
        "folder-outside": str(secret.parent),
        "folder-symlink": "apks/private-folder",
        "etc": "/etc/passwd",
        "home": "~/secret.apk",
    }


def test_paths_leading_outside_are_refused_without_looking(tmp_path: Path) -> None:
    cells = _outside_cells(tmp_path)
    reasons = set()
    for what, cell in cells.items():
        source = source_for(cell, tmp_path / "school", "cn.edu.secret")
        resolved = source.resolve()
        assert isinstance(resolved, SourceFailure), what
        assert resolved.origin == cell
        assert "secret" not in resolved.reason and "passwd" not in resolved.reason, what
        reasons.add(resolved.reason)
    # One wording for all, so the report says nothing about what is there.
    assert reasons == {
        "refused: the path leads outside the submission's folder (name its folder with "
        "--apk-dir, or allow every path with --allow-any-path)"
    }
    missing = source_for("/nowhere/at/all.apk", tmp_path / "school", None).resolve()
    assert isinstance(missing, SourceFailure) and missing.reason in reasons


def test_allow_any_path_reads_them(tmp_path: Path) -> None:
    cells = _outside_cells(tmp_path)
    anywhere = LocalFolders(any_path=True)
    for what in ("absolute", "dot-dot", "symlink", "folder-outside", "folder-symlink"):
        resolved = source_for(cells[what], tmp_path / "school", "cn.edu.secret", folders=anywhere)
        found = resolved.resolve()
        assert isinstance(found, LocalApk), (what, found)
        assert found.path.resolve() == (tmp_path / "private" / "secret.apk").resolve()


def test_apk_dir_allows_its_folder_and_names_itself_in_the_refusal(tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    apk = app(shelf / "a.apk", "cn.edu.a")
    folders = LocalFolders((shelf,))
    found = source_for(str(apk), tmp_path / "school", None, folders=folders).resolve()
    assert isinstance(found, LocalApk) and found.path == apk
    found = source_for(str(shelf), tmp_path / "school", "cn.edu.a", folders=folders).resolve()
    assert isinstance(found, LocalApk) and found.path == apk
    refused = source_for("/etc/passwd", tmp_path / "school", None, folders=folders).resolve()
    assert isinstance(refused, SourceFailure)
    assert "the folders given with --apk-dir" in refused.reason


def test_a_folder_does_not_follow_links_leading_out(tmp_path: Path) -> None:
    app(tmp_path / "private" / "secret.apk", "cn.edu.secret")
    school = tmp_path / "school"
    own = app(school / "apks" / "own.apk", "cn.edu.own")
    (school / "apks" / "secret.apk").symlink_to(tmp_path / "private" / "secret.apk")
    indexes = FolderIndexCache()
    found = source_for("apks", school, "cn.edu.own", folder_indexes=indexes).resolve()
    assert isinstance(found, LocalApk) and found.path == own
    refused = source_for("apks", school, "cn.edu.secret", folder_indexes=indexes).resolve()
    assert isinstance(refused, SourceFailure)
    assert refused.reason == (
        f"no APK with package cn.edu.secret in {school / 'apks'} (1 APK files looked at; "
        "1 link(s) leading outside the allowed folders not followed)"
    )
    anywhere = LocalFolders(any_path=True)
    found = source_for("apks", school, "cn.edu.secret", folders=anywhere).resolve()
    assert isinstance(found, LocalApk)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("~nosuchuser/x.apk", "cannot use this path: it starts with ~ but names no user here"),
        ("a" * 5000 + ".apk", "the path is too long for a file name (5,004 characters)"),
        ("a\x00b.apk", "the path contains a NUL character, which no file name can"),
        ("http://[::1:bad/x.apk", "not a usable web address: Invalid IPv6 URL"),
        ("https://example.com:99999/x.apk", "not a usable web address: Port out of range"),
        ("http:///x.apk", "not a usable web address: it names no host"),
    ],
)
def test_cells_no_file_or_url_can_have_fail_for_their_row(
    tmp_path: Path, cell: str, reason: str
) -> None:
    source = source_for(cell, tmp_path, "cn.edu.x", download_dir=tmp_path / "dl")
    resolved = source.resolve()
    assert isinstance(resolved, SourceFailure)
    assert resolved.origin == cell
    assert resolved.reason.startswith(reason)


def test_missing_file_is_a_failure_with_a_reason(tmp_path: Path) -> None:
    resolved = source_for("apks/missing.apk", tmp_path, "cn.edu.x").resolve()
    assert isinstance(resolved, SourceFailure)
    assert resolved.origin == "apks/missing.apk"
    assert resolved.reason == f"file not found: {tmp_path / 'apks' / 'missing.apk'}"


def test_web_address_without_scheme_gets_a_hint(tmp_path: Path) -> None:
    resolved = source_for("www.example.com/app.apk", tmp_path, None).resolve()
    assert isinstance(resolved, SourceFailure)
    assert "write it with http:// or https://" in resolved.reason


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("", "no APK given"),
        ("  \u3000 ", "no APK given"),
        ("ftp://example.com/app.apk", "refused: only http and https addresses are fetched"),
        ("file:///etc/passwd", "refused: only http and https addresses are fetched"),
    ],
)
def test_cells_that_name_no_apk(tmp_path: Path, cell: str, reason: str) -> None:
    source = source_for(cell, tmp_path, "cn.edu.x")
    assert isinstance(source, UnavailableSource)
    resolved = source.resolve()
    assert isinstance(resolved, SourceFailure) and resolved.reason.startswith(reason)


def test_folder_is_matched_by_package_and_highest_version_wins(tmp_path: Path) -> None:
    folder = tmp_path / "apks"
    app(folder / "reader-old.apk", "cn.edu.reader", version_code=3)
    newest = app(folder / "reader-new.apk", "cn.edu.reader", version_code=12)
    maths = app(folder / "数学.apk", "cn.edu.maths")
    (folder / "notes.txt").write_text("not an apk")
    (folder / "broken.apk").write_bytes(b"PK not really")
    indexes = FolderIndexCache()

    source = source_for("apks", tmp_path, "cn.edu.reader", folder_indexes=indexes)
    assert isinstance(source, FolderSource)
    resolved = source.resolve()
    assert isinstance(resolved, LocalApk)
    assert resolved.path == newest
    assert "2 APKs for cn.edu.reader" in resolved.note and "12" in resolved.note

    other = source_for("apks", tmp_path, "cn.edu.maths", folder_indexes=indexes).resolve()
    assert isinstance(other, LocalApk) and other.path == maths

    missing = source_for("apks", tmp_path, "cn.edu.absent", folder_indexes=indexes).resolve()
    assert isinstance(missing, SourceFailure)
    assert (
        missing.reason == f"no APK with package cn.edu.absent in {folder} (4 APK files looked at)"
    )

    index = indexes.index(folder)
    assert not isinstance(index, SourceFailure)
    assert [p.name for p, _ in index.unreadable] == ["broken.apk"]


def test_folder_index_reads_each_apk_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "apks"
    for i in range(3):
        app(folder / f"{i}.apk", f"cn.edu.app{i}")
    reads: list[Path] = []
    real = analyse.identify_apk

    def counting(path: Path, *args: object) -> object:
        reads.append(path)
        return real(path)

    monkeypatch.setattr("scanner.apk.sources.identify_apk", counting)
    indexes = FolderIndexCache()
    for i in (0, 1, 2, 0, 1):
        resolved = source_for(str(folder), tmp_path, f"cn.edu.app{i}", folder_indexes=indexes)
        assert isinstance(resolved.resolve(), LocalApk)
    assert len(reads) == 3

    app(folder / "1.apk", "cn.edu.replaced", version_code=2)  # a changed file is read again
    assert isinstance(
        source_for("apks", tmp_path, "cn.edu.replaced", folder_indexes=indexes).resolve(),
        LocalApk,
    )
    assert len(reads) == 4


def test_folder_without_a_package_to_look_for(tmp_path: Path) -> None:
    (tmp_path / "apks").mkdir()
    resolved = source_for("apks", tmp_path, None).resolve()
    assert isinstance(resolved, SourceFailure)
    assert "names no package" in resolved.reason


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_url_source_downloads_into_the_cache_and_the_apk_analyses(
    static_server: tuple[str, Path], tmp_path: Path, signer: apkfactory.SigningKey
) -> None:
    base, root = static_server
    apk = apkfactory.simple_apk(root / "classroom.apk", "cn.edu.classroom", signer=signer)
    cache = tmp_path / "downloads"
    source = source_for(f"{base}/classroom.apk", tmp_path, "cn.edu.classroom", download_dir=cache)
    assert isinstance(source, UrlSource)
    resolved = source.resolve()
    assert isinstance(resolved, LocalApk), resolved
    assert resolved.path.parent == cache
    assert resolved.sha256 == hashlib.sha256(apk.read_bytes()).hexdigest()
    assert resolved.note == "downloaded"
    facts = analyse_apk(resolved.path)
    assert facts.sha256 == resolved.sha256
    assert facts.package == "cn.edu.classroom"
    assert [s.sha256 for s in facts.signers] == [signer.sha256]

    again = source.resolve()
    assert isinstance(again, LocalApk) and again.note == "reused an earlier download"


def test_url_source_failures_carry_the_reason(
    static_server: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = static_server
    options = DownloadOptions(retries=0)
    missing = source_for(
        f"{base}/missing.apk", tmp_path, None, download_dir=tmp_path, download_options=options
    ).resolve()
    assert isinstance(missing, SourceFailure)
    assert missing.reason == "download failed: HTTP 404 File not found"

    unconfigured = source_for(f"{base}/x.apk", tmp_path, None).resolve()
    assert isinstance(unconfigured, SourceFailure)
    assert "no download folder" in unconfigured.reason
