"""Separator sheets: a QR code naming the catalogue row (or a patch T) splits a batch.

The sheet carries ``DOSSIER-SEP/1|<case number>|<row>``; it is printed by
``dossier separator`` and scanned ahead of each document. Separator pages are kept in the batch
with ``role: separator`` (never in the dossier); the pages after one belong to its row until
the next. The split is checked against the case's catalogue, and a disagreement names the row.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dossier_station.core.errors import CaseFileError, MissingDependencyError
from dossier_station.core.files import write_bytes_atomic
from dossier_station.core.pdfcheck import pdf_verifier

PREFIX = "DOSSIER-SEP/1"
FONT = "/usr/share/fonts/truetype/arphic/uming.ttc"  # Debian's fonts-arphic-uming; else fontconfig
FONT_HINT = "install a Chinese font: apt-get install fonts-arphic-uming (or set DOSSIER_FONT=/path/to/font.ttc)"


@lru_cache(maxsize=1)
def _font_file() -> str:
    """A Chinese face for the sheet's title: $DOSSIER_FONT, the Debian path, else fontconfig's
    best match for Chinese — or a MissingDependencyError naming the package, not a traceback."""
    env = os.environ.get("DOSSIER_FONT", "")
    head, _, tail = env.rpartition(":")
    env = head if tail.isdigit() and head else env  # path or path:index, as for the dossier's font
    for candidate in (env, FONT):
        if candidate and Path(candidate).is_file():
            return candidate
    exe = shutil.which("fc-match")
    if exe:
        try:
            found = subprocess.run([exe, "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        if found and Path(found).is_file():
            return found
    raise MissingDependencyError("no Chinese font for the separator sheets", hint=FONT_HINT)


def _font(size: int) -> ImageFont.FreeTypeFont:
    path = _font_file()
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:
        raise MissingDependencyError(f"{path}: cannot be read as a font ({exc})", hint=FONT_HINT) from None


@dataclass(frozen=True)
class Separator:
    case_number: str
    row: int


def payload(case_number: str, row: int) -> str:
    return f"{PREFIX}|{case_number}|{row}"


def read_separator(image: Image.Image, dpi: float = 300.0) -> Separator | None:
    """The separator a page carries, if it is one: our QR sheet (decoded with zxing-cpp), or
    a patch T sheet (``row`` 0: the next catalogue row, since a patch carries no data)."""
    import zxingcpp

    # A separator's code spans half the sheet: 1000 px across is plenty, and decoding a full
    # 300-dpi page would make the clerk wait after every batch.
    factor = max(1, image.width // 1000)
    small = (image.reduce(factor) if factor > 1 else image).convert("L")
    for result in zxingcpp.read_barcodes(small):
        text = result.text
        if text.startswith(PREFIX + "|"):
            _, case_number, row = text.split("|", 2)
            if row.isdigit():
                return Separator(case_number, int(row))
    from dossier_station.capture.patchcode import is_patch_t

    return Separator("", 0) if is_patch_t(image, dpi) else None


def split_documents(pages: list[dict[str, Any]], separators: dict[int, Separator]) -> list[dict[str, Any]]:
    """``documents`` for batch.json: [{row, pages: [seq…]}] from the separator positions."""
    docs: list[dict[str, Any]] = []  # pages before the first sheet: see unassigned_pages
    for page in pages:
        seq = page["seq"]
        if seq in separators:
            row = separators[seq].row or (docs[-1]["row"] + 1 if docs else 1)  # patch T: next row
            docs.append({"row": row, "pages": []})
        elif docs and page.get("role", "page") == "page":
            docs[-1]["pages"].append(seq)
    return docs


def unassigned_pages(pages: list[dict[str, Any]], documents: list[dict[str, Any]]) -> list[int]:
    """Seqs of dossier pages that no separator claims — those scanned before the first sheet.

    They are kept (raw pages are evidence) and reported; the build sets them aside by name.
    """
    claimed = {s for d in documents for s in d["pages"]}
    return [p["seq"] for p in pages if p.get("role", "page") == "page" and p["seq"] not in claimed]


def case_label(case: Any) -> str:
    """What a separator sheet printed for this case carries (see :func:`separator_pdf`)."""
    return str(case.fields.case_number or case.fields.case_name)


def check_separator_cases(separator_cases: Any, case: Any, where: str) -> None:
    """A sheet printed for another case means another case's pages are in this batch: refuse."""
    mine = case_label(case)
    foreign = sorted({c for c in separator_cases if c and c != mine})
    if foreign:
        raise CaseFileError(
            f"{where}: a separator sheet carries case {foreign[0]!r}, but this is case {mine!r}"
            + (f" (and {len(foreign) - 1} more other cases)" if len(foreign) > 1 else ""),
            hint="another case's documents are in this batch: take them out and rescan, or build with that case's file",
        )


def check_against_case(documents: list[dict[str, Any]], case: Any, where: str, separator_cases: Any = ()) -> None:
    """Each catalogue row once, in the catalogue, with its page count when the case gives one;
    no sheet printed for another case."""
    check_separator_cases(separator_cases, case, where)
    rows = {r.seq: r for r in case.rows}
    seen: set[int] = set()
    for d in documents:
        row = rows.get(d["row"])
        if row is None:
            raise CaseFileError(f"{where}: a separator names catalogue row {d['row']}, which the case does not have", hint="print the separator sheets again from the case file")
        if d["row"] in seen:
            raise CaseFileError(f"{where}: {row.label} has two separator sheets", hint="remove the duplicate sheet and rescan that document")
        seen.add(d["row"])
        if row.pages is not None and row.pages != len(d["pages"]):
            raise CaseFileError(f"{where}: {row.label}: the case says {row.pages} pages, {len(d['pages'])} were scanned after its separator", hint="check the document for missing or extra sheets")
        if not d["pages"]:
            raise CaseFileError(f"{where}: {row.label}: no pages after its separator sheet", hint="scan the document after its separator")
    missing = [r for s, r in rows.items() if s not in seen]
    if missing:
        raise CaseFileError(f"{where}: no separator was scanned for {missing[0].label}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""), hint="scan each document behind its separator sheet")


def sheet_image(case_number: str, row: int, title: str, dpi: int = 150) -> Image.Image:
    """An A4 separator sheet: big QR code, the row number and title in Chinese."""
    import zxingcpp

    w, h = int(210 / 25.4 * dpi), int(297 / 25.4 * dpi)
    page = Image.new("L", (w, h), 255)
    qr = zxingcpp.create_barcode(payload(case_number, row), zxingcpp.BarcodeFormat.QRCode)
    code = Image.fromarray(np.asarray(qr.to_image(scale=4, add_quiet_zones=True)))
    side = w // 2
    code = code.resize((side, side), Image.NEAREST)
    page.paste(code, ((w - side) // 2, h // 5))
    draw = ImageDraw.Draw(page)
    big = _font(dpi // 2)
    mid = _font(dpi // 5)
    draw.text((w / 2, h // 12), "文件分隔页", font=big, fill=0, anchor="mm")
    draw.text((w / 2, h // 5 + side + dpi // 3), f"第 {row} 份　{title}", font=mid, fill=0, anchor="mm")
    draw.text((w / 2, h // 5 + side + dpi * 2 // 3), case_number, font=mid, fill=0, anchor="mm")
    draw.text((w / 2, h - dpi // 2), "本页不入卷 — separator sheet, not part of the dossier", font=_font(dpi // 10), fill=0, anchor="mm")
    return page


def rows_for_documents(documents: list[dict[str, Any]], case: Any, where: str, separator_cases: Any = ()) -> list[tuple[Any, list[int]]]:
    """At build time, whatever batch.json says: the split is checked again against the case —
    every catalogue row present once, no unknown row, no other case's sheet, page counts agree —
    and each row gets its pages (indices into the build's page list)."""
    check_against_case(documents, case, where, separator_cases)
    rows = {r.seq: r for r in case.rows}
    return [(rows[d["row"]], list(d["pages"])) for d in documents]


def separator_pdf(case: Any, out: Path) -> int:
    images = [sheet_image(case_label(case), r.seq, r.title) for r in case.rows]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=150.0)
    write_bytes_atomic(out, buf.getvalue(), verify=pdf_verifier(pages=len(images), what="separator sheets"), make_parents=False)
    return len(images)
