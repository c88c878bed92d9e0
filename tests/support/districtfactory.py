"""A district judged by the engine and kept in the result store, for the writers' tests:
its schools are rebuilt from the store, their findings known by their verdict's number."""

from __future__ import annotations

import random
from collections.abc import Sequence

from policyfactory import VIEW, item

from policies.engine import Engine
from policies.results import SchoolResult
from scanner.submission import InputProblem, RequiredItem

NAMES = [("闽教高分", "app"), ("巧考", "app"), ("学习通", "app"), ("国家反诈中心", "app"),
         ("某某应用", "app"), ("示例区教育局", "official_account"),
         ("示例反诈宣传", "official_account"), ("示例优选商城", "miniprogram")]  # fmt: skip
SCHOOLS = [("示例实验小学", "3135000001"), ("第二小学", "3135000002"), ("第三中学", "")]


def district_rows(rows: int, seed: int) -> list[RequiredItem | InputProblem]:
    """Rows of three schools from two files, repeating a few requirements, as districts do."""
    rng = random.Random(seed)
    out: list[RequiredItem | InputProblem] = []
    for row in range(2, rows + 2):
        school, code = rng.choice(SCHOOLS)
        source = "春季.csv" if rng.random() < 0.8 else "补报.xlsx"
        if rng.random() < 0.05:
            out.append(InputProblem(source, row, "the name (名称) is empty", "名称为空",
                                    school, code, {"school": school}))  # fmt: skip
            continue
        name, kind = rng.choice(NAMES)
        out.append(
            item(
                name,
                kind=kind,
                row=row,
                source=source,
                school=school,
                school_code=code,
                actions=rng.choice([(), ("下载安装",), ("打卡", "截图"), ("投票",)]),
                quota=rng.choice(["", "参与率100%"]),
                requested_by=rng.choice(["", "区文明办"]),
            )
        )
    return out


def stored_schools(seed: int, rows: int = 300) -> Sequence[SchoolResult]:
    """The schools of `district_rows`, as a scan hands them to the report writers."""
    schools, _ = Engine(VIEW).evaluate(district_rows(rows, seed))
    assert all(f.verdict for s in schools for f in s.findings)
    return schools
