"""The one base class of appaudit's domain errors, caught once, at the command line.

Every room raises its own subclass (a bad spreadsheet, an unreachable database, a refused
report folder …); the CLI turns any of them into one line on stderr and exit code 2. This
module imports nothing, so the rooms below the front door may use it without depending on
anything above them.
"""

from __future__ import annotations


class AppauditError(Exception):
    """Input or environment is wrong (not appaudit): the message is fit for the user."""
