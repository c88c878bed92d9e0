"""`analyse_apk`: from an APK file to `ApkFacts`, never raising for a bad file."""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from scanner.apk.arsc import resolve_string
from scanner.apk.dex import ApkTypes
from scanner.apk.facts import ApkFacts
from scanner.apk.manifest import ManifestInfo, Value, parse_manifest
from scanner.apk.respool import Refused
from scanner.apk.sdk import SdkCatalogue, builtin_catalogue
from scanner.apk.signing import read_signing
from scanner.apk.ziparchive import (
    DEFAULT_LIMITS,
    Directory,
    Failure,
    Limits,
    MemberReader,
    check_member,
    read_directory,
    read_member,
)

HASH_CHUNK = 1 << 20
OVERLAP_HASH_FROM: int | None = 4 << 20
"""Files at least this large are hashed in a parallel thread while they are parsed."""
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
    hasher: Future[tuple[str, int] | Failure] | None = None
    executor: ThreadPoolExecutor | None = None
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if OVERLAP_HASH_FROM is not None and size >= OVERLAP_HASH_FROM:
                # Hashing and inflating both release the GIL: on a second core the
                # SHA-256 of a large APK costs no extra wall time.
                executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="apk-sha256")
                hasher = executor.submit(hash_file, path)
            facts = _analyse_open(fh, size, catalogue, limits)
    except OSError as exc:
        return ApkFacts(
            sha256="",
            size=0,
            problems=(f"cannot read the file: {exc.strerror or exc}",),
            sdk_catalogue=catalogue.fingerprint,
        )
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
    hashed = hasher.result() if hasher is not None else hash_file(path)
    if isinstance(hashed, Failure):
        return replace(facts, problems=(*facts.problems, hashed.reason))
    sha256, hashed_size = hashed
    if facts.size and hashed_size != facts.size:
        facts = replace(facts, problems=(*facts.problems, "the file changed while it was read"))
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
    """Facts from the archive's content; the caller fills in the SHA-256."""
    sha256 = ""
    problems: list[str] = []
    directory = read_directory(fh, size, limits)
    if isinstance(directory, Failure):
        return ApkFacts(
            sha256=sha256,
            size=size,
            problems=(directory.reason,),
            sdk_catalogue=catalogue.fingerprint,
        )
    problems.extend(directory.problems)

    manifest = _read_manifest(fh, directory, limits)
    if isinstance(manifest, Failure):
        problems.append(manifest.reason)
        manifest = ManifestInfo(package="")
    problems.extend(manifest.problems)
    label, version_name = _resolve_strings(fh, directory, limits, manifest, problems)

    signing = read_signing(fh, directory, limits)
    problems.extend(signing.problems)

    dex_names = _dex_names(directory)
    types = ApkTypes(len(dex_names), limits)
    for name in dex_names:
        if not types.room_for(name):
            break
        member = directory.members[name]
        refused = check_member(member, limits.max_dex_entry, limits)
        if refused is not None:
            problems.append(refused.reason)
            continue
        types.add(name, MemberReader(fh, member, directory))
    problems.extend(types.problems)
    sdks = catalogue.detect(types.descriptors(), manifest.components.all_names())

    return ApkFacts(
        sha256=sha256,
        size=size,
        package=manifest.package,
        label=label,
        version_name=version_name,
        version_code=manifest.version_code,
        min_sdk=manifest.min_sdk,
        target_sdk=manifest.target_sdk,
        permissions=manifest.permissions,
        signing_schemes=signing.schemes,
        signers=signing.signers,
        sdks=sdks,
        dex_count=types.dex_count,
        class_count=types.class_count,
        components=manifest.components,
        readable=bool(manifest.package),
        problems=tuple(dict.fromkeys(problems)),
        sdk_catalogue=catalogue.fingerprint,
    )


def _read_manifest(fh: BinaryIO, directory: Directory, limits: Limits) -> ManifestInfo | Failure:
    member = directory.members.get(_MANIFEST)
    if member is None:
        return Failure("no AndroidManifest.xml")
    data = read_member(fh, directory, member, limits.max_manifest, limits)
    if isinstance(data, Failure):
        return data
    return parse_manifest(data)


def _resolve_strings(
    fh: BinaryIO,
    directory: Directory,
    limits: Limits,
    manifest: ManifestInfo,
    problems: list[str],
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
