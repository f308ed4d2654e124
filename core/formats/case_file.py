"""The case file (案件描述) as a typed model: the one schema every reader uses.

A case file is typed by a clerk from the paper cover, or produced by another agency's system;
the same file may be given as ``dossier build case.toml`` (naming its pages) or as ``--case``.
Both ways read it here, with one strict model: keys in English or in the Chinese of the forms,
no float or ``true`` taken as a count, no list taken as a title, unknown keys refused with the
nearest known name, and every error naming the file, the row (顺序号 and 题名) and the field.
The assemble area turns the validated model into its dossier dataclasses.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)

from dossier_station.core.errors import CaseFileError
from dossier_station.core.formats.validation import STRICT, raise_for

MAX_CASE_BYTES = 16 * 1024 * 1024  # a case description is text; anything bigger is a wrong file

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
)


def parse_date(value: Any) -> date | None:
    """A date as clerks write it (2024-03-12, 20240312, 2024.3.12, 2024年3月12日), or None."""
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


def _check_date(value: str | date) -> str | date:
    if isinstance(value, str) and not value.strip():
        return value
    if parse_date(value) is None:
        raise ValueError("is not a date: write YYYY-MM-DD (or YYYYMMDD, YYYY.MM.DD, YYYY年M月D日)")
    return value


def _check_pages(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise ValueError(f"is {value}; a document has at least one page: fix the count or remove the row")
    return value


def _check_title(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty: every catalogue row needs its document title")
    return value


def _check_seq(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise ValueError("must be a whole number from 1 up (rows are numbered 1, 2, 3 …)")
    return value


DateText = Annotated[str | date, AfterValidator(_check_date)]
NumberText = str | int  # 全宗号 = 3 as well as "J001": a number is written as it reads


def _key(en: str, *zh: str, default: Any = "", **kw: Any) -> Any:
    return Field(default, validation_alias=AliasChoices(en, *zh), serialization_alias=en, **kw)


class _OneNamePerField(BaseModel):
    """``title`` and ``题名`` in one row are one field written twice: which one wins must not
    depend on the order of the aliases, so both together are refused."""

    model_config = STRICT

    @model_validator(mode="before")
    @classmethod
    def _one_name(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for info in cls.model_fields.values():
                given = [c for c in getattr(info.validation_alias, "choices", ()) if c in data]
                if len(given) > 1:
                    raise ValueError(f"{' and '.join(given)} name the same field: keep one")
        return data


class CaseFieldsModel(_OneNamePerField):
    """[case]: the cover (封面) and back sheet (备考表) fields."""

    case_name: str = _key("case_name", "案件名称", "案由")
    case_number: NumberText = _key("case_number", "案件编号", "案号")
    suspects: str | list[str] = _key("suspects", "犯罪嫌疑人", "违法行为人", "被告人", description="a name or a list of names")
    filing_date: DateText = _key("filing_date", "立案时间")
    closing_date: DateText = _key("closing_date", "结案时间")
    unit: str = _key("unit", "立卷单位")
    compiler: str = _key("compiler", "立卷人")
    checker: str = _key("checker", "检查人")
    compiled_date: DateText = _key("compiled_date", "立卷时间")
    retention: str = _key("retention", "保管期限", default="永久")
    volume_title: str = _key("volume_title", "卷别", "案卷类别", default="诉讼文书卷")
    fonds_no: NumberText = _key("fonds_no", "全宗号")
    catalogue_no: NumberText = _key("catalogue_no", "目录号")
    file_no: NumberText = _key("file_no", "案卷号")
    notes: str = _key("notes", "本卷情况说明", "说明")


class RowModel(_OneNamePerField):
    """One catalogue row (卷内目录), in binding order."""

    seq: Annotated[int | None, AfterValidator(_check_seq)] = _key("seq", "顺序号", "序号", default=None, description="default: position", json_schema_extra={"minimum": 1})
    doc_no: NumberText = _key("doc_no", "文号")
    author: str = _key("author", "责任者")
    title: Annotated[str, AfterValidator(_check_title)] = _key("title", "题名", default=..., description="required", json_schema_extra={"minLength": 1})
    date: DateText = _key("date", "日期")
    pages: Annotated[int | None, AfterValidator(_check_pages)] = _key("pages", "页数", default=None, description="page images of this document, blank ones included", json_schema_extra={"minimum": 1})
    files: list[str] | str | None = _key("files", "文件", default=None, description="instead of 页数: the document's files by name")
    remarks: str = _key("remarks", "备注")


class CatalogueModel(BaseModel):
    """[catalogue]: rows from a CSV file (and/or [[catalogue.rows]])."""

    model_config = STRICT

    csv: str | None = Field(None, description="CSV of rows, relative to the case file; header in English or Chinese")
    rows: list[RowModel] = Field(default_factory=list)


class SourceModel(BaseModel):
    model_config = STRICT

    dir: str = Field(description="folder of page images, relative to the case file")


class CaseFileModel(BaseModel):
    """A whole case description (TOML or JSON)."""

    model_config = STRICT

    pages: str | None = Field(None, description="folder of page images, relative to this file")
    source: SourceModel | None = None
    case: CaseFieldsModel = Field(default_factory=CaseFieldsModel)
    rows: list[RowModel] = Field(default_factory=list)
    catalogue: CatalogueModel = Field(default_factory=CatalogueModel)

    @property
    def pages_dir(self) -> str | None:
        return self.pages or (self.source.dir if self.source else None)

    def all_rows(self) -> list[RowModel]:
        return [*self.rows, *self.catalogue.rows]


def _row_label(raw: Any) -> Any:
    """Labeller for errors: ``catalogue row 3 (讯问笔录)`` from the raw row at the error's index."""

    def label(loc: tuple[Any, ...]) -> str | None:
        if len(loc) >= 2 and loc[0] in ("rows", "catalogue") and isinstance(raw, dict):
            rows = raw.get("rows") if loc[0] == "rows" else (raw.get("catalogue") or {}).get("rows")
            i = loc[1] if loc[0] == "rows" else (loc[2] if len(loc) > 2 else None)
            if isinstance(rows, list) and isinstance(i, int) and i < len(rows):
                return row_label(rows[i], i + 1)
        if loc and loc[0] == "case":
            return "[case]"
        return None

    return label


def row_label(row: Any, position: int) -> str:
    """How a clerk finds a row: its 顺序号 (or position) and 题名 as written."""
    if not isinstance(row, dict):
        return f"catalogue row {position}"
    seq = next((row[k] for k in ("顺序号", "序号", "seq") if k in row), position)
    title = next((row[k] for k in ("题名", "title") if k in row), "")
    seq_text = str(seq) if isinstance(seq, int | str) and not isinstance(seq, bool) else str(position)
    title_text = f" ({title})" if isinstance(title, str) and title.strip() else ""
    return f"catalogue row {seq_text}{title_text}"


def parse_case_bytes(data: bytes, name: str, *, kind: str | None = None) -> tuple[CaseFileModel, dict[str, Any]]:
    """Validate a case description's bytes (``kind`` "toml" or "json", else from the name's suffix)."""
    kind = kind or ("json" if name.lower().endswith(".json") else "toml")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{name}: not UTF-8 text (byte {exc.start})", hint="save the case file as UTF-8") from None
    try:
        raw = json.loads(text) if kind == "json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise CaseFileError(f"{name}: not valid {kind.upper()}: {exc}", hint="fix the line named above") from None
    except RecursionError:
        raise CaseFileError(f"{name}: nested too deeply to be a case file", hint="check it is the right file") from None
    if not isinstance(raw, dict):
        raise CaseFileError(
            f"{name}: the case file is a {type(raw).__name__}, not an object",
            hint='write it as { "case": { … }, "rows": [ … ] } (see docs/case-file.md)',
        )
    try:
        model = CaseFileModel.model_validate(raw)
    except ValidationError as exc:
        raise_for(exc, CaseFileModel, CaseFileError, source=name, label=_row_label(raw),
                  hint="fix the field named above (docs/case-file.md, docs/schemas/case-file.schema.json)")
    return model, raw


def read_case_file(path: Path) -> CaseFileModel:
    """Read and validate a case file from disk: missing, a folder, unreadable — all clear errors."""
    path = Path(path)
    try:
        if path.is_dir():
            raise CaseFileError(f"{path}: is a folder, not a case file", hint="give the case description (TOML or JSON), e.g. --case case.toml")
        with path.open("rb") as f:
            data = f.read(MAX_CASE_BYTES + 1)
    except FileNotFoundError:
        raise CaseFileError(f"{path}: case file not found", hint="check the path") from None
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot read the case file: {exc.strerror or exc}", hint="check the path and its permissions") from None
    if len(data) > MAX_CASE_BYTES:
        raise CaseFileError(f"{path}: over {MAX_CASE_BYTES // 2**20} MiB — not a case description", hint="check it is the right file")
    if path.suffix.lower() not in (".toml", ".json"):
        raise CaseFileError(f"{path}: a case file is .toml or .json", hint="rename it, or give the CSV through [catalogue] csv = …")
    return parse_case_bytes(data, str(path))[0]


_CSV_NUMBERS = {"seq", "顺序号", "序号", "pages", "页数"}


def parse_rows_csv(data: bytes, name: str) -> list[RowModel]:
    """Catalogue rows from a CSV export (UTF-8, BOM tolerated), header in English or Chinese."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{name}: not UTF-8 (byte {exc.start})", hint="save it as UTF-8 CSV") from None
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CaseFileError(f"{name}: not a valid CSV: {exc}", hint="save it as UTF-8 CSV, one row per document") from None
    if not records:
        return []
    header = [h.strip() for h in records[0]]
    rows: list[RowModel] = []
    for line_no, values in enumerate(records[1:], start=2):
        if len(values) > len(header) and any(v.strip() for v in values[len(header):]):
            raise CaseFileError(f"{name}: line {line_no} has {len(values)} values but the header has {len(header)} columns", hint="quote values that contain commas")
        raw: dict[str, Any] = {}
        for key, value in zip(header, values, strict=False):
            value = value.strip()
            if key and value:
                raw[key] = int(value) if key in _CSV_NUMBERS and value.isascii() and value.isdigit() else value
        if not raw:
            continue
        try:
            rows.append(RowModel.model_validate(raw))
        except ValidationError as exc:
            raise_for(exc, RowModel, CaseFileError, source=f"{name}: line {line_no}",
                      label=lambda _loc, r=raw, n=line_no - 1: row_label(r, n),
                      hint="fix the cell named above (header: 顺序号,文号,责任者,题名,日期,页数,备注)")
    return rows


def read_rows_csv(path: Path) -> list[RowModel]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CaseFileError(f"{path}: cannot read the catalogue CSV: {exc.strerror or exc}", hint="check [catalogue] csv = … in the case file") from None
    return parse_rows_csv(data, str(path))
