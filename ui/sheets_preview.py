"""Cover (封面), catalogue (卷内目录) and back sheet (备考表) as they will print, for the catalogue screen.

Drawn by the writer's own sheet functions (``assemble.sheets``) from the saved case file and the
batch's documents, put on pages with the same font embedding, and rendered with pdfium — the
clerk sees the real sheets, not an HTML imitation. Page numbers are single-volume numbers with
the last build's blank pages left out (what the build will number, short of a volume split).
"""

from __future__ import annotations

import io
from pathlib import Path

SHEETS = ("cover", "catalogue", "back")
RENDER_PX = 900


def render_sheet(case_path: Path, documents: list[list[int]], blank: set[int], which: str) -> bytes:
    import pikepdf
    import pypdfium2 as pdfium

    from dossier_station.assemble import sheets
    from dossier_station.assemble.canvas import A4
    from dossier_station.assemble.case import load_case
    from dossier_station.assemble.fonts import CjkFont

    case = load_case(case_path)
    font = CjkFont()
    sheets.check_case_text(font, case)
    rows, n = [], 0
    for row, doc in zip(case.rows, documents, strict=False):
        numbered = [s for s in doc if s not in blank]
        rows.append(sheets.RowPages(row, n + 1, n + len(numbered)))
        n += len(numbered)
    if which == "cover":
        content = sheets.cover(font, case, 1, 1)
    elif which == "catalogue":
        content = sheets.catalogue(font, case, rows, 1)[0]
    else:
        content = sheets.back_sheet(font, case, n, sum(1 for d in documents for s in d if s in blank), 0)
    pdf = pikepdf.new()
    fonts = font.embed(pdf)
    page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, A4[0], A4[1]],
                              Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(fonts)), Contents=pikepdf.Stream(pdf, content))
    pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
    buf = io.BytesIO()
    pdf.save(buf)
    doc = pdfium.PdfDocument(buf.getvalue())
    try:
        image = doc[0].render(scale=RENDER_PX / A4[1]).to_pil()
    finally:
        doc.close()
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG", optimize=True)
    return out.getvalue()
