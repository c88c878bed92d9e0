"""APK analysis in worker processes, so that no single APK can take a scan down with it.

The readers bound what they read, but a hostile or broken APK can still do more to the
process that reads it than a reader can prevent: an exception from deep inside a library,
a crash, more memory or more time than anyone should spend on one file. Each APK is
therefore analysed in a worker process, under a memory budget the worker sets on itself
(`RLIMIT_DATA`, the limit Linux enforces on what Python allocates) and a time budget the
pool keeps from outside (a worker past it is killed). Whatever happens ends as a `Failure`
for that APK alone, and the other APKs are analysed by the other workers.

Workers are started with `spawn` (a scan may hold a whole district in memory that they do
not need), re-used from one APK to the next, replaced after any failure and every
`TASKS_PER_WORKER` APKs, and they die with the process that started them: on Linux the
kernel kills them when it does (`PR_SET_PDEATHSIG`), elsewhere an idle worker leaves when
its pipe closes. The thread that calls `run_isolated` must outlive the call, since Linux
ties that signal to the thread that started the worker; `run_isolated` stops its workers
before it returns.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Generic, TypeVar

from scanner.apk.analyse import analyse_apk
from scanner.apk.facts import ApkFacts
from scanner.apk.sdk import SdkCatalogue, load_catalogue
from scanner.apk.ziparchive import Failure

T = TypeVar("T")

TASKS_PER_WORKER = 32
"""APKs one worker analyses before it is replaced (memory a long life fragments)."""
STARTUP_SECONDS = 60.0
"""How long a new worker may take to start (imports) before its first task's clock runs."""
STOP_SECONDS = 5.0
"""How long a worker told to stop may take before it is killed."""

_EXIT_MEMORY = 3
_EXIT_ORPHANED = 4
_PR_SET_PDEATHSIG = 1
_MAX_ERROR_TEXT = 300


def run_isolated(
    task: Callable[..., T],
    jobs: Sequence[tuple[Any, ...]],
    *,
    workers: int,
    memory_mb: int,
    seconds: float,
    tasks_per_worker: int = TASKS_PER_WORKER,
) -> list[T | Failure]:
    """`task(*job)` for each job, each in a worker process within the budgets, in order.

    `task` must be a module-level function (workers import it by name). A job whose
    worker raised, crashed, ran out of its memory budget or out of its time budget gets
    a `Failure` saying which, in plain words; the other jobs are not affected.
    """
    results: list[T | Failure | None] = [None] * len(jobs)
    pool = _Pool(task, memory_mb, seconds, tasks_per_worker)
    waiting = deque(range(len(jobs)))
    try:
        while waiting or pool.busy:
            while waiting and len(pool.busy) < max(1, workers):
                index = waiting.popleft()
                refused = pool.submit(index, jobs[index])
                if refused is not None:
                    results[index] = refused
            for index, outcome in pool.collect():
                results[index] = outcome
    finally:
        pool.close()
    return [r if r is not None else Failure("the analysis did not run") for r in results]


# --------------------------------------------------------------------------- the APK task


def analyse_isolated(
    paths: Sequence[Path],
    *,
    sdk_prefixes: Path | None,
    workers: int,
    memory_mb: int,
    seconds: float,
) -> list[ApkFacts | Failure]:
    """`analyse_apk` for each file in worker processes; a `Failure` where a budget ran out
    or the worker died (the bytes did not decide it, so it is not a fact about the file)."""
    return run_isolated(
        analyse_in_worker,
        [(path, sdk_prefixes) for path in paths],
        workers=workers,
        memory_mb=memory_mb,
        seconds=seconds,
    )


_CATALOGUES: dict[Path | None, SdkCatalogue] = {}


def analyse_in_worker(path: Path, sdk_prefixes: Path | None) -> ApkFacts:
    """The task a worker runs: the SDK catalogue is loaded once per worker."""
    catalogue = _CATALOGUES.get(sdk_prefixes)
    if catalogue is None:
        catalogue = _CATALOGUES[sdk_prefixes] = load_catalogue(sdk_prefixes)
    return analyse_apk(path, catalogue=catalogue)


# --------------------------------------------------------------------------- the parent side


class _Worker:
    """One worker process, its end of the pipe, and the job it is working on."""

    def __init__(self, context: Any, task: Callable[..., Any], memory_mb: int) -> None:
        self.connection, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve,
            args=(theirs, task, os.getpid(), memory_mb),
            name="appaudit-apk-worker",
            daemon=True,
        )
        try:
            self.process.start()
        finally:
            theirs.close()
        self.ready = False
        self.done = 0
        self.job: int | None = None
        self.deadline = 0.0

    def exit_code(self) -> int | None:
        """How the process ended (waiting up to a second for it to), None if it has not."""
        self.process.join(1.0)
        return self.process.exitcode

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.connection.send(None)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(STOP_SECONDS)

    def release(self) -> None:
        self.connection.close()
        # ValueError: still running after SIGKILL, left to the operating system.
        with contextlib.suppress(ValueError):
            self.process.close()


class _Pool(Generic[T]):
    def __init__(
        self, task: Callable[..., T], memory_mb: int, seconds: float, tasks_per_worker: int
    ) -> None:
        self.task = task
        self.memory_mb = memory_mb
        self.seconds = seconds
        self.tasks_per_worker = tasks_per_worker
        self.context = multiprocessing.get_context("spawn")
        self.idle: list[_Worker] = []
        self.busy: list[_Worker] = []
        self.stopping: list[_Worker] = []

    def submit(self, index: int, job: tuple[Any, ...]) -> Failure | None:
        if self.idle:
            worker = self.idle.pop()
        else:
            try:
                worker = _Worker(self.context, self.task, self.memory_mb)
            except OSError as exc:
                return Failure(f"no analysis process could be started ({exc.strerror or exc})")
        try:
            worker.connection.send(job)
        except (OSError, ValueError):
            failure = self._why_ended(worker)
            self._retire(worker, kill=True)
            return failure
        worker.job = index
        startup = 0.0 if worker.ready else STARTUP_SECONDS
        worker.deadline = time.monotonic() + startup + self.seconds
        self.busy.append(worker)
        return None

    def collect(self) -> list[tuple[int, T | Failure]]:
        """Wait for at least one busy worker to finish, fail or run out of time."""
        soonest = min(w.deadline for w in self.busy)
        handles: list[Any] = [w.connection for w in self.busy]
        handles += [w.process.sentinel for w in self.busy]
        ready = set(wait(handles, timeout=max(0.0, soonest - time.monotonic())))
        finished: list[tuple[int, T | Failure]] = []
        for worker in list(self.busy):
            job = worker.job
            outcome: T | Failure | None = None
            if worker.connection in ready or worker.process.sentinel in ready:
                outcome = self._receive(worker)
            elif time.monotonic() >= worker.deadline:
                outcome = Failure(
                    f"the analysis took longer than {self.seconds:g} s (the time budget "
                    "per APK) and was stopped"
                )
                self.busy.remove(worker)
                self._retire(worker, kill=True)
            if outcome is not None and job is not None:
                finished.append((job, outcome))
        return finished

    def _receive(self, worker: _Worker) -> T | Failure | None:
        """The worker's reply, or why there is none; None if it only said it is ready."""
        try:
            reply = worker.connection.recv() if worker.connection.poll() else None
        except (EOFError, OSError):
            reply = None
        except Exception as exc:  # a reply that cannot be unpickled
            reply = ("error", f"its result could not be read back ({type(exc).__name__})")
        if reply == ("ready",):
            worker.ready = True
            worker.deadline = time.monotonic() + self.seconds
            return None
        self.busy.remove(worker)
        if reply is None:
            failure = self._why_ended(worker)
            self._retire(worker, kill=True)
            return failure
        kind, value = reply
        if kind == "ok":
            worker.done += 1
            worker.job = None
            if worker.done >= self.tasks_per_worker:
                self._retire(worker)
            else:
                self.idle.append(worker)
            result: T = value
            return result
        # After any failure the next APK gets a fresh process, whatever state this one is in.
        self._retire(worker, kill=kind != "memory")
        if kind == "memory":
            return Failure(self._memory_reason())
        return Failure(f"the analysis failed with an internal error ({value})")

    def _why_ended(self, worker: _Worker) -> Failure:
        code = worker.exit_code()
        if code == _EXIT_MEMORY:
            return Failure(self._memory_reason())
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if -code == signal.SIGKILL:
                return Failure(f"the analysis process was killed ({name}), e.g. for lack of memory")
            return Failure(f"the analysis process crashed ({name})")
        return Failure(f"the analysis process ended unexpectedly (exit code {code})")

    def _memory_reason(self) -> str:
        return (
            f"the analysis needed more than {self.memory_mb} MB (the memory budget per APK) "
            "and was stopped"
        )

    def _retire(self, worker: _Worker, *, kill: bool = False) -> None:
        if kill:
            worker.kill()
        else:
            worker.stop()
        self.stopping.append(worker)

    def close(self) -> None:
        """Stop every worker: idle ones are told to, busy ones (after an error) are killed."""
        for worker in self.busy:
            worker.kill()
        for worker in self.idle:
            worker.stop()
        end = time.monotonic() + STOP_SECONDS
        for worker in [*self.stopping, *self.idle, *self.busy]:
            worker.process.join(max(0.0, end - time.monotonic()))
            worker.kill()
            worker.release()
        self.idle, self.busy, self.stopping = [], [], []


# --------------------------------------------------------------------------- the worker side


def _serve(
    connection: Connection, task: Callable[..., Any], parent_pid: int, memory_mb: int
) -> None:
    """A worker's life: take a job, run it, send back its result or what went wrong."""
    _die_with_parent(parent_pid)
    # Interrupts are the parent's to handle; output from libraries is nobody's business.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _quiet_output()
    _limit_memory(memory_mb)
    connection.send(("ready",))
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if job is None:
            return
        reply: tuple[str, Any]
        try:
            reply = ("ok", task(*job))
        except MemoryError:
            reply = ("memory", None)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            reply = ("error", text[:_MAX_ERROR_TEXT])
        try:
            connection.send(reply)
        except MemoryError:
            os._exit(_EXIT_MEMORY)
        except Exception as exc:  # a result that cannot be pickled
            connection.send(("error", f"its result could not be sent ({type(exc).__name__})"))
        if reply[0] == "memory":
            return


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies; leave if that already happened."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was asked for
        os._exit(_EXIT_ORPHANED)


def _quiet_output() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _limit_memory(memory_mb: int) -> None:
    """Allow `memory_mb` more than the worker holds after start-up.

    Linux ignores `RLIMIT_RSS`. `RLIMIT_DATA` counts the private writable mappings Python
    allocates from (its heap, arenas and large buffers), so it is the budget. `RLIMIT_AS`
    also counts shared mappings, but reserved address space too (64 MB per thread's malloc
    arena), so it is only a loose backstop above the budget.
    """
    try:
        import resource
    except ImportError:  # not on a POSIX system
        return
    status = _memory_status()
    if not status:
        return
    budget = memory_mb << 20
    for limit, now, slack in (
        (resource.RLIMIT_DATA, status.get("VmData", 0), 0),
        (resource.RLIMIT_AS, status.get("VmSize", 0), 1 << 30),
    ):
        ceiling = now + budget + slack
        _, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(limit, (ceiling, hard))


def _memory_status() -> dict[str, int]:
    """VmData and VmSize of this process in bytes (Linux), empty where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            lines = status.read().splitlines()
    except OSError:
        return {}
    found: dict[str, int] = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmData", "VmSize"):
            found[key] = int(value.split()[0]) * 1024
    return found
