"""Files and folders a killed process left behind: who wrote them, and whether they are stale.

Temporary names carry the writing process's id (`.part-PID-….apk`, `.OUT.new-PID-…`), so the
next run can tell the leftovers of a process that died (kill -9, power loss) from the work
of one that is running now, in this process or another.
"""

from __future__ import annotations

import os
import sys

UNOWNED_SECONDS = 3600.0
"""A leftover whose writer is unknown (an older naming) is stale once untouched this long."""
OWNED_SECONDS = 86400.0
"""One whose writer still seems to run is stale after this long: its id may be reused."""


def process_running(pid: int) -> bool:
    """Whether a process with this id exists (on Windows, where that cannot be asked
    without harm, always true: the age of the leftover decides there)."""
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would end the process there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process (PermissionError), or cannot tell
    return True


def is_stale(owner: int | None, age: float) -> bool:
    """Whether a leftover of `owner` (None: unknown), untouched for `age` seconds, may go."""
    if owner is None:
        return age > UNOWNED_SECONDS
    if owner == os.getpid():
        return False  # work of this very process, under way
    return not process_running(owner) or age > OWNED_SECONDS
