"""Severities: their order, the `review` level (需人工研判), thresholds, config and counts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from policyfactory import CODE, SCHOOL, VIEW, item

from policies.config import ConfigError, PolicyConfig
from policies.engine import Engine
from policies.model import SEVERITIES, SEVERITY_RANK, Finding, at_least, catalogue
from policies.results import SchoolResult
from policies.store import ResultStore, Shelf


def test_review_sits_between_medium_and_info() -> None:
    assert SEVERITIES == ("high", "medium", "review", "info")
    ranked = sorted(SEVERITIES, key=lambda s: -SEVERITY_RANK[s])
    assert ranked == list(SEVERITIES)
    assert set(SEVERITY_RANK) == set(SEVERITIES)


@pytest.mark.parametrize(
    ("threshold", "reached_by"),
    [
        ("high", {"high"}),
        ("medium", {"high", "medium"}),
        ("review", {"high", "medium", "review"}),
        ("info", {"high", "medium", "review", "info"}),
        ("never", set()),
    ],
)
def test_thresholds(threshold: str, reached_by: set[str]) -> None:
    assert {s for s in SEVERITIES if at_least(s, threshold)} == reached_by


def test_no_rule_of_the_catalogue_is_review_by_default() -> None:
    # The engine makes review findings case by case; a bureau may also choose it per rule.
    assert all(spec.severity in SEVERITIES for spec in catalogue().rules.values())
    assert not [r for r, spec in catalogue().rules.items() if spec.severity == "review"]


def test_the_configuration_may_set_a_rule_to_review() -> None:
    config = PolicyConfig.from_mapping({"rules": {"severity": {"QUOTA": "review"}}})
    assert config.severity_of("QUOTA") == "review"
    assert config.severity_of("NON-EDU-APP") == "high"


def test_an_unknown_severity_is_refused_and_the_message_lists_review() -> None:
    with pytest.raises(ConfigError) as refused:
        PolicyConfig.from_mapping({"rules": {"severity": {"QUOTA": "low"}}})
    assert "high, medium, review, info" in str(refused.value)


def _finding(rule: str, severity: str, row: int | None = 2) -> Finding:
    return Finding(rule, severity, SCHOOL, row, "某应用", "app", {}, school_code=CODE)


def test_a_school_counts_review_apart_and_has_every_key() -> None:
    school = SchoolResult(SCHOOL, CODE)
    assert school.counts() == {"high": 0, "medium": 0, "review": 0, "info": 0}
    school.findings += [_finding("QUOTA", "review"), _finding("COMMERCIAL", "review")]
    school.findings.append(_finding("TOO-MANY-APPS", "info", None))
    assert school.counts() == {"high": 0, "medium": 0, "review": 2, "info": 1}
    assert school.worst() == "review"
    assert school.summary().counts["review"] == 2


def test_the_result_store_counts_review_apart() -> None:
    store = ResultStore()
    shelf = Shelf(SCHOOL, CODE)
    verdict = store.verdict([_finding("QUOTA", "review"), _finding("NON-EDU-APP", "high")])
    store.add_item(shelf, item("国家反诈中心"), verdict)
    store.add_item(shelf, item("国家反诈中心", row=3), verdict)
    store.add_school_findings(shelf, [_finding("TOO-MANY-APPS", "review", None)])
    assert shelf.counts_by_severity() == {"high": 2, "medium": 0, "review": 3, "info": 0}
    rebuilt = store.school(shelf)
    assert rebuilt.counts() == shelf.counts_by_severity()


def test_the_engine_gives_a_rule_set_to_review_that_severity() -> None:
    config = PolicyConfig.from_mapping({"rules": {"severity": {"QUOTA": "review"}}})
    rows = [item("闽教高分", identifier="com.zhl.mjqk.aphone", quota="参与率100%")]
    schools, _problems = Engine(VIEW, config).evaluate(rows)
    (school,) = schools
    quota = [f for f in school.findings if f.rule == "QUOTA"]
    assert [f.severity for f in quota] == ["review"]
    (summary,) = schools.summaries()
    assert summary.counts["review"] == 1


def test_a_schools_counts_follow_its_findings() -> None:
    """Counted once for every format that asks, and again once the findings change."""
    school = SchoolResult("示例实验小学", findings=[_finding("QUOTA", "review")])
    assert school.counts() == {"high": 0, "medium": 0, "review": 1, "info": 0}
    school.counts()["high"] = 9  # a caller's copy: the school's counts stay as they are
    school.findings.append(_finding("NON-EDU-APP", "high"))
    assert school.counts() == {"high": 1, "medium": 0, "review": 1, "info": 0}
    school.findings = [_finding("NON-EDU-APP", "medium")]
    assert school.counts() == {"high": 0, "medium": 1, "review": 0, "info": 0}
    assert replace(school, findings=[]).counts() == dict.fromkeys(SEVERITIES, 0)
