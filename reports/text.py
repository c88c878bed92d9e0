"""The words a report is written in: interface strings, kinds, severities and rule texts."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from policies.model import Clause, Finding, catalogue, variant_of
from reports.interface import ReportError

LANGUAGES = ("zh", "en")
"""Report languages, the default first."""


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ReportError(f"unknown report language {lang!r} (choose from {', '.join(LANGUAGES)})")
    return lang


@dataclass(frozen=True)
class Strings:
    """The interface words of one language."""

    lang: str
    words: Mapping[str, str]
    kinds: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.words[key]

    def kind(self, kind: str) -> str:
        return self.kinds.get(kind, kind)

    def severity(self, severity: str) -> str:
        return self.words.get(f"severity_{severity}", severity)

    def row(self, row: int | None) -> str:
        return self.words["whole_school"] if row is None else self.words["row_n"].format(row=row)


@cache
def _raw_strings() -> dict[str, dict[str, object]]:
    text = resources.files("reports").joinpath("templates/strings.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def strings(lang: str) -> Strings:
    table = _raw_strings()[check_lang(lang)]
    words = {k: v for k, v in table.items() if isinstance(v, str)}
    kinds = table.get("kinds", {})
    assert isinstance(kinds, dict)
    return Strings(lang, words, kinds)


@dataclass(frozen=True)
class RuleText:
    """What a report says about a rule in one language, looked up once per rule."""

    id: str
    scope: str
    title: str
    remediation: str
    basis_ref: str
    basis_text: str
    clauses: tuple[Clause, ...]


@cache
def rule_text(rule_id: str, lang: str, variant: str = "") -> RuleText:
    """The rule's wording; `variant` (a finding's cause, see `variant_of`) picks the
    remediation and basis of that cause where they differ from the rule's."""
    spec = catalogue().rules.get(rule_id)
    if spec is None:
        # A rule the catalogue does not know (e.g. results stored by a newer version) is
        # still reported, under its id, rather than failing the whole report.
        return RuleText(rule_id, "item", rule_id, "", "—", "—", ())
    return RuleText(
        id=rule_id,
        scope=spec.scope,
        title=spec.title[lang],
        remediation=spec.remediation_of(variant)[lang],
        basis_ref=spec.basis_ref(variant),
        basis_text=spec.basis_text(variant),
        clauses=spec.basis_of(variant),
    )


def finding_rule_text(finding: Finding, lang: str) -> RuleText:
    """The wording of the finding's rule for the finding's own cause."""
    return rule_text(finding.rule, lang, variant_of(finding))


def message(finding: Finding, lang: str) -> str:
    """The finding in plain words, in `lang`."""
    cat = catalogue()
    if finding.rule not in cat.rules:
        return finding.item or finding.rule
    return cat.message(finding, lang)


@cache
def rule_order() -> Mapping[str, int]:
    """Catalogue order of the rule ids, for listing rule ids consistently (the catalogue is
    read once, so is this; pages look it up for each new verdict)."""
    return {rule_id: i for i, rule_id in enumerate(catalogue().rules)}


def around_field(template: str, name: str) -> tuple[str, str] | None:
    """What a message template says before and after its one field `name`, when that is all
    it holds (no other field, no doubled brace): such a template is filled by joining, which
    costs a district's pages far less than `str.format` for each item."""
    before, mark, after = template.partition("{" + name + "}")
    if not mark or any(c in before + after for c in "{}"):
        return None
    return before, after
