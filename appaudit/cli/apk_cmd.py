"""`appaudit apk …`: what an APK really is.

The APK reader is imported by the command, so that `appaudit --help` starts without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from appaudit.cli.common import (
    AppauditCommand,
    AppauditGroup,
    LangOption,
    emit,
    emit_json,
    fail,
    format_table,
    headers,
    say,
    speak,
)
from appaudit.messages import h, m, t

if TYPE_CHECKING:
    from scanner.apk import ApkFacts

app = typer.Typer(cls=AppauditGroup, help=h("apk"), no_args_is_help=True)

JobsOption = Annotated[int | None, typer.Option("--jobs", "-j", min=1, help=h("opt_jobs"))]
SdkOption = Annotated[Path | None, typer.Option("--sdk-prefixes", help=h("opt_sdk_prefixes"))]


@app.command(help=h("cmd_apk_inspect"), cls=AppauditCommand)
def inspect(
    files: Annotated[list[Path], typer.Argument(help=h("arg_apks"))],
    as_json: Annotated[bool, typer.Option("--json", help=h("opt_apk_json"))] = False,
    jobs: JobsOption = None,
    sdk_prefixes: SdkOption = None,
    config: Annotated[Path | None, typer.Option("--config", help=h("opt_apk_config"))] = None,
    lang: LangOption = None,
) -> None:
    from appaudit.apks import ApkAnalyser, default_jobs
    from appaudit.settings import load_settings
    from scanner.apk.problems import describe_verdict

    lang = speak(lang)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        fail(m("no_such_file", files=", ".join(missing)))
    budget = load_settings(config).apk
    analyser = ApkAnalyser(jobs=jobs or default_jobs(), sdk_prefixes=sdk_prefixes, budget=budget)
    facts = analyser.inspect(files)
    if as_json:
        emit_json(
            [{"file": str(path), **f.to_dict()} for path, f in zip(files, facts, strict=True)]
        )
    else:
        pairs = list(zip(files, facts, strict=True))
        emit(format_table(_header(), [_row(path, f, lang) for path, f in pairs]))
        for path, f in pairs:
            if f.readable and not f.signature_verified:
                # The table cuts long cells; the reason is what a reader needs in full.
                verdict = describe_verdict(False, f.signature_reason, f.signature_detail, lang)
                emit(f"{path.name}{t('colon')}{verdict}")
    unreadable = sum(1 for f in facts if not f.readable)
    invalid = sum(1 for f in facts if f.readable and not f.signature_verified)
    say(t("apk_summary", count=len(facts), unreadable=unreadable, invalid=invalid))


def _header() -> list[str]:
    return headers("file", "package", "label", "version", "sdk_levels", "signature", "schemes",
                   "signers", "sdks", "sensitive_permissions", "problems")  # fmt: skip


def _row(path: Path, facts: ApkFacts, lang: str) -> list[str]:
    from reports.evidence import sdk_category
    from scanner.apk.permissions import describe_permission
    from scanner.apk.problems import describe_failure, describe_verdict

    version = facts.version_name
    if facts.version_code is not None:
        version = f"{version} ({facts.version_code})".strip()
    sdk_levels = "/".join("" if v is None else str(v) for v in (facts.min_sdk, facts.target_sdk))
    sep = t("list_sep")
    if facts.readable:
        verdict = describe_verdict(
            facts.signature_verified, facts.signature_reason, facts.signature_detail, lang
        )
    else:
        verdict = t("apk_unreadable_cell")
    permissions = [describe_permission(p) for p in facts.sensitive_permissions()]
    return [
        path.name,
        facts.package,
        facts.label,
        version,
        sdk_levels if sdk_levels != "/" else "",
        verdict,
        " ".join(facts.signing_schemes),
        # Only certificates the signature proves are the APK's signers.
        "; ".join(f"{s.sha256[:16]}… {s.subject}" for s in facts.verified_signers()),
        sep.join(f"{s.name}{t('paren', text=sdk_category(s.category, lang))}" for s in facts.sdks),
        sep.join(
            p.name_zh if lang == "zh" else p.permission.rsplit(".", 1)[-1] for p in permissions
        ),
        # The scanner states problems in English with their detail; `--json` keeps them so.
        t("clause_sep").join(dict.fromkeys(describe_failure(p, lang) for p in facts.problems)),
    ]
