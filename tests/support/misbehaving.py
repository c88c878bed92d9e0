"""Tasks for worker-pool tests that misbehave on request: raise, crash, exit, hog, hang."""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import Any


def behave(how: str, amount: float = 0) -> Any:
    """Do `how` in the worker; `amount` is MB to allocate or seconds to sleep."""
    if how == "pid":
        return os.getpid()
    if how == "raise":
        raise ValueError("broken on purpose")
    if how == "segfault":
        ctypes.string_at(0)
    if how == "exit":
        os._exit(7)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "allocate":
        block = bytearray(int(amount) << 20)
        block[:: 1 << 12] = b"x" * len(block[:: 1 << 12])  # touch every page
        return len(block) >> 20
    if how == "sleep":
        time.sleep(amount)
        return "awake"
    if how == "unpicklable":
        return lambda: None
    raise AssertionError(f"unknown behaviour {how!r}")
