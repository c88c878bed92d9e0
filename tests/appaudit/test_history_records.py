"""The scan history's record of a school, put together from pieces made once per verdict and
per row, is exactly its findings and unreadable rows dumped one by one."""

from __future__ import annotations

import json

from districtfactory import stored_schools

from appaudit.pipeline import _History, _RecordJson, finding_record
from registry import runs


def test_the_stored_history_of_a_school_is_its_records_dumped_one_by_one() -> None:
    for seed in range(3):
        history = _History()  # one for the scan: verdicts shared across schools
        for school in stored_schools(seed):
            history.add(school)
            plain = {
                "findings": [finding_record(f) for f in school.findings],
                "input_problems": [p.to_dict() for p in school.problems],
            }
            stored = history.schools[-1]
            assert (stored.school, stored.counts) == (school.school, school.counts())
            assert runs.unpack(stored.findings) == json.dumps(
                plain, ensure_ascii=False, default=str
            )


def test_one_record_and_none() -> None:
    records = _RecordJson()
    finding = stored_schools(0)[0].findings[0]
    assert records(finding).decode("utf-8") == json.dumps(
        finding_record(finding), ensure_ascii=False, default=str
    )
    assert records.join([]) == b""
