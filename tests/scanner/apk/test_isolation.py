"""Worker processes: whatever one job does to its worker, the others finish, within budgets."""

from __future__ import annotations

import time
from pathlib import Path

import apkfactory
import pytest
from misbehaving import behave

from scanner.apk import ApkFacts, analyse_apk
from scanner.apk.isolation import analyse_isolated, run_isolated
from scanner.apk.ziparchive import Failure


def run(*jobs: tuple[object, ...], workers: int = 1, memory_mb: int = 256,
        seconds: float = 30, tasks_per_worker: int = 32) -> list[object]:  # fmt: skip
    return run_isolated(
        behave, list(jobs), workers=workers, memory_mb=memory_mb, seconds=seconds,
        tasks_per_worker=tasks_per_worker,
    )  # fmt: skip


def reason(outcome: object) -> str:
    assert isinstance(outcome, Failure), outcome
    return outcome.reason


def test_every_failure_stays_with_its_job_and_the_others_finish() -> None:
    jobs = ["raise", "segfault", "exit", "sigkill", "unpicklable"]
    outcomes = run(*[(how,) for bad in jobs for how in (bad, "pid")], workers=2)
    bad, good = outcomes[0::2], outcomes[1::2]
    assert [reason(o) for o in bad[:4]] == [
        "the analysis failed with an internal error (ValueError: broken on purpose)",
        "the analysis process crashed (SIGSEGV)",
        "the analysis process ended unexpectedly (exit code 7)",
        "the analysis process was killed (SIGKILL), e.g. for lack of memory",
    ]
    assert reason(bad[4]).startswith(
        "the analysis failed with an internal error (its result could not be sent ("
    )
    assert all(isinstance(pid, int) for pid in good)


def test_a_crash_does_not_fail_jobs_waiting_behind_it() -> None:
    # A ProcessPoolExecutor fails every pending job with BrokenProcessPool when one
    # worker dies; here only the crashing job fails.
    outcomes = run(("pid",), ("segfault",), *[("pid",)] * 6, workers=2)
    assert reason(outcomes[1]) == "the analysis process crashed (SIGSEGV)"
    assert all(isinstance(o, int) for i, o in enumerate(outcomes) if i != 1)


def test_workers_are_reused_and_replaced_after_failures_and_every_n_jobs() -> None:
    reused = run(*[("pid",)] * 6, workers=1)
    assert len(set(reused)) == 1
    recycled = run(*[("pid",)] * 5, workers=1, tasks_per_worker=2)
    assert [recycled.index(p) for p in recycled] == [0, 0, 2, 2, 4]
    after_failure = run(("pid",), ("raise",), ("pid",), workers=1)
    assert isinstance(after_failure[1], Failure)
    assert after_failure[0] != after_failure[2]


def test_memory_budget_is_enforced_inside_the_worker() -> None:
    outcomes = run(("allocate", 40), ("allocate", 200), ("allocate", 40), memory_mb=64)
    assert outcomes[0] == 40 and outcomes[2] == 40
    assert reason(outcomes[1]) == (
        "the analysis needed more than 64 MB (the memory budget per APK) and was stopped"
    )


def test_time_budget_stops_a_job_that_hangs() -> None:
    started = time.monotonic()
    outcomes = run(("sleep", 60), ("pid",), seconds=1.5)
    elapsed = time.monotonic() - started
    assert reason(outcomes[0]) == (
        "the analysis took longer than 1.5 s (the time budget per APK) and was stopped"
    )
    assert isinstance(outcomes[1], int)
    assert elapsed < 20  # not the 60 s the job wanted


def test_start_up_time_does_not_count_against_the_budget() -> None:
    # A fresh worker needs a good part of a second to start; a 0.5 s budget is for the job.
    outcomes = run(("sleep", 0.1), ("sleep", 0.1), seconds=0.5, workers=2)
    assert outcomes == ["awake", "awake"]


def test_apks_analysed_in_workers_equal_in_process_analysis(tmp_path: Path) -> None:
    good = apkfactory.simple_apk(tmp_path / "good.apk")
    broken = tmp_path / "broken.apk"
    broken.write_bytes(b"not a zip")
    outcomes = analyse_isolated(
        [good, broken], sdk_prefixes=None, workers=2, memory_mb=512, seconds=60
    )
    assert outcomes == [analyse_apk(good), analyse_apk(broken)]
    assert isinstance(outcomes[0], ApkFacts) and outcomes[0].readable


@pytest.mark.parametrize("workers", [1, 3])
def test_no_jobs_start_no_workers(workers: int) -> None:
    assert run(workers=workers) == []
