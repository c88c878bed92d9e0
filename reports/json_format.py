"""`findings.json`: the machine-readable findings, written school by school; keys never renamed.

What repeats is written once: at the top, each rule's title and remediation (`rules`) and
each clause's text (`clauses`), which a finding names by key in `basis`; per school, the
files its rows come from (`sources`), which a finding names in `source` only when there
are several.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

from policies.model import Finding, VerdictMemo, catalogue, variant_of
from policies.results import ScanResult, SchoolResult
from reports.interface import SCHOOLS_AT_ONCE, ReportFormat, SchoolWriter
from reports.text import check_lang, finding_rule_text, message
from scanner.safetext import REPLACE_ERRORS

FILE_NAME = "findings.json"


def _json_default(value: Any) -> Any:
    """Evidence is meant to be JSON-safe; whatever slips through is still written, readably."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def compact_json(value: Any) -> str:
    """One-line JSON, non-ASCII kept as is (for CSV cells and nested evidence)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def rules_dict(lang: str) -> dict[str, Any]:
    """Every rule of the catalogue, written once for all its findings: title, default
    severity (each finding carries its own), remediation, the keys of the clauses it rests
    on, and the same for each cause it words differently (a finding's `cause`)."""
    out: dict[str, Any] = {}
    for rule_id, spec in catalogue().rules.items():
        causes: dict[str, Any] = {}
        for name, variant in spec.variants.items():
            cause: dict[str, Any] = {}
            if variant.label:
                cause["label"] = variant.label[lang]
            cause["remediation"] = spec.remediation_of(name)[lang]
            cause["basis"] = [c.ref for c in spec.basis_of(name)]
            causes[name] = cause
        out[rule_id] = {
            "title": spec.title[lang],
            "severity": spec.severity,
            "remediation": spec.remediation[lang],
            "basis": [c.ref for c in spec.basis],
            "causes": causes,
        }
    return out


def clauses_dict() -> dict[str, Any]:
    """Every clause a rule cites, by the key findings' `basis` holds: how documents cite it
    and its text."""
    return {key: {"cite": c.cite, "text": c.text} for key, c in catalogue().clauses.items()}


def finding_dict(finding: Finding, lang: str, *, source: bool = True) -> dict[str, Any]:
    """A finding as `findings.json` carries it: the contract keys first, then extras.

    What every finding of a rule shares (title, remediation, clause texts) is in the
    top-level `rules` and `clauses`; `basis` lists the keys of the finding's clauses.
    `source` (the file of the row) only when its school's rows come from several files.
    """
    out: dict[str, Any] = {
        "rule": finding.rule,
        "severity": finding.severity,
        "row": finding.row,
        "item": finding.item,
        "kind": finding.kind,
        "message": message(finding, lang),
        "basis": [c.ref for c in finding_rule_text(finding, lang).clauses],
        "evidence": finding.evidence,
    }
    cause = variant_of(finding)
    if cause:
        out["cause"] = cause
    if source:
        out["source"] = finding.source
    return out


_source = operator.attrgetter("source")


def school_sources(school: SchoolResult) -> list[str]:
    """The files a school's findings and unreadable rows come from, in order of appearance
    (nearly always one: then its findings do not repeat it)."""
    found = dict.fromkeys(map(_source, school.findings))
    found.update(dict.fromkeys(map(_source, school.problems)))
    return list(found)


def school_dict(school: SchoolResult, lang: str) -> dict[str, Any]:
    sources = school_sources(school)
    several = len(sources) > 1
    return {
        **_school_head(school, sources),
        "findings": [
            finding_dict(f, lang, source=several) | extra
            for f, extra in zip(school.findings, _ledger_extras(school), strict=True)
        ]
        + [finding_dict(f, lang, source=several) | {"waived": dict(w)} for f, w in school.waived],
        **_school_rest(school, lang),
    }


def _ledger_extras(school: SchoolResult) -> list[dict[str, Any]]:
    """Each finding's ledger number (`ledger_id`), when the scan kept a ledger."""
    if not school.ledger_tags:
        return [{} for _ in school.findings]
    return [{"ledger_id": tag.number} if tag else {} for tag in school.ledger_tags]


def _school_head(school: SchoolResult, sources: list[str]) -> dict[str, Any]:
    return {
        "school": school.school,
        "school_code": school.school_code,
        "school_names": school.names,
        "sources": sources,
    }


def _school_rest(school: SchoolResult, lang: str) -> dict[str, Any]:
    return {
        "input_problems": [
            {"row": p.row, "message": p.text(lang), "source": p.source} for p in school.problems
        ],
        "counts": school.counts(),
        "items": len(school.items),
    }


_ROW = '"row":null'
_LEDGER_ID = b',"ledger_id":"'


def _utf8(text: str) -> bytes:
    """Text as `findings.json` holds it: undecodable bytes of a file name (lone surrogates)
    are written as U+FFFD."""
    return text.encode("utf-8", REPLACE_ERRORS)


class VerdictJson:
    """Findings as UTF-8 JSON, the part that does not depend on the row built (and encoded)
    once per verdict.

    Gives exactly what `school_dict` holds for the finding, a district's worth faster.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.memo: VerdictMemo[tuple[bytes, bytes]] = VerdictMemo()
        """Per verdict: the JSON before the row, and after it up to the closing brace (the
        file and any extras follow)."""
        self.sources: dict[str, bytes] = {}

    def __call__(self, finding: Finding, *, source: bool = False) -> bytes:
        return self.join([finding], source=source)

    def join(
        self,
        findings: Sequence[Finding],
        *,
        source: bool = False,
        extras: Sequence[bytes] | None = None,
        ledger_ids: Sequence[bytes] | None = None,
    ) -> bytes:
        """The findings as the items of a JSON array: pieces made once per verdict (the
        text around the row), per row and per file, joined once. `extras` (one per
        finding: keys and values, each after a comma) go last in each finding, after its
        `ledger_id` (`ledger_ids`: one per finding, ASCII, or empty for none)."""
        for given in (ledger_ids, extras):
            if given is not None and len(given) != len(findings):
                raise ValueError("one ledger id and one extra for each finding")
        pairs: Iterable[tuple[Finding, bytes, bytes]] = zip(
            findings,
            repeat(b"") if ledger_ids is None else ledger_ids,
            repeat(b"") if extras is None else extras,
            strict=False,  # their lengths checked above; an absent one repeats b""
        )
        known = self.memo.by_number.get
        parts: list[bytes] = []
        add = parts.append
        row: int | None = -1
        shown = b""
        for finding, ledger_id, extra in pairs:
            around = known(finding.verdict)
            if around is None:
                around = self._around(finding)
            if finding.row != row:
                row = finding.row
                shown = b"null" if row is None else b"%d" % row
            add(around[0])
            add(shown)
            add(around[1])
            if source:
                add(self._source(finding.source))
            if ledger_id:
                add(_LEDGER_ID)
                add(ledger_id)
                add(b'"')
            if extra:
                add(extra)
            add(b"},")
        if parts:
            parts[-1] = b"}"  # no separator after the last finding
        return b"".join(parts)

    def _around(self, finding: Finding) -> tuple[bytes, bytes]:
        """The finding's JSON before its row, and after it up to its closing brace."""
        found = self.memo.get(finding)
        if found is not None:
            return found
        whole = finding_dict(finding, self.lang, source=False)
        whole["row"] = None
        # No string can hold the key: its quotes would be escaped there.
        before, _, after = compact_json(whole).partition(_ROW)
        return self.memo.put(finding, (_utf8(before + '"row":'), _utf8(after[:-1])))

    def _source(self, path: str) -> bytes:
        """The finding's file, for a school with several (its closing brace follows)."""
        text = self.sources.get(path)
        if text is None:
            text = self.sources[path] = _utf8(f',"source":{compact_json(path)}')
        return text


def school_json(school: SchoolResult, lang: str, finding_json: VerdictJson) -> bytes:
    """The school's line of `findings.json`, in UTF-8: `school_dict` as compact JSON."""
    sources = school_sources(school)
    several = len(sources) > 1
    head = _utf8(compact_json(_school_head(school, sources)))
    ledger_ids = None
    if school.ledger_tags:
        ledger_ids = [tag.number.encode("ascii") if tag else b"" for tag in school.ledger_tags]
    findings = finding_json.join(school.findings, source=several, ledger_ids=ledger_ids)
    if school.waived:
        waived = finding_json.join(
            [f for f, _w in school.waived],
            source=several,
            extras=[b',"waived":' + _utf8(compact_json(dict(w))) for _f, w in school.waived],
        )
        findings = b"%b,%b" % (findings, waived) if findings else waived
    rest = _utf8(compact_json(_school_rest(school, lang)))
    return b'%b,"findings":[%b],%b' % (head[:-1], findings, rest[1:])


class SchoolLines:
    """Each school's line of `findings.json`, made once in a pass for all who want it: the
    file itself, and the scan history, which keeps each school as the file has it."""

    def __init__(self, lang: str) -> None:
        check_lang(lang)
        self.lang = lang
        self.finding_json = VerdictJson(lang)
        self._recent: dict[int, tuple[SchoolResult, bytes]] = {}
        """The lines of the schools the writers have in hand, by the school's identity."""

    def __call__(self, school: SchoolResult) -> bytes:
        recent = self._recent
        found = recent.get(id(school))
        if found is not None and found[0] is school:  # the pass hands one object to all
            return found[1]
        line = school_json(school, self.lang, self.finding_json)
        if len(recent) >= 2 * SCHOOLS_AT_ONCE:  # the pass has moved on from the oldest
            del recent[next(iter(recent))]
        recent[id(school)] = (school, line)
        return line


def head_dict(result: ScanResult, lang: str) -> dict[str, Any]:
    """Everything but the schools and the counts: the tool, the run, its inputs and its
    registry, and what the findings share (rules, clauses, the notice they come from)."""
    registry = result.registry
    return {
        "tool": {"name": "appaudit", "version": result.tool_version},
        "generated_at": result.generated_at.isoformat(),
        "lang": lang,
        "run_id": result.run_id,
        "registry": {
            "source": registry.source,
            "digest": registry.digest,
            "entries": registry.entries,
            "adoptions": registry.adoptions,
        },
        "catalogue_digest": result.catalogue_digest,
        "inputs": [f.to_dict() for f in result.inputs],
        "file_problems": [
            {"row": p.row, "message": p.text(lang), "source": p.source}
            for p in result.file_problems
        ],
        "notice": dict(catalogue().notice),
        "rules": rules_dict(lang),
        "clauses": clauses_dict(),
    }


class JsonFormat(ReportFormat):
    """`findings.json`, one school per line so that a district of thousands stays cheap."""

    name = "json"

    def __init__(
        self, *, headers: str | None = None, jobs: int = 1, lines: SchoolLines | None = None
    ) -> None:
        super().__init__(headers=headers, jobs=jobs)
        self.lines = lines
        """The pass's school lines, when another writer (the scan history) wants them too."""

    def open(self, result: ScanResult, out_dir: Path, lang: str) -> SchoolWriter:
        check_lang(lang)
        lines = self.lines if self.lines is not None and self.lines.lang == lang else None
        return _JsonWriter(result, out_dir / FILE_NAME, lines or SchoolLines(lang))


class _JsonWriter(SchoolWriter):
    def __init__(self, result: ScanResult, path: Path, lines: SchoolLines) -> None:
        self.result = result
        self.path = path
        self.lines = lines
        lang = lines.lang
        self.first = True
        head = _utf8(compact_json(head_dict(result, lang)))
        # Written in UTF-8 as it is made: each verdict's part is encoded once, not each time
        # a school repeats it.
        self.handle = path.open("wb")
        # The head's closing brace is reopened to append the schools array, so the
        # document is built piece by piece rather than held whole in memory.
        self.handle.write(head[:-1])
        self.handle.write(b',"schools":[')

    def add(self, school: SchoolResult) -> None:
        self.handle.write(b"\n" if self.first else b",\n")
        self.first = False
        self.handle.write(self.lines(school))

    def close(self) -> list[Path]:
        # The counts come last: what the reports count (waived findings left out) is known
        # once every school has been through the pass.
        counts = _utf8(compact_json({"counts": self.result.counts()}))
        self.handle.write(b"\n],%b\n" % counts[1:])
        self.handle.close()
        return [self.path]

    def abort(self) -> None:
        self.handle.close()
