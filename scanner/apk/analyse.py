"""`analyse_apk`: from an APK file to `ApkFacts`, never raising for a bad file."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from scanner.apk.arsc import resolve_string
from scanner.apk.dex import ApkTypes, Window
from scanner.apk.facts import ApkFacts
from scanner.apk.filepass import THREADS_FROM, PassPlan, read_once
from scanner.apk.manifest import ManifestInfo, Value, parse_manifest
from scanner.apk.problems import Problem
from scanner.apk.respool import Refused
from scanner.apk.sdk import SdkCatalogue, builtin_catalogue
from scanner.apk.sigcrypto import digest
from scanner.apk.signing import finish_signing, plan_signing
from scanner.apk.ziparchive import (
    DEFAULT_LIMITS,
    Directory,
    Failure,
    Limits,
    MemberReader,
    check_local_header,
    check_member,
    read_directory,
    read_member,
)

HASH_CHUNK = 1 << 20
_MANIFEST = "AndroidManifest.xml"
_RESOURCES = "resources.arsc"
_DEX_NAME = re.compile(r"classes(\d*)\.dex")


@dataclass(frozen=True)
class ApkIdentity:
    """The little a folder index needs: which app, which version."""

    path: Path
    package: str
    version_code: int | None
    version_name: str


def analyse_apk(
    path: Path | str,
    *,
    catalogue: SdkCatalogue | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ApkFacts:
    """Read everything the audit needs from one APK; a bad file gives facts with problems."""
    catalogue = catalogue or builtin_catalogue()
    path = Path(path)
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            facts = _analyse_open(fh, size, catalogue, limits)
    except OSError as exc:
        return ApkFacts(
            sha256="",
            size=0,
            problems=(f"cannot read the file: {exc.strerror or exc}",),
            sdk_catalogue=catalogue.fingerprint,
        )
    if facts.sha256:
        return facts
    # Not a zip archive: no pass over its entries was made, so hash it on its own.
    hashed = hash_file(path)
    if isinstance(hashed, Failure):
        return replace(facts, problems=(*facts.problems, hashed.reason))
    sha256, hashed_size = hashed
    return replace(facts, sha256=sha256, size=hashed_size)


def hash_file(path: Path) -> tuple[str, int] | Failure:
    """SHA-256 (hex) and size, read in 1 MiB chunks so memory stays flat."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        return Failure(f"cannot read the file: {exc.strerror or exc}")
    return digest.hexdigest(), size


def identify_apk(path: Path, limits: Limits = DEFAULT_LIMITS) -> ApkIdentity | Failure:
    """Package and version from the manifest alone: cheap enough to index a folder."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            directory = read_directory(fh, size, limits)
            if isinstance(directory, Failure):
                return directory
            manifest = _read_manifest(fh, directory, limits)
    except OSError as exc:
        return Failure(f"cannot read the file: {exc.strerror or exc}")
    if isinstance(manifest, Failure):
        return manifest
    if not manifest.package:
        return Failure("the manifest names no package")
    return ApkIdentity(
        path=path,
        package=manifest.package,
        version_code=manifest.version_code,
        version_name=manifest.version_name.text if manifest.version_name.reference is None else "",
    )


def _analyse_open(fh: BinaryIO, size: int, catalogue: SdkCatalogue, limits: Limits) -> ApkFacts:
    """Facts from the archive: structure first (directory, manifest, META-INF, signing
    block), then one sequential read of the file that hashes it, digests what the
    signatures cover and inflates the DEX files the v1 signature needs digested."""
    problems: list[str] = []
    directory = read_directory(fh, size, limits)
    if isinstance(directory, Failure):
        return ApkFacts(
            sha256="",
            size=size,
            problems=(directory.reason,),
            sdk_catalogue=catalogue.fingerprint,
        )
    problems.extend(directory.problems)

    inflated: dict[str, bytes] = {}  # entries read before the pass: digested, not re-read
    manifest = _read_manifest(fh, directory, limits, inflated)
    if isinstance(manifest, Failure):
        problems.append(manifest.reason)
        manifest = ManifestInfo(package="")
    problems.extend(manifest.problems)
    label, version_name = _resolve_strings(fh, directory, limits, manifest, problems, inflated)

    plan = plan_signing(
        fh, directory, min_sdk=manifest.min_sdk, target_sdk=manifest.target_sdk, limits=limits
    )
    dex_names = _dex_names(directory)
    digests = plan.entry_digests
    done: dict[str, Mapping[str, bytes] | Failure] = {
        name: check_local_header(fh, directory.members[name])
        or {h: digest(h, inflated[name]) for h in hashes}
        for name, hashes in digests.items()
        if name in inflated and _unique(directory, name)
    }
    # A DEX the v1 check inflates anyway is parsed from that output; the others are read
    # through a window that inflates only as far as the type tables reach.
    # Every DEX's type names go into one set, within the caps of `Limits` (a small APK can
    # name thousands of DEX files); the pass and the windowed reading may both add to it.
    types = ApkTypes(len(dex_names), limits)
    lock = threading.Lock()

    def add_types(name: str, source: Window | bytearray | Failure) -> None:
        with lock:
            if isinstance(source, Failure):
                reason = source.reason
                types.problems.append(reason if name in reason else f"{name}: {reason}")
            elif types.room_for(name):
                types.add(name, source)

    def on_entry(name: str, data: bytearray | Failure) -> None:
        add_types(name, data)

    streamed = {
        n for n in dex_names if n in digests and _dex_allowed(directory, n, limits, add_types)
    }

    windowed = [n for n in dex_names if n not in digests]
    pass_plan = PassPlan(
        digests={n: h for n, h in digests.items() if n not in done},
        keep=frozenset(streamed),
        content_kinds=plan.content_kinds,
        block_offset=plan.block_offset,
    )
    if windowed and size >= THREADS_FROM:
        # The windowed DEX reading overlaps the pass's hashing, and with several deflated
        # DEX files one thread inflates (which releases the GIL) while another parses: on
        # two cores the SHA-256 costs no wall time. (Stored ones gain nothing from two.)
        deflated = sum(1 for n in windowed if directory.members[n].method == 8)
        halves = [windowed[0::2], windowed[1::2]] if deflated > 1 else [windowed]
        with ThreadPoolExecutor(max_workers=len(halves), thread_name_prefix="apk-dex") as pool:
            parses = [
                pool.submit(_parse_windowed, fh, directory, half, limits, add_types)
                for half in halves
            ]
            read = read_once(fh, directory, pass_plan, on_entry)
            for parse in parses:
                parse.result()
    else:
        read = read_once(fh, directory, pass_plan, on_entry)
        _parse_windowed(fh, directory, windowed, limits, add_types)
    if isinstance(read, Failure):
        return ApkFacts(
            sha256="",
            size=size,
            problems=(*problems, read.reason),
            sdk_catalogue=catalogue.fingerprint,
        )
    entry_digests: dict[str, Mapping[str, bytes] | Failure] = dict(read.entry_digests)
    entry_digests.update(done)
    signing = finish_signing(plan, directory, entry_digests, read.content)
    problems.extend(signing.problems)
    if not manifest.package:
        # Without a manifest Android's rules (which depend on its SDK levels) cannot apply.
        signing = replace(signing, verified=False, problem=Problem("no-android-manifest"))

    problems.extend(types.problems)
    sdks = catalogue.detect(types.descriptors(), manifest.components.all_names())
    problem = signing.problem

    return ApkFacts(
        sha256=read.sha256,
        size=read.size,
        package=manifest.package,
        label=label,
        version_name=version_name,
        version_code=manifest.version_code,
        min_sdk=manifest.min_sdk,
        target_sdk=manifest.target_sdk,
        permissions=manifest.permissions,
        signing_schemes=signing.schemes,
        signers=signing.signers,
        signatures=signing.verifications,
        signature_verified=signing.verified,
        signature_reason=problem.code if problem is not None else "",
        signature_detail=problem.detail if problem is not None else "",
        sdks=sdks,
        dex_count=types.dex_count,
        class_count=types.class_count,
        components=manifest.components,
        readable=bool(manifest.package),
        problems=tuple(dict.fromkeys(problems)),
        code_unread=tuple(dict.fromkeys(types.problems)),
        sdk_catalogue=catalogue.fingerprint,
    )


def _parse_windowed(
    fh: BinaryIO,
    directory: Directory,
    names: list[str],
    limits: Limits,
    add: Callable[[str, Window | Failure], None],
) -> None:
    """DEX files read through a window that inflates only as far as their type tables."""
    for name in names:
        member = directory.members[name]
        refused = check_member(member, limits.max_dex_entry, limits)
        add(name, refused if refused is not None else MemberReader(fh, member, directory))


def _unique(directory: Directory, name: str) -> bool:
    # With two entries of one name, the pass must digest the one the directory lists first.
    return sum(1 for m in directory.entries if m.name == name) == 1


def _dex_allowed(
    directory: Directory, name: str, limits: Limits, add: Callable[[str, Failure], None]
) -> bool:
    refused = check_member(directory.members[name], limits.max_dex_entry, limits)
    if refused is not None:
        add(name, refused)
        return False
    return True


def _read_manifest(
    fh: BinaryIO, directory: Directory, limits: Limits, inflated: dict[str, bytes] | None = None
) -> ManifestInfo | Failure:
    member = directory.members.get(_MANIFEST)
    if member is None:
        bundled = sum(1 for m in directory.entries if m.name.lower().endswith(".apk"))
        if bundled:  # what app stores hand out as .xapk, .apks or .apkm
            return Failure(
                f"an app bundle holding {bundled} APK(s) (XAPK, APKS or APKM), not an APK: "
                "no AndroidManifest.xml of its own"
            )
        return Failure("no AndroidManifest.xml")
    data = read_member(fh, directory, member, limits.max_manifest, limits)
    if isinstance(data, Failure):
        return data
    if inflated is not None:
        inflated[_MANIFEST] = data
    return parse_manifest(data)


def _resolve_strings(
    fh: BinaryIO,
    directory: Directory,
    limits: Limits,
    manifest: ManifestInfo,
    problems: list[str],
    inflated: dict[str, bytes] | None = None,
) -> tuple[str, str]:
    """Label and version name as text, reading resources.arsc only if one is a reference."""
    wanted = [v for v in (manifest.label, manifest.version_name) if v.reference is not None]
    if not wanted:
        return manifest.label.text.strip(), manifest.version_name.text.strip()
    table: bytes | Failure
    member = directory.members.get(_RESOURCES)
    if member is None:
        table = Failure("the APK has no resources.arsc")
    else:
        table = read_member(fh, directory, member, limits.max_resources, limits)
        if inflated is not None and isinstance(table, bytes):
            inflated[_RESOURCES] = table

    def text(value: Value, what: str) -> str:
        if value.reference is None:
            return value.text.strip()
        if isinstance(table, Failure):
            problems.append(f"{what} {value.text} could not be resolved: {table.reason}")
            return ""
        resolved = resolve_string(table, value.reference)
        if isinstance(resolved, Failure):
            refused = isinstance(resolved, Refused)  # Android would not load the table either
            fallback = None if refused else _resolve_via_androguard(table, value.reference)
            if fallback is None:
                problems.append(f"{what} {value.text} could not be resolved: {resolved.reason}")
                return ""
            resolved = fallback
        return resolved.strip()

    return text(manifest.label, "app label"), text(manifest.version_name, "version name")


def _resolve_via_androguard(table: bytes, resource_id: int) -> str | None:
    """androguard's full table parser, for tables the targeted look-up cannot walk."""
    from scanner.apk.androguard_quiet import quiet_androguard

    quiet_androguard()
    from androguard.core.axml import ARSCParser, ARSCResTableConfig

    try:
        parser: Any = ARSCParser(table)
        configs: Any = parser.get_resolved_res_configs(
            resource_id, ARSCResTableConfig.default_config()
        )
    except Exception:  # androguard raises many kinds on malformed tables
        return None
    for _, value in configs:
        if isinstance(value, str) and value and not value.startswith("@"):
            return value
    return None


def _dex_names(directory: Directory) -> list[str]:
    """classes.dex, classes2.dex, … in load order (all of them, as εxodus reads them)."""
    found: list[tuple[int, str]] = []
    for name in directory.members:
        match = _DEX_NAME.fullmatch(name)
        if match:
            found.append((int(match.group(1) or 1), name))
    return [name for _, name in sorted(found)]
