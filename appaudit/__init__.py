"""appaudit: audits what schools require of parents and students against the district registry."""

from importlib import metadata

try:
    __version__ = metadata.version("appaudit")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
