"""APK analysis and acquisition: facts read from an APK's bytes, and where APKs come from."""

from scanner.apk.analyse import ApkIdentity, analyse_apk, hash_file, identify_apk
from scanner.apk.facts import (
    ANALYSER_VERSION,
    SIGNING_SCHEMES,
    ApkFacts,
    Components,
    EmbeddedSdk,
    Signer,
)
from scanner.apk.permissions import PermissionInfo, describe_permission, sensitive_permissions
from scanner.apk.sdk import SdkCatalogue, SdkCatalogueError, builtin_catalogue, load_catalogue
from scanner.apk.ziparchive import DEFAULT_LIMITS, Failure, Limits

__all__ = [
    "ANALYSER_VERSION",
    "DEFAULT_LIMITS",
    "SIGNING_SCHEMES",
    "ApkFacts",
    "ApkIdentity",
    "Components",
    "EmbeddedSdk",
    "Failure",
    "Limits",
    "PermissionInfo",
    "SdkCatalogue",
    "SdkCatalogueError",
    "Signer",
    "analyse_apk",
    "builtin_catalogue",
    "describe_permission",
    "hash_file",
    "identify_apk",
    "load_catalogue",
    "sensitive_permissions",
]
