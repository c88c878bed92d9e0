"""Zip bombs and lying headers are refused with a reason, within fixed memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import apkfactory
import pytest

from scanner.apk import Limits, analyse_apk
from scanner.apk.ziparchive import MiB

PACKAGE = "cn.edu.bomb.app"


def honest_manifest() -> apkfactory.RawEntry:
    return apkfactory.named(
        apkfactory.deflated(apkfactory.manifest(PACKAGE, label="炸弹")), "AndroidManifest.xml"
    )


def peak_memory_of(path: Path) -> tuple[int, tuple[str, ...], str]:
    tracemalloc.start()
    try:
        facts = analyse_apk(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, facts.problems, facts.package


def test_dex_declaring_more_than_the_cap_is_refused_unread(tmp_path: Path) -> None:
    # 300 MiB of zeros in about 300 KB, over the 256 MiB cap for one DEX.
    path = apkfactory.write_raw_zip(
        tmp_path / "bomb.apk",
        [honest_manifest(), apkfactory.named(apkfactory.zeros_deflated(300), "classes.dex")],
    )
    assert path.stat().st_size < 400_000
    peak, problems, package = peak_memory_of(path)
    assert problems == (
        f"classes.dex declares {300 * MiB} bytes uncompressed, over the cap of {256 * MiB} bytes",
    )
    assert package == PACKAGE  # the rest of the APK is still read
    assert peak < 8 * MiB


def test_dex_expanding_too_many_fold_is_refused_unread(tmp_path: Path) -> None:
    path = apkfactory.write_raw_zip(
        tmp_path / "ratio.apk",
        [honest_manifest(), apkfactory.named(apkfactory.zeros_deflated(40), "classes.dex")],
    )
    peak, problems, _ = peak_memory_of(path)
    assert len(problems) == 1
    assert "classes.dex would expand" in problems[0] and "zip bomb" in problems[0]
    assert peak < 8 * MiB


def test_lying_header_is_caught_while_inflating(tmp_path: Path) -> None:
    # The headers claim 4 KB; the data inflates to 300 MiB. Decompression stops one byte
    # past the claim, so memory stays at the claimed size, not the real one.
    path = apkfactory.write_raw_zip(
        tmp_path / "liar.apk",
        [
            honest_manifest(),
            apkfactory.named(apkfactory.zeros_deflated(300), "classes.dex", declared_size=4096),
        ],
    )
    peak, problems, package = peak_memory_of(path)
    assert problems == (
        "classes.dex inflates to more than the 4096 bytes its header declares; refused",
    )
    assert package == PACKAGE
    assert peak < 8 * MiB


def test_lying_header_under_the_ratio_cap_is_caught_while_inflating(tmp_path: Path) -> None:
    # resources.arsc claims 150-fold (allowed), really inflates 1000-fold; it is read whole
    # (for the label), and inflation stops one byte past the claim.
    bomb = apkfactory.zeros_deflated(64)
    claimed = 150 * sum(len(c) for c in bomb.chunks)
    label = apkfactory.manifest(PACKAGE, label=apkfactory.Ref(0x7F010000))
    path = apkfactory.write_raw_zip(
        tmp_path / "liar2.apk",
        [
            apkfactory.named(apkfactory.deflated(label), "AndroidManifest.xml"),
            apkfactory.named(bomb, "resources.arsc", declared_size=claimed),
        ],
    )
    peak, problems, package = peak_memory_of(path)
    assert package == PACKAGE
    assert problems == (
        "app label @7F010000 could not be resolved: resources.arsc inflates to more than "
        f"the {claimed} bytes its header declares; refused",
    )
    # Memory follows the claimed size (buffer growth may double it), never the real one.
    assert peak < 3 * claimed < 64 * MiB


def test_oversized_manifest_is_never_handed_to_a_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_: bytes) -> None:
        raise AssertionError("a refused manifest must not be parsed")

    monkeypatch.setattr("scanner.apk.analyse.parse_manifest", fail)
    path = apkfactory.write_raw_zip(
        tmp_path / "manifest-bomb.apk",
        [apkfactory.named(apkfactory.zeros_deflated(20), "AndroidManifest.xml")],
    )
    facts = analyse_apk(path)
    assert not facts.readable
    assert facts.problems == (
        f"AndroidManifest.xml declares {20 * MiB} bytes uncompressed, over the cap of "
        f"{16 * MiB} bytes",
    )


def test_lying_manifest_header_is_refused(tmp_path: Path) -> None:
    path = apkfactory.write_raw_zip(
        tmp_path / "manifest-liar.apk",
        [
            apkfactory.named(
                apkfactory.zeros_deflated(50), "AndroidManifest.xml", declared_size=2000
            )
        ],
    )
    peak, problems, _ = peak_memory_of(path)
    assert problems == (
        "AndroidManifest.xml inflates to more than the 2000 bytes its header declares; refused",
    )
    assert peak < 8 * MiB


def test_oversized_resource_table_is_refused_and_label_left_empty(tmp_path: Path) -> None:
    path = apkfactory.write_raw_zip(
        tmp_path / "arsc-bomb.apk",
        [
            apkfactory.named(
                apkfactory.deflated(apkfactory.manifest(PACKAGE, label=apkfactory.Ref(0x7F010000))),
                "AndroidManifest.xml",
            ),
            apkfactory.named(apkfactory.zeros_deflated(70), "resources.arsc"),
        ],
    )
    facts = analyse_apk(path)
    assert facts.readable and facts.label == ""
    assert any("resources.arsc declares" in p for p in facts.problems)


def test_total_declared_size_has_a_cap(tmp_path: Path) -> None:
    path = apkfactory.simple_apk(tmp_path / "normal.apk")
    facts = analyse_apk(path, limits=Limits(max_total_uncompressed=100))
    assert not facts.readable
    assert "in total, over the cap of 100 bytes" in facts.problems[0]


def test_entry_data_cut_off_by_end_of_file(tmp_path: Path) -> None:
    path = apkfactory.write_raw_zip(
        tmp_path / "cut.apk",
        [honest_manifest(), apkfactory.named(apkfactory.zeros_deflated(8), "classes.dex")],
    )
    data = path.read_bytes()
    # Keep the central directory but drop the middle of the DEX data.
    start = data.index(b"classes.dex") + len("classes.dex") + 100
    damaged = data[:start] + bytes(len(data) - start - 200) + data[-200:]
    path.write_bytes(damaged)
    facts = analyse_apk(path)
    assert facts.problems  # whatever broke, it is reported and nothing raised
