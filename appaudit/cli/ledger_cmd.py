"""`appaudit ledger …`, `appaudit waive` and `appaudit waivers`: the rectification ledger
(问题台账) staff keep from month to month, and the waivers (豁免) the bureau grants."""

from __future__ import annotations

import typer

from appaudit.cli.common import AppauditGroup
from appaudit.messages import h

app = typer.Typer(cls=AppauditGroup, help=h("ledger"), no_args_is_help=True)
