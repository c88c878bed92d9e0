"""Safe, stable file names for the per-school pages."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

SCHOOLS_DIR = "schools"
"""The folder of the report that holds one page per school."""

_SAFE_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# Names Windows will not create, whatever the extension.
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(10)}


def _digest(*parts: str, length: int = 10) -> str:
    text = "\x00".join(unicodedata.normalize("NFC", p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def base_name(school: str, school_code: str) -> str:
    """The page name a school gets when no other school claims it (without `.html`).

    The school code when it is a plain ASCII token, so a page is easy to find by code;
    otherwise a short hash of the name and code, which is stable across runs.
    """
    code = school_code.strip()
    if _SAFE_TOKEN.match(code) and code.lower() not in _RESERVED:
        return code
    return "s-" + _digest(school, code)


class NamedSchool(Protocol):
    """Anything that names a school: a `SchoolResult` or a `SchoolSummary`."""

    @property
    def school(self) -> str: ...

    @property
    def school_code(self) -> str: ...


def page_names(schools: Sequence[NamedSchool]) -> list[str]:
    """A unique file name (`<name>.html`) for each school, in the same order.

    Names are compared without case, as Windows and macOS file systems do. Schools whose
    base names collide all get a hash of their own name and code appended, so which school
    gets which name does not depend on the order of the schools.
    """
    bases = [base_name(s.school, s.school_code) for s in schools]
    claimants: defaultdict[str, list[int]] = defaultdict(list)
    for index, base in enumerate(bases):
        claimants[base.lower()].append(index)
    names = list(bases)
    for indexes in claimants.values():
        if len(indexes) > 1:
            for index in indexes:
                school = schools[index]
                names[index] = (
                    f"{bases[index]}-{_digest(school.school, school.school_code, length=8)}"
                )
    # The same school listed twice (same name and code) still needs two files.
    seen: set[str] = {n.lower() for n in names}
    counted: defaultdict[str, int] = defaultdict(int)
    for n in names:
        counted[n.lower()] += 1
    taken: set[str] = set()
    for index, name in enumerate(names):
        key = name.lower()
        if counted[key] == 1:
            continue
        if key in taken:
            number = 2
            while f"{key}-{number}" in seen:
                number += 1
            names[index] = f"{name}-{number}"
            seen.add(f"{key}-{number}")
        taken.add(key)
    return [f"{n}.html" for n in names]
