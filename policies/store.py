"""A scan's results kept compact, school by school, and rebuilt one school at a time.

A district of a million rows makes well over a million findings; held as objects they cost
gigabytes. Here each row is one marshalled record (its cells and the number of its
verdict), each distinct verdict is marshalled once, and a school's `SchoolResult` is built
only while a report writer is looking at it.
"""

from __future__ import annotations

import marshal
import operator
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from policies.model import SEVERITIES, Finding
from policies.results import ApkPanel, SchoolResult, SchoolSummary
from scanner.apk.facts import ApkFacts
from scanner.submission import InputProblem, RequiredItem

_ITEM, _OWN, _PROBLEM, _ROW = 0, 1, 2, 3
_PART_FIELDS = ("kind", "name", "identifier", "filing_no", "audience", "action_text", "quota",
                "requested_by", "decision_ref", "apk", "kind_text", "identified", "filing")  # fmt: skip
"""What rows repeat of an item across schools: all but its file, row, school, school code
and note, in the item's order (rebuilding a row puts them back by their places)."""
_PART = operator.itemgetter(*(RequiredItem._fields.index(name) for name in _PART_FIELDS))
_PARTS_MAX = 1 << 16
"""Distinct parts numbered; rows of further ones are kept cell by cell."""
_MARSHALLED = struct.Struct("<BI")
"""A marshalled record's header: `_MARSHALLED_MARK` and the record's length."""
_FIXED = struct.Struct("<BIIIIII")
"""A row of a numbered part without a note, as six numbers after `_FIXED_MARK`: its file,
row, school and code (numbered values), part and verdict. Most rows of a district are such
rows; they are packed and read back without marshal."""
_MARSHALLED_MARK, _FIXED_MARK = 0, 1
_FIXED_MAX = (1 << 32) - 1
_SEVERITY_INDEX = {severity: n for n, severity in enumerate(SEVERITIES)}
_LOADED_MAX = 1 << 14
_UNUSED = object()
_INDEX_BITS = 8
"""A finding's place within its verdict, in the low bits of its verdict key."""


@dataclass(eq=False)
class Shelf:
    """One school's records while the scan runs: counts at hand, rows marshalled."""

    school: str
    school_code: str = ""
    seen: int = 0
    """When the school first appeared among the rows, for the order of the report."""
    names: dict[str, None] = field(default_factory=dict)
    """Every spelling of the school's name seen in its rows, in order of appearance."""
    records: bytearray = field(default_factory=bytearray)
    counts: list[int] = field(default_factory=lambda: [0] * len(SEVERITIES))
    items: int = 0
    problems: int = 0
    out_of_order: bool = False
    """Rows were added out of file order (they waited for their APK): sort when rebuilding."""
    school_findings: list[Finding] = field(default_factory=list)
    """Findings about the school as a whole, made once every row is in."""

    def add_name(self, name: str) -> None:
        if name and name not in self.names:
            self.names[name] = None
            if not self.school:
                self.school = name

    def count(self, severities: Sequence[str]) -> None:
        for severity in severities:
            self.counts[_SEVERITY_INDEX[severity]] += 1

    def counts_by_severity(self) -> dict[str, int]:
        return dict(zip(SEVERITIES, self.counts, strict=True))


class ResultStore:
    """Verdicts and rows of one scan, marshalled; `school(shelf)` rebuilds a `SchoolResult`."""

    def __init__(self) -> None:
        self._verdicts: list[bytes] = [b""]  # numbered from 1: 0 means "no shared verdict"
        self._verdict_counts: list[tuple[int, ...]] = [()]
        """Each verdict's severities, as places in a shelf's counts."""
        self._severities: dict[tuple[int, ...], tuple[int, ...]] = {}
        self._own = 0
        self._numbers: dict[object, int] = {}
        self._strings: list[Any] = [_UNUSED]
        """The values rows repeat (sources, school names, kinds, names, requirements …), kept
        once and numbered (from 1: a number is never 0, so a number looked up is true)."""
        self._loaded: dict[int, tuple[tuple[str, str, Any, Any, int], ...]] = {}
        """Verdicts unmarshalled lately: most schools share most of theirs."""
        self._parts: list[tuple[Any, ...]] = [()]
        """What rows repeat of their item (`_PART`), kept once and numbered from 1."""
        self._part_numbers: dict[tuple[Any, ...], int] = {}

    # ----------------------------------------------------------------- while the scan runs

    def verdict(self, findings: Sequence[Finding]) -> int:
        """Keep a verdict (the findings one row gets) once; rows then refer to its number."""
        self._verdicts.append(
            _dumps(tuple((f.rule, f.severity, f.evidence, f.params) for f in findings))
        )
        counts = tuple(_SEVERITY_INDEX[f.severity] for f in findings)
        # A few combinations of severities serve a district's verdicts: kept once each.
        self._verdict_counts.append(self._severities.setdefault(counts, counts))
        return len(self._verdicts) - 1

    def part_number(self, item: RequiredItem) -> int:
        """The number of what rows repeat of `item` (its `_PART`), 0 past `_PARTS_MAX` (its
        rows are then kept cell by cell). Rows alike in those fields share it: a caller that
        knows them alike asks once and gives it to `add_item` for each."""
        part = _PART(item)
        number = self._part_numbers.get(part)
        if number is None:
            if len(self._parts) > _PARTS_MAX:
                return 0
            number = self._part_numbers[part] = len(self._parts)
            self._parts.append(part)
        return number

    def add_item(self, shelf: Shelf, item: RequiredItem, verdict: int, part: int = -1) -> None:
        """A row whose findings are the shared verdict number `verdict`, re-addressed to it;
        `part` is the row's `part_number` when the caller knows it.

        A district's rows repeat a few thousand items (an app with its requirements) across
        its schools: a row is mostly the number of its item's part."""
        number = self.part_number(item) if part < 0 else part
        records = shelf.records
        if not number:
            data = _dumps((_ITEM, self._item_cells(item), verdict))
        else:
            known, add = self._numbers.get, self._number
            source, school, code, row = item.source, item.school, item.school_code, item.row
            at, school_at, code_at = (
                known(source) or add(source), known(school) or add(school),
                known(code) or add(code),
            )  # fmt: skip
            if item.note == "" and 0 <= row <= _FIXED_MAX:
                records += _FIXED.pack(_FIXED_MARK, at, row, school_at, code_at, number, verdict)
                data = b""
            else:
                data = _dumps((_ROW, at, row, school_at, code_at, number, item.note, verdict))
        if data:
            records += _MARSHALLED.pack(_MARSHALLED_MARK, len(data))
            records += data
        shelf.items += 1
        counts = shelf.counts
        for at in self._verdict_counts[verdict]:
            counts[at] += 1

    def add_own(
        self,
        shelf: Shelf,
        item: RequiredItem,
        findings: Sequence[Finding],
        panel: ApkPanel | None = None,
    ) -> None:
        """A row with findings of its own (its APK made them), and what its APK was."""
        cells = self._item_cells(item)
        packed = tuple(self._own_finding(f) for f in findings)
        panel_cells = None if panel is None else _panel_cells(panel)
        self._append(shelf, (_OWN, cells, packed, panel_cells))
        shelf.items += 1
        shelf.out_of_order = True
        shelf.count([f.severity for f in findings])

    def add_problem(self, shelf: Shelf, problem: InputProblem, finding: Finding | None) -> None:
        cells = (
            self._number(problem.source),
            problem.row,
            problem.message,
            problem.message_zh,
            self._number(problem.school),
            problem.school_code,
            dict(problem.cells),
        )
        packed = None if finding is None else self._own_finding(finding)
        self._append(shelf, (_PROBLEM, cells, packed))
        shelf.problems += 1
        if finding is not None:
            shelf.count([finding.severity])

    def absorb(self, shelf: Shelf, other: Shelf) -> None:
        """Take over the rows of `other`: the same school, written without its code."""
        for name in other.names:
            shelf.add_name(name)
        shelf.seen = min(shelf.seen, other.seen)
        shelf.records += other.records
        other.records = bytearray()
        shelf.counts = [a + b for a, b in zip(shelf.counts, other.counts, strict=True)]
        shelf.items += other.items
        shelf.problems += other.problems
        shelf.out_of_order = True

    def add_school_findings(self, shelf: Shelf, findings: Sequence[Finding]) -> None:
        self._own -= len(findings)
        shelf.school_findings.extend(
            f._replace(verdict=self._own + n) for n, f in enumerate(findings)
        )
        shelf.count([f.severity for f in findings])

    # ----------------------------------------------------------------- rebuilding a school

    def school(self, shelf: Shelf) -> SchoolResult:
        """The school's items, findings, problems and APK panels, as the rows gave them."""
        result = SchoolResult(shelf.school, shelf.school_code, list(shelf.names))
        verdicts = self._loaded
        if len(verdicts) > _LOADED_MAX:
            verdicts.clear()
        data = memoryview(shelf.records)
        pos = 0
        end = len(data)
        unpack, fixed, fixed_size = _MARSHALLED.unpack_from, _FIXED.unpack_from, _FIXED.size
        loads = marshal.loads
        new = tuple.__new__
        add_item, add_finding = result.items.append, result.findings.append
        strings, parts = self._strings, self._parts
        while pos < end:
            if data[pos] == _FIXED_MARK:
                _, at, row, school_at, code_at, part_at, number = fixed(data, pos)
                pos += fixed_size
                tag, note = _ROW, ""
            else:
                _, size = unpack(data, pos)
                record = loads(data[pos + 5 : pos + 5 + size])
                pos += 5 + size
                tag = record[0]
                if tag == _PROBLEM:
                    self._rebuild_problem(shelf, record, result)
                    continue
                if tag == _ROW:
                    _, at, row, school_at, code_at, part_at, note, number = record
            if tag == _ROW:
                p = parts[part_at]
                source, school, code = strings[at], strings[school_at], strings[code_at]
                kind, name = p[0], p[1]
                item = new(
                    RequiredItem,
                    (source, row, school, kind, name, code, p[2], p[3], p[4], p[5], p[6], p[7],
                     p[8], p[9], note, p[10], p[11], p[12]),
                )  # fmt: skip
            else:
                item = self._rebuild_item(record[1])
                number = record[2]
                source, row, school, kind, name, code = item[:6]
            add_item(item)
            if tag != _OWN:
                verdict = verdicts.get(number)
                if verdict is None:
                    verdict = verdicts[number] = self._load(number)
                # A loop rather than a generator, and tuples made directly: this runs for
                # every finding of a district, in every pass over its schools.
                for rule, sev, evidence, params, n in verdict:
                    add_finding(
                        new(Finding, (rule, sev, school, row, name, kind, evidence, params, code,
                                      source, n))
                    )  # fmt: skip
            else:
                result.findings.extend(_finding(item, packed) for packed in record[2])
                if record[3] is not None:
                    result.apks.append(_panel(*record[3]))
        if shelf.out_of_order:
            _restore_row_order(result)
        result.findings.extend(shelf.school_findings)
        return result

    def _load(self, number: int) -> tuple[tuple[str, str, Any, Any, int], ...]:
        """Verdict `number`'s findings (rule, severity, evidence, params), each with its key
        (`Finding.verdict`): the keys are made once per verdict, and every row of the verdict
        shares them, rather than each finding of a district having an int of its own."""
        first = number << _INDEX_BITS
        return tuple(
            (*finding, first + n) for n, finding in enumerate(marshal.loads(self._verdicts[number]))
        )

    def added_items(self, shelf: Shelf) -> Iterator[tuple[RequiredItem, str]]:
        """The school's items in the order they were added, each with the package its APK
        was found to have (for matching a row that names none), without their findings."""
        data = memoryview(shelf.records)
        pos = 0
        while pos < len(data):
            if data[pos] == _FIXED_MARK:
                _, at, row, school_at, code_at, part_at, number = _FIXED.unpack_from(data, pos)
                pos += _FIXED.size
                yield (
                    self._rebuild_row((_ROW, at, row, school_at, code_at, part_at, "", number)),
                    "",
                )
                continue
            _, size = _MARSHALLED.unpack_from(data, pos)
            record = marshal.loads(data[pos + 5 : pos + 5 + size])
            pos += 5 + size
            if record[0] == _PROBLEM:
                continue
            if record[0] == _ROW:
                yield self._rebuild_row(record), ""
                continue
            package = ""
            if record[0] == _OWN and record[3] is not None:
                facts = record[3][3]
                if facts and facts.get("readable"):
                    package = facts.get("package", "")
            yield self._rebuild_item(record[1]), package

    def _rebuild_row(self, record: tuple[Any, ...]) -> RequiredItem:
        """The row `add_item` stored by its item's part."""
        _, at, row, school_at, code_at, part_at, note, _verdict = record
        v, p = self._strings, self._parts[part_at]
        return RequiredItem._make(
            (v[at], row, v[school_at], p[0], p[1], v[code_at], *p[2:10], note, *p[10:])
        )

    def _rebuild_item(self, cells: tuple[Any, ...]) -> RequiredItem:
        """The row `_item_cells` stored, made as the tuple it is (every field given): no
        call of the named tuple's own constructor, for a million rows."""
        v = self._strings
        c = cells
        return tuple.__new__(
            RequiredItem,
            (v[c[0]], c[1], v[c[2]], v[c[3]], v[c[4]], v[c[5]], v[c[6]], v[c[7]], v[c[8]],
             v[c[9]], v[c[10]], v[c[11]], v[c[12]], v[c[13]], c[14], v[c[15]], v[c[16]],
             v[c[17]]),
        )  # fmt: skip

    def _rebuild_problem(self, shelf: Shelf, record: tuple[Any, ...], result: SchoolResult) -> None:
        source, row, message, message_zh, school, code, cells = record[1]
        strings = self._strings
        problem = InputProblem(
            strings[source], row, message, message_zh, strings[school], code, cells
        )
        result.problems.append(problem)
        packed = record[2]
        if packed is not None:
            rule, severity, item, kind, evidence, params, number = packed
            result.findings.append(
                Finding(
                    rule,
                    severity,
                    problem.school or shelf.school,
                    row,
                    item,
                    kind,
                    evidence,
                    params,
                    code,
                    problem.source,
                    number,
                )
            )

    # ----------------------------------------------------------------- helpers

    def _append(self, shelf: Shelf, record: tuple[Any, ...]) -> None:
        data = _dumps(record)
        shelf.records += _MARSHALLED.pack(_MARSHALLED_MARK, len(data))
        shelf.records += data

    def _number(self, text: object) -> int:
        number = self._numbers.get(text)
        if number is None:
            number = self._numbers[text] = len(self._strings)
            self._strings.append(text)
        return number

    def _item_cells(self, item: RequiredItem) -> tuple[Any, ...]:
        """The row's cells as stored: every value but the row number and the note (free
        text, rarely repeated) by its number. A district repeats a few thousand values over
        a million rows, so a row is a few bytes, and storing and rebuilding it encodes and
        decodes no text. Numbers start at 1, so a number looked up is true."""
        known, number = self._numbers.get, self._number
        (source, row, school, kind, name, code, identifier, filing_no, audience, action,
         quota, requested, decision, apk, note, kind_text, identified, filing) = item  # fmt: skip
        return (
            known(source) or number(source), row, known(school) or number(school),
            known(kind) or number(kind), known(name) or number(name),
            known(code) or number(code), known(identifier) or number(identifier),
            known(filing_no) or number(filing_no), known(audience) or number(audience),
            known(action) or number(action), known(quota) or number(quota),
            known(requested) or number(requested), known(decision) or number(decision),
            known(apk) or number(apk), note, known(kind_text) or number(kind_text),
            known(identified) or number(identified), known(filing) or number(filing),
        )  # fmt: skip

    def _own_finding(self, finding: Finding) -> tuple[Any, ...]:
        self._own -= 1
        return (
            finding.rule,
            finding.severity,
            finding.item,
            finding.kind,
            finding.evidence,
            finding.params,
            self._own,
        )


def _finding(item: RequiredItem, packed: tuple[Any, ...]) -> Finding:
    rule, severity, name, kind, evidence, params, number = packed
    return Finding(
        rule, severity, item.school, item.row, name, kind, evidence, params,
        item.school_code, item.source, number,
    )  # fmt: skip


def _panel_cells(panel: ApkPanel) -> tuple[Any, ...]:
    # Marshal takes plain values only: the facts travel as their own dict form.
    facts = None if panel.facts is None else panel.facts.to_dict()
    return (panel.row, panel.item, panel.source, facts, panel.failure)


def _panel(row: int, item: str, source: str, facts: Any, failure: str) -> ApkPanel:
    return ApkPanel(
        row, item, source, None if facts is None else ApkFacts.from_dict(facts), failure
    )


def _dumps(value: Any) -> bytes:
    try:
        return marshal.dumps(value)
    except ValueError:
        # Evidence is meant to be plain data; a mapping proxy or the like is made plain.
        return marshal.dumps(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _restore_row_order(result: SchoolResult) -> None:
    """Rows that waited for their APK, or that were written without the school's code, go
    back among the others, in file and row order."""
    sources = [*(i.source for i in result.items), *(p.source for p in result.problems)]
    order = {source: n for n, source in enumerate(dict.fromkeys(sources))}
    result.items.sort(key=lambda i: (order[i.source], i.row))
    result.findings.sort(key=lambda f: (order.get(f.source, 0), f.row if f.row is not None else 0))
    result.problems.sort(key=lambda p: (order.get(p.source, 0), p.row or 0))
    result.apks.sort(key=lambda p: p.row)


class StoredSchools(Sequence[SchoolResult]):
    """The schools of a scan in order of first appearance, each rebuilt when it is reached.

    Iterating twice rebuilds twice; report writers go through the schools once, together.
    """

    def __init__(self, store: ResultStore, shelves: Sequence[Shelf]) -> None:
        self._store = store
        self._shelves = tuple(shelves)
        self._summaries: list[SchoolSummary] | None = None

    def __len__(self) -> int:
        return len(self._shelves)

    @overload
    def __getitem__(self, index: int) -> SchoolResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[SchoolResult]: ...

    def __getitem__(self, index: int | slice) -> SchoolResult | Sequence[SchoolResult]:
        if isinstance(index, slice):
            return [self._store.school(s) for s in self._shelves[index]]
        return self._store.school(self._shelves[index])

    def __iter__(self) -> Iterator[SchoolResult]:
        for shelf in self._shelves:
            yield self._store.school(shelf)

    def summaries(self) -> list[SchoolSummary]:
        """What is known of each school without rebuilding it: names, counts, sizes (made
        once: the shelves are full before the schools are handed on)."""
        if self._summaries is None:
            self._summaries = [
                SchoolSummary(
                    s.school,
                    s.school_code,
                    s.counts_by_severity(),
                    s.items,
                    s.problems,
                    tuple(s.names),
                )
                for s in self._shelves
            ]
        return list(self._summaries)
