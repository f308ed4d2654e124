"""What the check screen shows about each page: roles, capture flags and the last build's findings.

The build report (``out/<case>.report.json``, written by ``station.pipeline``) is read, not
recomputed: its quality checks (low OCR confidence, dpi below DA/T 31, skew not measurable …)
and its blank pages become flags on the thumbnails, keyed by the page's file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dossier_station.capture.batch import BatchFolder
from dossier_station.ui.edits import documents, ordered

OUT = "out"


def last_report(batch_path: Path) -> dict[str, Any] | None:
    reports = sorted((batch_path / OUT).glob("*.report.json"), key=lambda p: p.stat().st_mtime)
    if not reports:
        return None
    try:
        return json.loads(reports[-1].read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _short(issue: str) -> str:
    for word, tag in (("confidence", "low-ocr"), ("dpi", "low-dpi"), ("skew", "skew"), ("no text", "no-text"), ("upright", "orientation")):
        if word in issue:
            return tag
    return "check"


def grid(batch: BatchFolder) -> list[dict[str, Any]]:
    """One entry per page, in binding order, with everything the thumbnail shows."""
    report = last_report(batch.path)
    by_key: dict[str, dict[str, Any]] = {}
    issues: dict[str, list[str]] = {}
    if report:
        by_key = {p["key"]: p for p in report.get("pages", [])}
        for item in report.get("qc", []):
            if item.get("page"):
                issues.setdefault(item["page"], []).append(item["issue"])
    docs = documents(batch)
    doc_of = {s: i + 1 for i, d in enumerate(docs) for s in d}
    starts = {d[0] for d in docs if d}
    out = []
    for pos, p in enumerate(ordered(batch), start=1):
        key = Path(p["file"]).name
        rep = by_key.get(key, {})
        flags = [f.split(":", 1)[0] for f in p.get("flags", [])]
        if rep.get("blank"):
            flags.append("blank-found")
        if rep.get("rotation_deg"):
            flags.append(f"turned-{rep['rotation_deg']}")
        flags += [_short(i) for i in issues.get(key, [])]
        out.append({
            "seq": p["seq"], "pos": pos, "role": p.get("role", "page"), "rotate": p.get("rotate", 0), "flags": flags,
            "issues": issues.get(key, []), "doc": doc_of.get(p["seq"]), "doc_start": p["seq"] in starts,
            "confidence": rep.get("ocr_confidence"), "page_number": rep.get("page_number"), "side": p.get("side"),
        })
    return out


def blank_seqs(batch: BatchFolder) -> set[int]:
    """Pages the last build found blank (not numbered), still in the dossier's documents."""
    report = last_report(batch.path)
    if not report:
        return set()
    blank_keys = {p["key"] for p in report.get("pages", []) if p.get("blank")}
    return {p["seq"] for p in batch.pages if Path(p["file"]).name in blank_keys}
