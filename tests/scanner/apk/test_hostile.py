"""Hostile APKs built in code end in facts or a failure, within bounded memory and time.

Each of these once cost gigabytes, raised from deep inside a reader or recursed without
end. Memory is measured with tracemalloc around the whole analysis, as in test_limits.py.
"""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import apkfactory
import hostileapks
import pytest

from scanner.apk import ApkFacts, Limits, analyse_apk
from scanner.apk import manifest as manifest_module
from scanner.apk.arsc import resolve_string
from scanner.apk.dex import DexTypes, read_dex_types
from scanner.apk.manifest import ManifestInfo, read_axml_manifest
from scanner.apk.ziparchive import Failure, MiB

PACKAGE = hostileapks.PACKAGE


def analysed(path: Path, limits: Limits | None = None) -> tuple[ApkFacts, int]:
    """The facts and the peak of traced memory while they were made."""
    tracemalloc.start()
    try:
        facts = analyse_apk(path) if limits is None else analyse_apk(path, limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return facts, peak


# --------------------------------------------------------------------------- DEX


def test_one_string_named_by_every_type_is_decoded_once(tmp_path: Path) -> None:
    path = hostileapks.one_string_many_types(tmp_path / "one-string.apk")
    assert path.stat().st_size < 1_100
    facts, peak = analysed(path)
    assert facts.readable and facts.package == PACKAGE
    assert facts.dex_count == 1 and not facts.problems
    assert peak < 8 * MiB  # 65,535 copies of the 60,000-byte name were 3.9 GB


def test_dex_names_decoded_once_share_one_object() -> None:
    data = hostileapks.raw_dex(["Lcn/edu/A;", "Lcn/edu/B;"], [0, 1, 0, 1, 1, 0])
    types = read_dex_types(data)
    assert isinstance(types, DexTypes)
    assert types.descriptors == ("Lcn/edu/A;", "Lcn/edu/B;")


def test_twenty_thousand_dex_entries_stop_at_the_cap(tmp_path: Path) -> None:
    # 300 types per DEX rather than 3,000 keeps the traced run short; the cap is the same.
    path = hostileapks.many_dex_entries(tmp_path / "many-dex.apk", types=300)
    assert path.stat().st_size < 1_300_000
    facts, peak = analysed(path)
    assert facts.readable and facts.package == PACKAGE
    assert facts.dex_count == 256
    assert facts.problems == (
        "the APK has 20000 DEX files, more than the cap of 256: classes257.dex and the DEX "
        "files after it were not read, so SDKs in them are not detected",
    )
    assert peak < 32 * MiB  # was 3.7 GB and more


def test_type_names_over_the_total_cap_stop_reading(tmp_path: Path) -> None:
    path = hostileapks.many_dex_entries(tmp_path / "few-dex.apk", entries=5, types=3_000)
    facts, _ = analysed(path, Limits(max_dex_types=7_000))
    assert facts.dex_count == 3
    assert facts.problems == (
        "its DEX files name more than 7000 types (the cap): classes4.dex and the DEX files "
        "after it were not read, so SDKs in them are not detected",
    )


def test_decoded_name_bytes_have_a_cap() -> None:
    names = [f"Lcn/edu/{'x' * 1000}{i};" for i in range(100)]
    data = hostileapks.raw_dex(names, list(range(100)))
    assert isinstance(read_dex_types(data), DexTypes)
    refused = read_dex_types(data, max_name_bytes=50_000)
    assert isinstance(refused, Failure) and "over the cap" in refused.reason


def test_overlapping_type_names_cost_no_more_than_the_cap() -> None:
    data = hostileapks.overlapping_type_names_dex()
    assert len(data) < 600_000
    unbounded = read_dex_types(data)  # within the default cap of 64 MiB: read, 12 MB of names
    assert isinstance(unbounded, DexTypes) and len(unbounded.descriptors) == 0xFFFF
    tracemalloc.start()
    try:
        result = read_dex_types(data, max_name_bytes=4 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(result, Failure) and "over the cap" in result.reason
    assert peak < 3 * 4 * MiB


# --------------------------------------------------------------------------- binary XML


def test_end_element_whose_header_fills_it_is_refused(tmp_path: Path) -> None:
    facts, peak = analysed(hostileapks.end_element_apk(tmp_path / "end.apk"))
    assert not facts.readable
    assert facts.problems == (
        "AndroidManifest.xml could not be read: AndroidManifest.xml has a corrupt chunk at "
        "byte 172",
    )
    assert peak < 4 * MiB


@pytest.mark.parametrize(
    ("header_size", "size"),
    [(0, 24), (8, 24), (16, 16), (24, 24), (28, 24), (16, 0xFFFF)],
)
def test_node_chunk_headers_are_checked_against_their_size(header_size: int, size: int) -> None:
    data = bytearray(hostileapks.end_element_header_is_its_size())
    last = len(data) - 24  # the final END_ELEMENT node
    struct.pack_into("<HI", data, last + 2, header_size, size)
    result = read_axml_manifest(bytes(data))
    assert isinstance(result, Failure)
    assert result.reason == f"AndroidManifest.xml has a corrupt chunk at byte {last}"


def test_manifest_nested_three_thousand_deep(tmp_path: Path) -> None:
    facts, peak = analysed(hostileapks.deep_manifest_apk(tmp_path / "deep.apk"))
    assert not facts.readable
    assert facts.problems == (
        "AndroidManifest.xml could not be read: AndroidManifest.xml nests elements more "
        "than 256 deep",
    )
    assert peak < 8 * MiB


def test_androguard_fallback_walks_without_recursion(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = hostileapks.deep_manifest(3_000)
    refused = manifest_module._manifest_via_androguard(deep)
    assert isinstance(refused, Failure) and "more than 256 deep" in refused.reason
    # With the cap lifted the walk goes all the way down: a recursive walk could not.
    monkeypatch.setattr(manifest_module, "_MAX_DEPTH", 5_000)
    read = manifest_module._manifest_via_androguard(deep)
    assert isinstance(read, ManifestInfo) and read.package == PACKAGE


def test_one_long_string_named_by_many_indexes_is_decoded_once(tmp_path: Path) -> None:
    path = hostileapks.manifest_apk(
        tmp_path / "pool.apk", hostileapks.pool_naming_one_string_often()
    )
    facts, peak = analysed(path)
    assert facts.readable
    assert facts.components.activities == (PACKAGE + "." + "A" * 100_000,)
    assert peak < 8 * MiB  # 10,000 copies of the name were 1 GB


def test_overlapping_pool_strings_are_refused(tmp_path: Path) -> None:
    path = hostileapks.manifest_apk(
        tmp_path / "overlap.apk", hostileapks.pool_of_overlapping_strings()
    )
    facts, peak = analysed(path)
    assert not facts.readable
    assert facts.problems == (
        "AndroidManifest.xml could not be read: string pool is corrupt (its strings overlap)",
    )
    assert peak < 16 * MiB  # they decoded to 1.3 GB


def test_component_names_made_absolute_have_a_cap(tmp_path: Path) -> None:
    path = hostileapks.manifest_apk(
        tmp_path / "long-package.apk", hostileapks.long_package_many_components()
    )
    facts, peak = analysed(path)
    assert facts.readable and len(facts.package) == 1_000_000
    assert len(facts.components.activities) == 3
    assert facts.problems == (
        "AndroidManifest.xml names components of more than 4000000 characters in all; "
        "the rest were not read",
    )
    assert peak < 64 * MiB  # 10,000 names of a million characters were 9.5 GB


# --------------------------------------------------------------------------- resources.arsc


def test_type_chunk_shorter_than_its_header_is_refused(tmp_path: Path) -> None:
    table, label = hostileapks.table_ending_in_a_short_type_chunk()
    resolved = resolve_string(table, label)
    assert isinstance(resolved, Failure)
    assert resolved.reason == f"resources.arsc has a corrupt chunk at byte {len(table) - 8}"
    facts, _ = analysed(hostileapks.short_type_chunk_apk(tmp_path / "arsc.apk"))
    assert facts.readable and facts.label == ""
    assert facts.problems == (
        f"app label @{label:08X} could not be resolved: resources.arsc has a corrupt chunk at "
        f"byte {len(table) - 8}",
    )


@pytest.mark.parametrize("header_size", [0, 4, 8, 11])
def test_package_chunk_header_is_checked(header_size: int) -> None:
    table, label = hostileapks.table_ending_in_a_short_type_chunk()
    package_at = 12 + struct.unpack_from("<I", table, 16)[0]
    damaged = bytearray(table)
    struct.pack_into("<H", damaged, package_at + 2, header_size)
    resolved = resolve_string(bytes(damaged), label)
    assert isinstance(resolved, Failure)
    assert resolved.reason == f"resources.arsc has a corrupt chunk at byte {package_at}"


def test_corrupt_chunk_in_another_package_is_refused_without_androguard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The label's package is fine; a chunk of a second package claims 2 GB. androguard's
    # table parser would read (and allocate) what it claims, so it is not asked.
    table, label = hostileapks.table_ending_in_a_short_type_chunk()
    other = bytearray(table[12 + struct.unpack_from("<I", table, 16)[0] :])  # the package
    struct.pack_into("<I", other, 8, 0x7E)  # another package id
    struct.pack_into("<I", other, 4, len(other) - 8)  # drop the short chunk
    pool_at = struct.unpack_from("<H", other, 2)[0]
    struct.pack_into("<I", other, pool_at + 4, 0x80000000)  # its type-name pool: 2 GB
    grown = bytearray(table[:-8]) + other[:-8]
    package_at = 12 + struct.unpack_from("<I", table, 16)[0]
    struct.pack_into(
        "<I", grown, package_at + 4, struct.unpack_from("<I", table, package_at + 4)[0] - 8
    )
    struct.pack_into("<II", grown, 4, len(grown), 2)

    def never(*_: object) -> None:
        raise AssertionError("androguard must not read a table Android would refuse")

    monkeypatch.setattr("scanner.apk.analyse._resolve_via_androguard", never)
    resolved = resolve_string(bytes(grown), label)
    pool_in_table = len(table) - 8 + pool_at
    assert isinstance(resolved, Failure)
    assert resolved.reason == f"resources.arsc has a corrupt chunk at byte {pool_in_table}"
    path = apkfactory.build_apk(
        tmp_path / "two-packages.apk",
        manifest_xml=apkfactory.manifest(PACKAGE, label=apkfactory.Ref(label)),
        resources=bytes(grown),
    )
    facts, peak = analysed(path)
    assert facts.readable and facts.label == ""
    assert peak < 8 * MiB


def test_manifest_without_a_package_says_so(tmp_path: Path) -> None:
    nameless = apkfactory.compile_xml(apkfactory.Element("manifest", {"android:versionCode": 3}))
    assert read_axml_manifest(nameless) == Failure("AndroidManifest.xml names no package")
    facts, _ = analysed(hostileapks.manifest_apk(tmp_path / "nameless.apk", nameless))
    assert not facts.readable
    assert facts.problems == (
        "AndroidManifest.xml could not be read: AndroidManifest.xml names no package",
    )
