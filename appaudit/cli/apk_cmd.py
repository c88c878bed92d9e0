"""`appaudit apk …`: what an APK really is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from appaudit.apks import ApkAnalyser, default_jobs
from appaudit.cli.common import AppauditGroup, choice, emit, emit_json, fail, format_table, say
from appaudit.settings import load_settings
from scanner.apk import ApkFacts
from scanner.apk.problems import describe_verdict

app = typer.Typer(
    cls=AppauditGroup,
    help="Look inside APKs: package, label, version, signers, SDKs, permissions.",
    no_args_is_help=True,
)

JobsOption = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Worker processes (default: the core count)."),
]
SdkOption = Annotated[
    Path | None,
    typer.Option(
        "--sdk-prefixes",
        help="Extra SDK prefix list (CSV: sdk,vendor,category,prefixes,source), e.g. your own "
        "copy of a tracker list; added to the shipped one.",
    ),
]


@app.command()
def inspect(
    files: Annotated[list[Path], typer.Argument(help="APK files.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the facts as JSON.")] = False,
    jobs: JobsOption = None,
    sdk_prefixes: SdkOption = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Memory and time budget per APK, [apk] (default: ./appaudit.toml)."
        ),
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Signature verdicts in zh or en.")] = "zh",
) -> None:
    """Report what each APK is and whether its signature verifies as Android checks it;
    files that cannot be read are reported with the reason."""
    choice(lang, ("zh", "en"), "--lang")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        fail(f"no such file: {', '.join(missing)}")
    budget = load_settings(config).apk
    analyser = ApkAnalyser(jobs=jobs or default_jobs(), sdk_prefixes=sdk_prefixes, budget=budget)
    facts = analyser.inspect(files)
    if as_json:
        emit_json(
            [{"file": str(path), **f.to_dict()} for path, f in zip(files, facts, strict=True)]
        )
    else:
        pairs = list(zip(files, facts, strict=True))
        emit(format_table(HEADER, [_row(path, f, lang) for path, f in pairs]))
        for path, f in pairs:
            if f.readable and not f.signature_verified:
                # The table cuts long cells; the reason is what a reader needs in full.
                verdict = describe_verdict(False, f.signature_reason, f.signature_detail, lang)
                emit(f"{path.name}: {verdict}")
    unreadable = sum(1 for f in facts if not f.readable)
    invalid = sum(1 for f in facts if f.readable and not f.signature_verified)
    say(f"{len(facts)} APK(s), {unreadable} unreadable, {invalid} without a valid signature")


HEADER = ["file", "package", "label", "version", "min/target", "signature", "schemes", "signers",
          "SDKs", "sensitive permissions", "problems"]  # fmt: skip


def _row(path: Path, facts: ApkFacts, lang: str) -> list[str]:
    version = facts.version_name
    if facts.version_code is not None:
        version = f"{version} ({facts.version_code})".strip()
    sdk_levels = "/".join("" if v is None else str(v) for v in (facts.min_sdk, facts.target_sdk))
    return [
        path.name,
        facts.package,
        facts.label,
        version,
        sdk_levels if sdk_levels != "/" else "",
        describe_verdict(
            facts.signature_verified, facts.signature_reason, facts.signature_detail, lang
        ),
        " ".join(facts.signing_schemes),
        # Only certificates the signature proves are the APK's signers.
        "; ".join(f"{s.sha256[:16]}… {s.subject}" for s in facts.verified_signers()),
        "; ".join(f"{s.name} ({s.category})" for s in facts.sdks),
        ", ".join(p.rsplit(".", 1)[-1] for p in facts.sensitive_permissions()),
        "; ".join(facts.problems),
    ]
