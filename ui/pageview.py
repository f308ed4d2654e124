"""A page opened large: the built page with its recognised text laid over it.

The dossier's own PDF page is rendered (pypdfium2) and its invisible text layer read back as
text runs with boxes, so what the clerk hovers or selects is exactly what a reader of the PDF
will search and copy — not a second OCR. Before any build there is only the raw image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dossier_station.ui.review import OUT, last_report

RENDER_PX = 1400


def locate(batch_path: Path, seq_file: str) -> tuple[Path, int] | None:
    """The volume file and 0-based PDF page index of a batch page in the last build."""
    report = last_report(batch_path)
    if not report:
        return None
    rec = next((p for p in report.get("pages", []) if p["key"] == Path(seq_file).name), None)
    if not rec or not rec.get("page_number") or not rec.get("volume"):
        return None
    vol = next((v for v in report.get("volumes", []) if v["volume"] == rec["volume"]), None)
    if not vol:
        return None
    path = batch_path / OUT / vol["file"]
    if not path.is_file():
        return None
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        for i in range(len(pdf)):
            if pdf.get_page_label(i) == "1":  # the first numbered page (封面 and 目录 carry prefixes)
                return path, i + rec["page_number"] - 1
    finally:
        pdf.close()
    return None


def render_with_text(pdf_path: Path, index: int, cache: Path) -> dict[str, Any]:
    """PNG of the page (cached) and the text runs as fractions of the page's width and height."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        page = pdf[index]
        w, h = page.get_size()
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            img = page.render(scale=RENDER_PX / max(w, h)).to_pil()
            tmp = cache.with_name(f".{cache.name}.tmp")
            img.convert("RGB").save(tmp, "JPEG", quality=85)
            os.replace(tmp, cache)
        tp = page.get_textpage()
        runs = []
        for i in range(tp.count_rects()):
            left, bottom, right, top = tp.get_rect(i)
            text = tp.get_text_bounded(left, bottom, right, top).strip()
            if text:
                runs.append({"x": left / w, "y": 1 - top / h, "w": (right - left) / w, "h": (top - bottom) / h, "text": text})
        tp.close()
        page.close()
    finally:
        pdf.close()
    return {"aspect": h / w, "runs": runs}
