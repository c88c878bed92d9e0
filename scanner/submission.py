"""School submissions: what each school requires of parents, students and teachers.

One file may hold one school or a whole district. Every row is kept: a row that cannot be
understood becomes an `InputProblem` with the row number the sheet shows, never a crash and
never a silently dropped row.
"""

from __future__ import annotations

import operator
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from scanner.tables import (
    DEFAULT_READ_LIMITS,
    ReadLimits,
    Table,
    TableNote,
    Vocabulary,
    read_table,
)

_SEPARATORS = re.compile(r"[、,，;；/／|\s]+")
_URL_LIKE = re.compile(r"^(https?://|www\.)", re.IGNORECASE)


class RequiredItem(NamedTuple):
    """One thing a school requires: an app, mini-program, account, channel or platform.

    A named tuple rather than a frozen dataclass: a district file makes a million of them,
    and a tuple is built three times faster while staying just as immutable.
    """

    source: str
    row: int
    school: str
    kind: str
    """Canonical kind (app, miniprogram, official_account, channels, platform)."""
    name: str
    school_code: str = ""
    identifier: str = ""
    filing_no: str = ""
    audience: tuple[str, ...] = ()
    action_text: str = ""
    """The 要求 cell as written; `actions` splits it."""
    quota: str = ""
    requested_by: str = ""
    decision_ref: str = ""
    apk: str = ""
    note: str = ""
    kind_text: str = ""
    """The kind as the school wrote it."""
    identified: tuple[str, str] | None = None
    """(field, normal form) of the identifier — package, original_id, appid, wechat_id,
    channels_id or url — worked out once at intake; None when there is none or it fits none."""
    filing: str = ""
    """The stated filing number in normal form; '' when none was given or it is malformed."""

    @property
    def actions(self) -> tuple[str, ...]:
        """What the school asks, one action per value of the 要求 cell."""
        return split_values(self.action_text)

    @property
    def filing_malformed(self) -> bool:
        return bool(self.filing_no) and not self.filing

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "row": self.row,
            "school": self.school,
            "school_code": self.school_code,
            "kind": self.kind,
            "name": self.name,
            "identifier": self.identifier,
            "filing_no": self.filing_no,
            "audience": list(self.audience),
            "actions": list(self.actions),
            "quota": self.quota,
            "requested_by": self.requested_by,
            "decision_ref": self.decision_ref,
            "apk": self.apk,
            "note": self.note,
        }


item_place = operator.itemgetter(0, 1)
"""An item's (source, row), its first two fields, taken in C: where its row is."""


@dataclass(frozen=True, slots=True)
class InputProblem:
    """A row (or a whole file) that could not be understood, and why."""

    source: str
    row: int | None
    message: str
    """In English."""
    message_zh: str = ""
    school: str = ""
    school_code: str = ""
    cells: Mapping[str, str] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return self.message_zh if lang == "zh" and self.message_zh else self.message

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {"source": self.source, "row": self.row, "message": self.text(lang)}


@dataclass(frozen=True)
class SubmissionVocabulary:
    """What the intake needs to know about kinds and audiences, supplied by the caller.

    The registry owns these words; passing them in keeps the intake free of it.
    """

    kinds: Mapping[str, str]
    """word_key(word) -> canonical kind."""
    kind_of_text: Callable[[str], str | None] | None = None
    """The kind a longer phrase names ("手机APP"), when it is not one of `kinds`."""
    audiences: Mapping[str, str] = field(default_factory=dict)
    """word_key(word) -> canonical audience."""
    kind_of_identifier: Callable[[str], str | None] = lambda _text: None
    """The kind an identifier's shape implies (gh_… → official_account), if any."""
    identify: Callable[[str, str], tuple[str, str] | None] = lambda _text, _kind: None
    """(field, normal form) of an identifier for an item of a kind, or None if it fits none."""
    normalise_filing: Callable[[str], str | None] = lambda _text: None
    """The normal form of a filing number, or None when it is malformed."""

    def complete(self, item: RequiredItem) -> RequiredItem:
        """The item with what its cells mean worked out: identifier and filing number."""
        identified = self.identify(item.identifier, item.kind) if item.identifier else None
        filing = self.normalise_filing(item.filing_no) if item.filing_no else None
        return item._replace(identified=identified, filing=filing or "")


@dataclass(frozen=True)
class InputFile:
    """A submission file as read: its digest, encoding, and how many rows it held."""

    path: str
    sha256: str
    encoding: str
    sheet: str | None
    header_row: int
    rows: int
    problems: int
    unknown_headers: tuple[str, ...]
    sheets_not_read: tuple[str, ...] = ()
    """The workbook's sheets with content but no header, which were not read."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "sha256": self.sha256,
            "encoding": self.encoding,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "rows": self.rows,
            "problems": self.problems,
        }
        if self.sheets_not_read:
            out["sheets_not_read"] = list(self.sheets_not_read)
        return out


@lru_cache(maxsize=4096)
def word_key(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


@lru_cache(maxsize=65536)
def split_values(text: str) -> tuple[str, ...]:
    """A multi-valued cell split on 、,，;；/ and spaces."""
    return tuple(part for part in _SEPARATORS.split(text) if part)


@cache
def submission_fields() -> dict[str, tuple[str, ...]]:
    raw = tomllib.loads(
        resources.files("scanner").joinpath("data/submission.toml").read_text("utf-8")
    )
    return {name: tuple(words) for name, words in raw["fields"].items()}


@cache
def submission_vocabulary() -> Vocabulary:
    return Vocabulary.build(submission_fields())


class Submission:
    """An open submission file: call `items()` once to read its rows."""

    def __init__(
        self,
        path: Path,
        vocabulary: SubmissionVocabulary,
        *,
        sheet: str | None = None,
        limits: ReadLimits = DEFAULT_READ_LIMITS,
        one_of_sheets: bool = False,
    ):
        self.path = path
        self.vocabulary = vocabulary
        self.limits = limits
        self.table: Table = read_table(path, submission_vocabulary(), sheet=sheet, limits=limits)
        self.source = self.table.source
        """The file's name as reports show it (undecodable bytes of the name as U+FFFD), and
        the sheet's (file.xlsx[sheet]: Excel allows no brackets in a sheet's name) when the
        workbook has several sheets to read, whose rows are numbered each on its own."""
        if one_of_sheets or len(self.table.sheets) > 1:
            self.source = f"{self.source}[{self.table.sheet}]"
        self.sha256 = self.table.sha256
        self.rows = 0
        self.problem_count = 0

    def other_sheets(self) -> Iterator[Submission]:
        """The workbook's other sheets with a header (read without a sheet named), each
        opened as a submission of its own; TableError for one that cannot be."""
        for name in self.table.sheets[1:]:
            yield Submission(
                self.path, self.vocabulary, sheet=name, limits=self.limits, one_of_sheets=True
            )

    def info(self) -> InputFile:
        table = self.table
        known = set(table.columns.values())
        unknown = tuple(h for i, h in enumerate(table.headers) if h and i not in known)
        return InputFile(
            path=table.source,
            sha256=self.sha256,
            encoding=table.encoding,
            sheet=table.sheet,
            header_row=table.header_row,
            rows=self.rows,
            problems=self.problem_count,
            unknown_headers=unknown,
            sheets_not_read=table.sheets_not_read,
        )

    def items(self) -> Iterator[RequiredItem | InputProblem]:
        """Every data row as a RequiredItem, or an InputProblem saying why it is not one."""
        table = self.table
        source = self.source
        missing = {"name"} - set(table.columns)
        default_school = (
            ""
            if "school" in table.columns
            else table.preamble_value("填报单位", "学校名称", "学校")
        )
        if missing or ("school" not in table.columns and not default_school):
            need_en = "学校 (school) and 名称 (name) columns" if missing else "学校 (school) column"
            need_zh = "“学校”和“名称”列" if missing else "“学校”列"
            headers = " | ".join(h for h in table.headers if h)
            yield InputProblem(
                source,
                None,
                f"the file has no {need_en} (header row {table.header_row}: {headers}); "
                "none of its rows can be checked",
                f"文件缺少{need_zh}（第{table.header_row}行表头：{headers}），无法核查其中任何一行",
            )
            self.problem_count += 1
            for _row in table.rows():
                self.rows += 1
            yield from self._file_notes()
            return
        kinds = self.vocabulary.kinds
        audiences = self.vocabulary.audiences

        @lru_cache(maxsize=4096)
        def audience_of(text: str) -> tuple[str, ...]:
            return tuple(dict.fromkeys(audiences.get(word_key(a), a) for a in split_values(text)))

        new_tuple = tuple.__new__
        kind_of = self.vocabulary.kind_of_identifier
        identify = self.vocabulary.identify
        normalise_filing = self.vocabulary.normalise_filing
        kind_of_text = self.vocabulary.kind_of_text

        @lru_cache(maxsize=1 << 14)
        def what_it_is(
            kind_text: str, name: str, identifier: str, filing_no: str
        ) -> tuple[str, str, str, tuple[str, str] | None, str, tuple[tuple[str, str], ...]]:
            """What a row's kind, name, identifier and filing number cells come to, the same
            on every row that repeats them (a district repeats a few thousand requirements
            over a million rows): its kind, the name and identifier it goes by, the
            identifier and the filing number parsed, and what cannot be understood."""
            problems: list[tuple[str, str]] = []
            name = unquoted(name)
            if not name and not identifier:
                problems.append(("the name (名称) is empty", "名称为空"))
            kind = kinds.get(word_key(kind_text), "") if kind_text else ""
            if kind_text and not kind and kind_of_text is not None:
                kind = kind_of_text(kind_text) or ""
            if kind_text and not kind and looks_like_url(kind_text):
                kind, identifier = "platform", identifier or kind_text  # a bare link
            if not identifier and looks_like_url(name):
                identifier = name
            if kind_text and not kind:
                problems.append(
                    (
                        f"unknown kind {kind_text!r} (expected APP, 小程序, 公众号, 视频号 or 平台)",
                        f"类型“{kind_text}”无法识别（应为APP、小程序、公众号、视频号或平台）",
                    )
                )
            elif not kind:
                kind = (kind_of(identifier) if identifier else None) or ""
                if not kind and identifier and looks_like_url(identifier):
                    kind = "platform"
                if not kind:
                    problems.append(
                        (
                            "the kind (类型) is empty and the identifier does not tell it",
                            "类型为空，且无法从标识判断",
                        )
                    )
            if problems:
                return kind, name or identifier, identifier, None, "", tuple(problems)
            return (
                kind,
                name or identifier,
                identifier,
                identify(identifier, kind) if identifier else None,
                (normalise_filing(filing_no) or "") if filing_no else "",
                (),
            )

        columns = table.columns
        at = {name: columns.get(name, -1) for name in submission_fields()}
        i_school, i_code, i_name = at["school"], at["school_code"], at["name"]
        i_identifier, i_kind, i_filing = at["identifier"], at["kind"], at["filing_no"]
        i_audience, i_action, i_quota = at["audience"], at["action"], at["quota"]
        i_requested, i_decision, i_apk, i_note = (
            at["requested_by"], at["decision_ref"], at["apk"], at["note"]
        )  # fmt: skip
        data_columns = [i for name, i in columns.items() if name != "seq"]
        # The data cells of a row as one tuple, picked in C (a generator costs a microsecond
        # a row); an item getter of one index gives the cell itself, hence the wrapping.
        data_cells: Callable[[list[str]], tuple[str, ...]] = (
            operator.itemgetter(*data_columns)
            if len(data_columns) > 1
            else lambda cells: tuple(cells[i] for i in data_columns)
        )
        maybe_extra = table.has_unknown_columns
        header_width = len(table.headers)
        previous_school, previous_code = default_school, ""
        broken = table.broken_rows
        for number, cells in table.records():
            if broken and number in broken:
                self.rows += 1
                self.problem_count += 1
                school = cells[i_school] or previous_school
                code = cells[i_code] or ("" if cells[i_school] else previous_code)
                yield self._problem(
                    broken[number], school, code, {f: cells[i] for f, i in columns.items()}
                )
                continue
            extra = table.extra(cells) if maybe_extra or len(cells) > header_width + 1 else None
            if not extra and not any(data_cells(cells)):
                continue  # a numbered but empty template row
            self.rows += 1
            school = cells[i_school] or previous_school
            code = cells[i_code]
            if not cells[i_school] and not code:
                code = previous_code  # merged school cells come out as blanks below the first
            previous_school, previous_code = school, code
            kind_text = cells[i_kind]
            filing_no = cells[i_filing]
            kind, name, identifier, identified, filing, problems = what_it_is(
                kind_text, cells[i_name], cells[i_identifier], filing_no
            )
            if not school:
                problems = (("the school (学校) is empty", "学校名称为空"), *problems)
            if problems:
                self.problem_count += 1
                yield InputProblem(
                    source,
                    number,
                    "; ".join(en for en, _ in problems),
                    "；".join(zh for _, zh in problems),
                    school,
                    code,
                    {field_: cells[i] for field_, i in columns.items()},
                )
                continue
            note = cells[i_note]
            # Made as the tuple it is, every field given: no call of the named tuple's own
            # constructor, for a million rows.
            yield new_tuple(
                RequiredItem,
                (
                    source,
                    number,
                    school,
                    kind,
                    name,
                    code,
                    identifier,
                    filing_no,
                    audience_of(cells[i_audience]),
                    cells[i_action],
                    cells[i_quota],
                    cells[i_requested],
                    cells[i_decision],
                    cells[i_apk],
                    _note(note, extra) if extra else note,
                    kind_text,
                    identified,
                    filing,
                ),
            )
        yield from self._file_notes()

    def _problem(
        self,
        note: TableNote,
        school: str = "",
        code: str = "",
        cells: Mapping[str, str] | None = None,
    ) -> InputProblem:
        return InputProblem(
            self.source,
            note.row,
            note.text("en"),
            note.text("zh"),
            school,
            code,
            dict(cells or {}),
        )

    def _file_notes(self) -> Iterator[InputProblem]:
        """What the reader worked around in the whole file, once its rows have been read."""
        for note in self.table.notes:
            self.problem_count += 1
            yield self._problem(note)


def _note(note: str, extra: Mapping[str, str]) -> str:
    """The note, with cells under unknown headers kept beside it rather than dropped."""
    more = "；".join(f"{k}: {v}" if k else v for k, v in extra.items())
    return f"{note}；{more}" if note else more


_QUOTES = {"“": "”", '"': '"', "《": "》", "「": "」", "『": "』", "‘": "’", "'": "'"}
"""Marks a school may put around a whole name: “国家反诈中心”, 《学习强国》."""


def unquoted(name: str) -> str:
    """The name without quotation or title marks around the whole of it (the reports put
    their own); marks inside it, or around a part of it, stay."""
    closing = _QUOTES.get(name[:1])
    if closing is None or len(name) < 3 or name[-1] != closing:
        return name
    inner = name[1:-1]
    if name[0] in inner or closing in inner:
        return name  # “甲”和“乙”: two quoted parts, not one quoted whole
    return inner.strip() or name


def looks_like_url(text: str) -> bool:
    return bool(_URL_LIKE.match(text))
