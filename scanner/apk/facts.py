"""What an APK is, as read from its bytes: `ApkFacts` and the values it is made of."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scanner.apk.permissions import sensitive_permissions

ANALYSER_VERSION = "apk-facts/4"
"""Bumped whenever the analysis would give different facts for the same bytes.

Cached facts are keyed by the file's SHA-256 and this string; facts from another
version must be recomputed, not reused.
"""

SIGNING_SCHEMES = ("v1", "v2", "v3", "v3.1")

Where = Literal["dex", "manifest"]
WHERE_VALUES: tuple[Where, ...] = ("dex", "manifest")


@dataclass(frozen=True)
class Signer:
    """A signing certificate (签名证书) and the signature schemes that carry it."""

    schemes: tuple[str, ...]
    sha256: str
    subject: str = ""
    issuer: str = ""
    not_before: str = ""
    not_after: str = ""
    key: str = ""
    """Public key algorithm and size, e.g. `RSA 2048` or `EC secp256r1`."""
    verified: bool = False
    """Android verifies the APK under this certificate (or it is an earlier key of a
    verified rotation lineage); a certificate merely found in the file is not enough."""
    lineage: bool = False
    """An earlier signing key the app rotated away from (v3 proof-of-rotation)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemes": list(self.schemes),
            "sha256": self.sha256,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "key": self.key,
            "verified": self.verified,
            "lineage": self.lineage,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signer:
        return cls(
            schemes=_strings(data, "schemes"),
            sha256=_string(data, "sha256"),
            subject=_string(data, "subject"),
            issuer=_string(data, "issuer"),
            not_before=_string(data, "not_before"),
            not_after=_string(data, "not_after"),
            key=_string(data, "key"),
            verified=_bool(data, "verified"),
            lineage=_bool(data, "lineage"),
        )


@dataclass(frozen=True)
class SchemeSigner:
    """One signer of one signature scheme, and whether its signature verifies."""

    sha256: str
    """SHA-256 of its certificate; empty when none could be read."""
    verified: bool
    reason: str = ""
    """Why not: a code of `scanner/data/signature-reasons.toml`; empty when verified."""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "verified": self.verified,
            "reason": self.reason,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SchemeSigner:
        return cls(
            sha256=_string(data, "sha256"),
            verified=_bool(data, "verified"),
            reason=_string(data, "reason"),
            detail=_string(data, "detail"),
        )


@dataclass(frozen=True)
class SchemeVerification:
    """One signature scheme (v1, v2, v3, v3.1) of the APK, as Android would check it.

    `checked` is false for a scheme the file carries that no Android version in the
    APK's SDK range looks at (v1 beside v2 when minSdk ≥ 24, say): it is shown, not judged.
    """

    scheme: str
    checked: bool
    verified: bool
    reason: str = ""
    detail: str = ""
    signers: tuple[SchemeSigner, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme,
            "checked": self.checked,
            "verified": self.verified,
            "reason": self.reason,
            "detail": self.detail,
            "signers": [s.to_dict() for s in self.signers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SchemeVerification:
        return cls(
            scheme=_string(data, "scheme"),
            checked=_bool(data, "checked"),
            verified=_bool(data, "verified"),
            reason=_string(data, "reason"),
            detail=_string(data, "detail"),
            signers=tuple(SchemeSigner.from_dict(s) for s in _list(data, "signers")),
        )


@dataclass(frozen=True)
class EmbeddedSdk:
    """A third-party SDK (第三方SDK) found inside the APK by class-name prefix."""

    name: str
    vendor: str
    category: str
    prefix: str
    example: str
    """One class or manifest component that matched, so a reader can check the finding."""
    where: tuple[Where, ...]
    """`dex` (classes the code references), `manifest` (declared components), or both."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vendor": self.vendor,
            "category": self.category,
            "prefix": self.prefix,
            "example": self.example,
            "where": list(self.where),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbeddedSdk:
        where = _strings(data, "where")
        unknown = [w for w in where if w not in WHERE_VALUES]
        if unknown:
            raise ValueError(f"unknown SDK location {unknown[0]!r}")
        return cls(
            name=_string(data, "name"),
            vendor=_string(data, "vendor"),
            category=_string(data, "category"),
            prefix=_string(data, "prefix"),
            example=_string(data, "example"),
            where=tuple(w for w in WHERE_VALUES if w in where),
        )


@dataclass(frozen=True)
class Components:
    """Components the manifest declares, with names made absolute against the package."""

    activities: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()

    def all_names(self) -> tuple[str, ...]:
        return self.activities + self.services + self.receivers + self.providers

    def to_dict(self) -> dict[str, Any]:
        return {
            "activities": list(self.activities),
            "services": list(self.services),
            "receivers": list(self.receivers),
            "providers": list(self.providers),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Components:
        return cls(
            activities=_strings(data, "activities"),
            services=_strings(data, "services"),
            receivers=_strings(data, "receivers"),
            providers=_strings(data, "providers"),
        )


@dataclass(frozen=True)
class ApkFacts:
    """Everything the audit needs to know about one APK file, cached by its SHA-256.

    `readable` is true when the manifest could be read (so the app is identified);
    `problems` lists, in plain English, whatever could not be read, also for readable files.
    """

    sha256: str
    size: int
    package: str = ""
    label: str = ""
    """App name (应用名称): zh-CN if the APK has it, else the default; never a resource id."""
    version_name: str = ""
    version_code: int | None = None
    min_sdk: int | None = None
    target_sdk: int | None = None
    permissions: tuple[str, ...] = ()
    signing_schemes: tuple[str, ...] = ()
    signers: tuple[Signer, ...] = ()
    signatures: tuple[SchemeVerification, ...] = ()
    """Each scheme the APK carries, checked as Android does for its SDK range."""
    signature_verified: bool = False
    """The APK verifies as Android would install it (签名有效)."""
    signature_reason: str = ""
    """Why not: a code of `scanner/data/signature-reasons.toml` (`unsigned` for none at all)."""
    signature_detail: str = ""
    sdks: tuple[EmbeddedSdk, ...] = ()
    dex_count: int = 0
    class_count: int = 0
    """Classes defined in the APK's DEX files (not the larger set they reference)."""
    components: Components = field(default_factory=Components)
    readable: bool = False
    problems: tuple[str, ...] = ()
    code_unread: tuple[str, ...] = ()
    """Why some of the APK's code (DEX files) was not read, so SDKs in it go undetected;
    these reasons are among `problems` too."""
    sdk_catalogue: str = ""
    """Fingerprint of the SDK prefix list used; a different list means re-analysis."""
    analyser_version: str = ANALYSER_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (strings, numbers, booleans, None, lists, dicts only)."""
        return {
            "analyser_version": self.analyser_version,
            "sha256": self.sha256,
            "size": self.size,
            "package": self.package,
            "label": self.label,
            "version_name": self.version_name,
            "version_code": self.version_code,
            "min_sdk": self.min_sdk,
            "target_sdk": self.target_sdk,
            "permissions": list(self.permissions),
            "signing_schemes": list(self.signing_schemes),
            "signers": [s.to_dict() for s in self.signers],
            "signatures": [s.to_dict() for s in self.signatures],
            "signature_verified": self.signature_verified,
            "signature_reason": self.signature_reason,
            "signature_detail": self.signature_detail,
            "sdks": [s.to_dict() for s in self.sdks],
            "dex_count": self.dex_count,
            "class_count": self.class_count,
            "components": self.components.to_dict(),
            "readable": self.readable,
            "problems": list(self.problems),
            "code_unread": list(self.code_unread),
            "sdk_catalogue": self.sdk_catalogue,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApkFacts:
        """Rebuild facts from `to_dict()` output; raises `ValueError` if the dict is malformed."""
        try:
            signers = tuple(Signer.from_dict(s) for s in _list(data, "signers"))
            signatures = tuple(SchemeVerification.from_dict(s) for s in _list(data, "signatures"))
            sdks = tuple(EmbeddedSdk.from_dict(s) for s in _list(data, "sdks"))
            components = data["components"]
            if not isinstance(components, Mapping):
                raise ValueError("components is not an object")
            return cls(
                analyser_version=_string(data, "analyser_version"),
                sha256=_string(data, "sha256"),
                size=_int(data, "size"),
                package=_string(data, "package"),
                label=_string(data, "label"),
                version_name=_string(data, "version_name"),
                version_code=_optional_int(data, "version_code"),
                min_sdk=_optional_int(data, "min_sdk"),
                target_sdk=_optional_int(data, "target_sdk"),
                permissions=_strings(data, "permissions"),
                signing_schemes=_strings(data, "signing_schemes"),
                signers=signers,
                signatures=signatures,
                signature_verified=_bool(data, "signature_verified"),
                signature_reason=_string(data, "signature_reason"),
                signature_detail=_string(data, "signature_detail"),
                sdks=sdks,
                dex_count=_int(data, "dex_count"),
                class_count=_int(data, "class_count"),
                components=Components.from_dict(components),
                readable=_bool(data, "readable"),
                problems=_strings(data, "problems"),
                code_unread=_strings(data, "code_unread"),
                sdk_catalogue=_string(data, "sdk_catalogue"),
            )
        except KeyError as missing:
            raise ValueError(f"cached APK facts lack the field {missing}") from None

    def verified_signers(self) -> tuple[Signer, ...]:
        """The certificates Android verifies this APK under (and their rotation lineage);
        none when the signature does not verify."""
        if not self.signature_verified:
            return ()
        return tuple(s for s in self.signers if s.verified)

    def sensitive_permissions(self) -> tuple[str, ...]:
        """The requested permissions that `permissions.csv` marks as privacy-sensitive."""
        return tuple(p.permission for p in sensitive_permissions(self.permissions))


def _string(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} should be a string, not {type(value).__name__}")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} should be an integer, not {type(value).__name__}")
    return value


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data[key] is None else _int(data, key)


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise ValueError(f"{key} should be true or false, not {type(value).__name__}")
    return value


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    value = data[key]
    if not isinstance(value, list | tuple):
        raise ValueError(f"{key} should be a list, not {type(value).__name__}")
    return value


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    values = _list(data, key)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{key} should be a list of strings")
    return tuple(values)
