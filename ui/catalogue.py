"""The catalogue screen (编目): case fields and rows ↔ the case file of docs/case-file.md.

The clerk's form is saved as ``case.toml`` inside the batch (``pages = "."``), so
``dossier build BATCH/case.toml -o OUT`` builds exactly what the screen showed. Rows are the
batch's documents (one row per document, in binding order); a row's 页数 is its page count and
its 页号 the numbered pages it will get — blank pages (marked, or found by the last build) are
not numbered. Validation is ``assemble.case.load_case`` itself, run on the file before it
replaces the old one, plus per-field checks so each message sits beside its field.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from dossier_station.assemble.case import FIELD_KEYS, ROW_KEYS, Case, load_case, parse_date
from dossier_station.capture.batch import BatchFolder
from dossier_station.core.errors import CaseFileError
from dossier_station.core.files import write_bytes_atomic
from dossier_station.ui.edits import documents

CASE_NAME = "case.toml"
FIELD_ORDER = ("case_name", "case_number", "suspects", "filing_date", "closing_date", "unit", "compiler", "checker",
               "compiled_date", "retention", "volume_title", "fonds_no", "catalogue_no", "file_no", "notes")
ROW_FIELDS = ("doc_no", "author", "title", "date", "remarks")
DATE_KEYS = {"filing_date", "closing_date", "compiled_date"}


def zh(key: str) -> str:
    return (FIELD_KEYS.get(key) or ROW_KEYS[key])[0]


def _toml_str(value: str) -> str:
    # A JSON string is a TOML basic string, except that TOML also forbids a raw DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007F")


def load_form(batch: BatchFolder) -> dict[str, Any]:
    """The form as last saved (fields and rows as the clerk typed them), or an empty one."""
    saved = batch.data.get("catalogue") or {}
    fields = {k: str(saved.get("fields", {}).get(k, "")) for k in FIELD_ORDER}
    by_start = {r.get("start"): r for r in saved.get("rows", [])}
    docs = documents(batch)
    rows = [by_start.get(d[0], {}) for d in docs]
    return {"fields": fields, "rows": [{k: str(r.get(k, "")) for k in ROW_FIELDS} for r in rows], "documents": docs}


def page_numbers(docs: list[list[int]], blank: set[int]) -> list[tuple[int, int] | None]:
    """页号 per row: first and last numbered page; a row of blank pages only gets none."""
    out: list[tuple[int, int] | None] = []
    n = 0
    for d in docs:
        numbered = [s for s in d if s not in blank]
        if numbered:
            out.append((n + 1, n + len(numbered)))
            n += len(numbered)
        else:
            out.append(None)
    return out


def field_errors(form: dict[str, Any]) -> dict[str, str]:
    """Reasons beside the fields: ``{"fields.filing_date": "…", "rows.2.title": "…"}``."""
    errs: dict[str, str] = {}
    for key in DATE_KEYS:
        v = form["fields"].get(key, "").strip()
        if v and parse_date(v) is None:
            errs[f"fields.{key}"] = f"{zh(key)} {v!r} 不是日期 / is not a date → YYYY-MM-DD"
    for i, row in enumerate(form["rows"]):
        if not row.get("title", "").strip():
            errs[f"rows.{i}.title"] = "题名必填 / every row needs its title"
        v = row.get("date", "").strip()
        if v and parse_date(v) is None:
            errs[f"rows.{i}.date"] = f"日期 {v!r} 不是日期 / is not a date → YYYY-MM-DD"
    return errs


def case_toml(form: dict[str, Any]) -> str:
    lines = ['pages = "."  # this batch folder (batch.json): dossier build case.toml -o OUT', "", "[case]"]
    for key in FIELD_ORDER:
        v = form["fields"].get(key, "").strip()
        if v:
            lines.append(f"{_toml_str(zh(key))} = {_toml_str(v)}")
    for i, (row, doc) in enumerate(zip(form["rows"], form["documents"], strict=True)):
        lines += ["", "[[rows]]", f'"顺序号" = {i + 1}']
        for key in ROW_FIELDS:
            v = row.get(key, "").strip()
            if v:
                lines.append(f"{_toml_str(zh(key))} = {_toml_str(v)}")
        lines.append(f'"页数" = {len(doc)}')
    return "\n".join(lines) + "\n"


def save(batch: BatchFolder, form: dict[str, Any]) -> Case:
    """Validate with the build's own loader, then place case.toml atomically; keep the form."""
    if not form["documents"]:
        raise CaseFileError("the batch has no pages to catalogue", hint="scan pages or bring pages back from aside")
    text = case_toml(form)
    tomllib.loads(text)  # our own writer must produce TOML; a failure here is a bug, not the clerk's
    final = batch.path / CASE_NAME
    trial = batch.path / ".case.check.toml"
    trial.write_text(text, "utf-8")
    try:
        case = load_case(trial)
    finally:
        trial.unlink(missing_ok=True)
    write_bytes_atomic(final, text.encode("utf-8"))
    rows = [r | {"start": d[0]} for r, d in zip(form["rows"], form["documents"], strict=True)]
    batch.data["catalogue"] = {"fields": form["fields"], "rows": rows}
    batch.save()
    return case


def case_path(batch_path: Path) -> Path | None:
    p = batch_path / CASE_NAME
    return p if p.is_file() else None
