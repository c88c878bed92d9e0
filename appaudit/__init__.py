"""appaudit: audits what schools require of parents and students against the district registry."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # The version is read from the installed metadata when asked for, not on every start.
    if name == "__version__":
        from importlib import metadata

        try:
            version = metadata.version("appaudit")
        except metadata.PackageNotFoundError:  # a source tree that was never installed
            version = "0.0.0+source"
        globals()["__version__"] = version
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
