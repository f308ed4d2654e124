"""The case description: cover fields and catalogue rows (卷内目录), from TOML, JSON or CSV.

Keys may be written in English or in the Chinese of the forms clerks fill in (案件名称 …), so
a case file can be typed from the paper cover. Every error names the row (顺序号 and 题名) and
the field, and says how to write it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from dossier_station.core.errors import CaseFileError

FIELD_KEYS = {
    "case_name": ("案件名称", "案由"),
    "case_number": ("案件编号", "案号"),
    "suspects": ("犯罪嫌疑人", "违法行为人", "被告人"),
    "filing_date": ("立案时间",),
    "closing_date": ("结案时间",),
    "unit": ("立卷单位",),
    "compiler": ("立卷人",),
    "checker": ("检查人",),
    "compiled_date": ("立卷时间",),
    "retention": ("保管期限",),
    "volume_title": ("卷别", "案卷类别"),
    "fonds_no": ("全宗号",),
    "catalogue_no": ("目录号",),
    "file_no": ("案卷号",),
    "notes": ("本卷情况说明", "说明"),
}
ROW_KEYS = {
    "seq": ("顺序号", "序号"),
    "doc_no": ("文号",),
    "author": ("责任者",),
    "title": ("题名",),
    "date": ("日期",),
    "pages": ("页数",),
    "files": ("文件",),
    "remarks": ("备注",),
}
DATE_FIELDS = ("filing_date", "closing_date", "compiled_date")


@dataclass(frozen=True)
class CaseFields:
    case_name: str = ""
    case_number: str = ""
    suspects: str = ""
    filing_date: str = ""
    closing_date: str = ""
    unit: str = ""
    compiler: str = ""
    checker: str = ""
    compiled_date: str = ""
    retention: str = "永久"
    volume_title: str = "诉讼文书卷"
    fonds_no: str = ""
    catalogue_no: str = ""
    file_no: str = ""
    notes: str = ""


@dataclass(frozen=True)
class CatalogueRow:
    seq: int
    title: str
    doc_no: str = ""
    author: str = ""
    date: str = ""  # YYYYMMDD (DA/T 22)
    pages: int | None = None  # input page images belonging to the row (blank ones included)
    files: tuple[str, ...] | None = None
    remarks: str = ""

    @property
    def label(self) -> str:
        return f"catalogue row {self.seq} ({self.title})"


@dataclass(frozen=True)
class Case:
    fields: CaseFields
    rows: list[CatalogueRow] = field(default_factory=list)
    source: Path | None = None


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)


def parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


def _pick(raw: dict[str, Any], names: dict[str, tuple[str, ...]], where: str) -> dict[str, Any]:
    """Map English or Chinese keys to field names; unknown keys are an error."""
    alias = {zh: en for en, zhs in names.items() for zh in zhs} | {en: en for en in names}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in alias:
            allowed = ", ".join(f"{en}/{'/'.join(zh)}" for en, zh in names.items())
            raise CaseFileError(f"{where}: unknown key {key!r}", hint=f"known keys: {allowed}")
        out[alias[key]] = value
    return out


def _fields(raw: dict[str, Any], src: str) -> CaseFields:
    values = _pick(raw, FIELD_KEYS, f"{src}: [case]")
    for key in DATE_FIELDS:
        if values.get(key):
            d = parse_date(values[key])
            if d is None:
                zh = FIELD_KEYS[key][0]
                raise CaseFileError(f"{src}: [case] {zh} {values[key]!r} is not a date", hint="write YYYY-MM-DD")
            values[key] = f"{d.year}年{d.month}月{d.day}日"
    if isinstance(values.get("suspects"), list):
        values["suspects"] = "、".join(map(str, values["suspects"]))
    return CaseFields(**{k: str(v) for k, v in values.items()})


def _row(raw: dict[str, Any], position: int, src: str) -> CatalogueRow:
    values = _pick(raw, ROW_KEYS, f"{src}: catalogue row {position}")
    seq = values.get("seq", position)
    try:
        seq = int(seq)
    except (TypeError, ValueError):
        raise CaseFileError(f"{src}: catalogue row {position}: 顺序号 {seq!r} is not a number", hint="write a whole number") from None
    title = str(values.get("title", "")).strip()
    where = f"{src}: catalogue row {seq}" + (f" ({title})" if title else "")
    if not title:
        raise CaseFileError(f"{where}: 题名 (title) is missing", hint="every catalogue row needs its document title")
    day = ""
    if values.get("date"):
        d = parse_date(values["date"])
        if d is None:
            raise CaseFileError(f"{where}: 日期 {values['date']!r} is not a date", hint="write YYYY-MM-DD")
        day = d.strftime("%Y%m%d")
    pages = values.get("pages")
    if pages not in (None, ""):
        try:
            pages = int(pages)
        except (TypeError, ValueError):
            raise CaseFileError(f"{where}: 页数 {pages!r} is not a number", hint="write the number of page images") from None
        if pages < 1:
            raise CaseFileError(f"{where}: 页数 is {pages}; a document has at least one page", hint="fix the count or remove the row")
    else:
        pages = None
    files = values.get("files")
    if isinstance(files, str):
        files = [f.strip() for f in re.split(r"[;；,，]", files) if f.strip()]
    return CatalogueRow(
        seq=seq,
        title=title,
        doc_no=str(values.get("doc_no", "")),
        author=str(values.get("author", "")),
        date=day,
        pages=pages,
        files=tuple(files) if files else None,
        remarks=str(values.get("remarks", "")),
    )


def load_rows_csv(path: Path) -> list[dict[str, Any]]:
    """Catalogue rows from a CSV export (UTF-8, BOM tolerated), header in English or Chinese."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{path}: cannot read the catalogue CSV ({exc})", hint="save it as UTF-8 CSV") from None
    return [{k.strip(): v.strip() for k, v in r.items() if k and v and v.strip()} for r in csv.DictReader(io.StringIO(text))]


def load_case(path: Path) -> Case:
    path = Path(path)
    src = path.name
    try:
        text = path.read_text("utf-8")
        raw = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise CaseFileError(f"{path}: case file not found", hint="check the path") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {exc}", hint="fix the line named above") from None
    fields = _fields(raw.get("case", {}), src)
    rows_raw = list(raw.get("rows", []))
    catalogue = raw.get("catalogue", {})
    if isinstance(catalogue, dict) and catalogue.get("csv"):
        rows_raw += load_rows_csv(path.parent / str(catalogue["csv"]))
    rows = [_row(r, i + 1, src) for i, r in enumerate(rows_raw)]
    if not rows:
        raise CaseFileError(f"{path}: the catalogue has no rows", hint="add [[rows]] tables (顺序号, 题名, 页数 …) or [catalogue] csv = …")
    seen: dict[int, CatalogueRow] = {}
    for row in rows:
        if row.seq in seen:
            raise CaseFileError(f"{src}: {row.label}: 顺序号 {row.seq} is used twice", hint="number the rows 1, 2, 3 …")
        seen[row.seq] = row
    return Case(fields, rows, path)


def default_case(title: str, n_pages: int) -> Case:
    """A folder built without a case file: one document, the folder name as title."""
    today = date.today()
    fields = CaseFields(case_name=title, compiled_date=f"{today.year}年{today.month}月{today.day}日")
    return Case(fields, [CatalogueRow(seq=1, title=title, date=today.strftime("%Y%m%d"), pages=n_pages)])


def assign_pages(case: Case, page_keys: list[str], page_files: list[str]) -> list[tuple[CatalogueRow, list[int]]]:
    """Which input pages belong to which row: by listed files, else by page counts in order."""
    src = case.source.name if case.source else "case"
    n = len(page_keys)
    if any(r.files for r in case.rows):
        by_name: dict[str, list[int]] = {}
        for i, name in enumerate(page_files):
            by_name.setdefault(name, []).append(i)
        used: set[str] = set()
        out = []
        for row in case.rows:
            if not row.files:
                raise CaseFileError(f"{src}: {row.label}: 文件 (files) is missing", hint="when one row lists files, every row must")
            idx: list[int] = []
            for f in row.files:
                name = Path(f).name
                if name in used:
                    raise CaseFileError(f"{src}: {row.label}: file {f!r} is listed twice", hint="each page file belongs to one row")
                if name not in by_name:
                    raise CaseFileError(f"{src}: {row.label}: file {f!r} was not found among the pages", hint="check the file name")
                used.add(name)
                idx += by_name[name]
            out.append((row, idx))
        return out
    counts = [r.pages for r in case.rows]
    if any(c is None for c in counts):
        if len(case.rows) == 1:
            return [(replace(case.rows[0], pages=n), list(range(n)))]
        row = next(r for r in case.rows if r.pages is None)
        raise CaseFileError(f"{src}: {row.label}: 页数 (pages) is missing", hint="give each row its number of page images, or list its files")
    total = sum(c for c in counts if c)
    if total != n:
        raise CaseFileError(
            f"{src}: the catalogue rows add up to {total} pages but {n} page images were found",
            hint="correct 页数 of the rows (blank pages count: they are set aside after scanning)",
        )
    out, start = [], 0
    for row in case.rows:
        out.append((row, list(range(start, start + (row.pages or 0)))))
        start += row.pages or 0
    return out
