"""The case description: cover fields and catalogue rows (卷内目录), from TOML, JSON or CSV.

Keys may be written in English or in the Chinese of the forms clerks fill in (案件名称 …), so
a case file can be typed from the paper cover. The file's schema is the strict model in
:mod:`dossier_station.core.formats.case_file` (every reader uses it); this module turns it into
the dataclasses the writer lays out and maps pages to rows. Every error names the row
(顺序号 and 题名) and the field, and says how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from dossier_station.core.errors import CaseFileError
from dossier_station.core.formats.case_file import (
    CaseFieldsModel,
    CaseFileModel,
    RowModel,
    parse_date,
    read_case_file,
    read_rows_csv,
)


def _aliases(model: type) -> dict[str, tuple[str, ...]]:
    return {name: tuple(c for c in info.validation_alias.choices if c != name)  # type: ignore[union-attr]
            for name, info in model.model_fields.items()}


# field name → its Chinese names (the first is the form's label), from the one model
FIELD_KEYS = _aliases(CaseFieldsModel)
ROW_KEYS = _aliases(RowModel)
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
    pages_dir: str | None = None  # the folder of page images the case file names, relative to it


def _day(value: str | date, style: str) -> str:
    d = parse_date(value) if value else None
    if d is None:
        return ""
    return f"{d.year}年{d.month}月{d.day}日" if style == "zh" else d.strftime("%Y%m%d")


def _text(value: str | int) -> str:
    return str(value)


def _fields(m: CaseFieldsModel) -> CaseFields:
    suspects = "、".join(m.suspects) if isinstance(m.suspects, list) else m.suspects
    return CaseFields(
        case_name=m.case_name, case_number=_text(m.case_number), suspects=suspects,
        filing_date=_day(m.filing_date, "zh"), closing_date=_day(m.closing_date, "zh"),
        unit=m.unit, compiler=m.compiler, checker=m.checker, compiled_date=_day(m.compiled_date, "zh"),
        retention=m.retention, volume_title=m.volume_title, fonds_no=_text(m.fonds_no),
        catalogue_no=_text(m.catalogue_no), file_no=_text(m.file_no), notes=m.notes,
    )


def _row(m: RowModel, position: int) -> CatalogueRow:
    files = m.files
    if isinstance(files, str):
        files = [f.strip() for f in re.split(r"[;；,，]", files) if f.strip()]
    return CatalogueRow(
        seq=m.seq if m.seq is not None else position,
        title=m.title.strip(),
        doc_no=_text(m.doc_no),
        author=m.author,
        date=_day(m.date, "ymd"),
        pages=m.pages,
        files=tuple(files) if files else None,
        remarks=m.remarks,
    )


def case_from_model(model: CaseFileModel, path: Path | None = None, extra_rows: list[RowModel] | None = None) -> Case:
    """The dossier's case from a validated case file; checks that span rows (none, 顺序号 twice)."""
    src = path.name if path else "case file"
    rows = [_row(r, i + 1) for i, r in enumerate([*model.all_rows(), *(extra_rows or [])])]
    if not rows:
        raise CaseFileError(f"{path or src}: the catalogue has no rows", hint="add [[rows]] tables (顺序号, 题名, 页数 …) or [catalogue] csv = …")
    seen: dict[int, CatalogueRow] = {}
    for row in rows:
        if row.seq in seen:
            raise CaseFileError(f"{src}: {row.label}: 顺序号 {row.seq} is used twice", hint="number the rows 1, 2, 3 …")
        seen[row.seq] = row
    return Case(_fields(model.case), rows, path, model.pages_dir)


def load_case(path: Path) -> Case:
    """Read, validate and convert a case file (TOML or JSON; rows may come from a CSV it names)."""
    path = Path(path)
    model = read_case_file(path)
    extra = read_rows_csv(path.parent / model.catalogue.csv) if model.catalogue.csv else []
    return case_from_model(model, path, extra)


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
