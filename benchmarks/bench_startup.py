"""How fast the command line starts, against the interpreter's own start (the floor).

Usage: python benchmarks/bench_startup.py [--repeats N]

Each command runs in a fresh process, as a person types it: `python -c pass` (the floor),
`appaudit --help`, and `appaudit registry list` on a small, already migrated SQLite registry
(the example registry). Each figure is the median of the repeats, printed in seconds and as
a ratio to the floor measured in the same run. The aim is under 0.3 s for both; the
registry list also loads the database library (SQLAlchemy's core, about 0.1 s of it).

Python may write its bytecode caches here (PYTHONDONTWRITEBYTECODE is dropped), and each
command runs once before it is timed: an installed package has its bytecode compiled at
installation, and compiling the sources at every start would measure something no user
waits for.
A benchmark, not a test: nothing is asserted; `python -X importtime -m appaudit …` shows
where a start goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def seconds(command: list[str], repeats: int, env: dict[str, str]) -> float:
    """Median wall time of `command` in a fresh process, output discarded."""
    times = []
    subprocess.run(command, env=env, check=True, capture_output=True)  # caches bytecode
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        # The user's own database, language and data folder stay out of the measurement.
        dropped = ("APPAUDIT_DB", "APPAUDIT_LANG", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env["XDG_DATA_HOME"] = str(Path(tmp) / "data")
        database = str(Path(tmp) / "registry.db")
        for name in ("registry.csv", "adoptions.csv"):
            subprocess.run(
                [python, "-m", "appaudit", "registry", "import", str(EXAMPLES / name),
                 "--db", database],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
        listing = [python, "-m", "appaudit", "registry", "list", "--db", database]
        commands = {
            "python -c pass (floor)": [python, "-c", "pass"],
            "appaudit --help": [python, "-m", "appaudit", "--help"],
            "appaudit registry list": listing,
        }
        floor = None
        print(f"median of {repeats} runs, each in a fresh process")
        for label, command in commands.items():
            took = seconds(command, repeats, env)
            floor = floor or took
            print(f"{label:26} {took:6.3f} s  {took / floor:5.1f}× the floor")


if __name__ == "__main__":
    main()
