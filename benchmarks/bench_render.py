"""Time the report writers on a synthetic district (a benchmark, not a test).

Run: python benchmarks/bench_render.py [SCHOOLS] [FINDINGS_PER_SCHOOL]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

import resultfactory

from reports import FORMATS


def main() -> None:
    schools = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    per_school = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    started = time.perf_counter()
    result = resultfactory.synthetic_result(schools, per_school)
    print(
        f"built {schools} schools x {per_school} findings in {time.perf_counter() - started:.1f} s"
    )
    findings = schools * per_school
    with tempfile.TemporaryDirectory() as tmp:
        total = 0.0
        for name, cls in FORMATS.items():
            out = Path(tmp) / name
            out.mkdir()
            started = time.perf_counter()
            paths = cls().write(result, out, "zh")
            took = time.perf_counter() - started
            total += took
            size = sum(p.stat().st_size for p in paths)
            print(
                f"{name:5} {took:6.2f} s  {findings / took:9,.0f} findings/s  "
                f"{size / 1e6:7.1f} MB in {len(paths)} files"
            )
        print(
            f"all   {total:6.2f} s; 5,000 schools would take about {total * 5000 / schools:.0f} s"
        )


if __name__ == "__main__":
    main()
