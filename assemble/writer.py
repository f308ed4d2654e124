"""The volume writer: cover → catalogue → documents → back sheet, one PDF/A file per volume.

Document pages place the encoded image unchanged with the page stage's matrix, then the
invisible text layer (render mode 3, one string per line, horizontally scaled to the line's
box so it lines up and no spaces appear between Han characters), then the stamped page number
top-right as real text. Output is atomic: written to a temporary name, fsynced, renamed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pikepdf

from dossier_station.assemble import sheets
from dossier_station.assemble.canvas import A4
from dossier_station.assemble.case import Case, CatalogueRow
from dossier_station.assemble.fonts import CjkFont
from dossier_station.assemble.pdfa import add_attachments, add_output_intent, set_identity
from dossier_station.core.errors import MissingDependencyError, OutputError
from dossier_station.core.model import Attachment, PageSpec, VolumeResult

Document = tuple[CatalogueRow, list[PageSpec]]
NUMBER_SIZE = 14.0
SPOOL_KEY = "/DossierSpoolImage"  # marks image placeholders between the two write passes


def split_volumes(documents: list[Document], max_pages: int = 200) -> list[list[Document]]:
    """≤ ``max_pages`` numbered pages per volume, documents whole where possible.

    A document longer than a volume is split; its later parts carry a "(续)" remark.
    """
    volumes: list[list[Document]] = [[]]
    count = 0
    for row, pages in documents:
        if count and count + len(pages) > max_pages:
            volumes.append([])
            count = 0
        first_part = True
        remaining = pages
        while True:
            room = max_pages - count
            part, remaining = remaining[:room], remaining[room:]
            r = row if first_part else replace(row, remarks=(row.remarks + "（续）").strip())
            volumes[-1].append((r, part))
            count += len(part)
            first_part = False
            if not remaining:
                break
            volumes.append([])
            count = 0
    return [v for v in volumes if v]


def _text_layer(font: CjkFont, spec: PageSpec) -> list[str]:
    ops = []
    for line in spec.lines:
        height = line.y1 - line.y0
        text = "".join(ch for ch in line.text if font.has(ch))
        natural = font.width(text, height)
        if not text or natural <= 0 or height <= 0:
            font.encode(line.text)  # still count what is missing
            continue
        scale = 100.0 * (line.x1 - line.x0) / natural
        baseline = line.y0 + 0.12 * height
        ops.append(f"BT 3 Tr {font.resource_name} {height:.2f} Tf {scale:.2f} Tz 1 0 0 1 {line.x0:.2f} {baseline:.2f} Tm {font.show(text)} Tj ET")
    return ops


def _page_number(font: CjkFont, spec: PageSpec, number: int) -> str:
    s = str(number)
    x = spec.width_pt - 36 - font.width(s, NUMBER_SIZE)
    y = spec.height_pt - 36
    return f"BT 0 Tr 0 g {font.resource_name} {NUMBER_SIZE:.1f} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm {font.show(s)} Tj ET"


def _image_dict(spec: PageSpec) -> dict[str, object]:
    """The image XObject dictionary, in qpdf's JSON form (names as "/Name")."""
    img = spec.image
    d: dict[str, object] = {
        "/Type": "/XObject",
        "/Subtype": "/Image",
        "/Width": img.width,
        "/Height": img.height,
        "/ColorSpace": img.colorspace,
        "/BitsPerComponent": img.bits,
        "/Filter": img.filter,
    }
    if img.decode_parms:
        d["/DecodeParms"] = dict(img.decode_parms)
    return d


def _placeholder(pdf: pikepdf.Pdf, spec: PageSpec, n: int) -> pikepdf.Object:
    """A one-byte stand-in for the image; qpdf pours the real data in while writing."""
    stream = pikepdf.Stream(pdf, b"\0")
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = spec.image.width, spec.image.height
    stream.ColorSpace = pikepdf.Name(spec.image.colorspace)
    stream.BitsPerComponent = spec.image.bits
    stream[SPOOL_KEY] = n
    return pdf.make_indirect(stream)


def _page(pdf: pikepdf.Pdf, size: tuple[float, float], content: bytes, font_obj: pikepdf.Object, xobjects: dict | None = None) -> pikepdf.Page:
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary({CjkFont.resource_name: font_obj}))
    if xobjects:
        resources.XObject = pikepdf.Dictionary(xobjects)
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, round(size[0], 3), round(size[1], 3)],
        Resources=resources,
        Contents=pikepdf.Stream(pdf, content),
    )
    return pikepdf.Page(pdf.make_indirect(page))


def write_volume(
    case: Case,
    volume_docs: list[Document],
    volume_no: int,
    volume_count: int,
    out_path: Path,
    *,
    pdfa: str = "2b",
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
    blank_pages: int = 0,
) -> VolumeResult:
    font = CjkFont()
    # 1. Page numbers and the catalogue's 页号, from the pages actually present.
    row_pages: list[sheets.RowPages] = []
    n = 0
    for row, pages in volume_docs:
        row_pages.append(sheets.RowPages(row, n + 1, n + len(pages), "（续）" in row.remarks))
        n += len(pages)
    # 2. Every content stream first, so the font subset knows every character.
    cover = sheets.cover(font, case, volume_no, volume_count)
    catalogue = sheets.catalogue(font, case, row_pages, volume_no)
    back = sheets.back_sheet(font, case, n, blank_pages, sum(rp.continued for rp in row_pages))
    doc_contents: list[bytes] = []
    number = 0
    for _, pages in volume_docs:
        for spec in pages:
            number += 1
            a, b, c, d, e, f = spec.matrix
            ops = ["q"]
            if spec.clip:
                x0, y0, x1, y1 = spec.clip
                ops.append(f"{x0:.3f} {y0:.3f} {x1 - x0:.3f} {y1 - y0:.3f} re W n")
            ops += [f"{a:.6f} {b:.6f} {c:.6f} {d:.6f} {e:.4f} {f:.4f} cm /Im0 Do", "Q"]
            ops += _text_layer(font, spec)
            ops.append(_page_number(font, spec, number))
            doc_contents.append("\n".join(ops).encode("ascii"))

    pdf = pikepdf.new()
    try:
        font_obj = font.embed(pdf, cidset=pdfa == "1b")
        labels: list[object] = []
        outline: list[tuple[str, int]] = [("卷宗封面", 0)]
        pdf.pages.append(_page(pdf, A4, cover, font_obj))
        labels += [0, pikepdf.Dictionary(P=pikepdf.String("封面"))]
        labels += [1, pikepdf.Dictionary(P=pikepdf.String("目录"), S=pikepdf.Name.D, St=1)]
        outline.append(("卷内目录", 1))
        for content in catalogue:
            pdf.pages.append(_page(pdf, A4, content, font_obj))
        first_doc = len(pdf.pages)
        labels += [first_doc, pikepdf.Dictionary(S=pikepdf.Name.D, St=1)]
        page_numbers: list[tuple[str, int | None]] = []
        images: list[PageSpec] = []
        i = 0
        for rp, (row, pages) in zip(row_pages, volume_docs, strict=True):
            if pages:
                outline.append((f"{row.seq} {row.title}", first_doc + rp.first - 1))
            for spec in pages:
                im = _placeholder(pdf, spec, i)
                pdf.pages.append(_page(pdf, (spec.width_pt, spec.height_pt), doc_contents[i], font_obj, {"/Im0": im}))
                images.append(spec)
                i += 1
                page_numbers.append((spec.key, i))
        labels += [len(pdf.pages), pikepdf.Dictionary(P=pikepdf.String("备考表"))]
        outline.append(("卷内备考表", len(pdf.pages)))
        pdf.pages.append(_page(pdf, A4, back, font_obj))
        pdf.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array(labels))
        with pdf.open_outline() as ol:
            ol.root.extend(pikepdf.OutlineItem(title, index) for title, index in outline)
        pdf.Root.PageMode = pikepdf.Name.UseOutlines

        f = case.fields
        title = f"{f.case_name or f.case_number} {f.volume_title} 第{volume_no}卷（共{volume_count}卷）".strip()
        add_output_intent(pdf)
        if attachments and pdfa == "3b":
            add_attachments(pdf, list(attachments), datetime.now(UTC))
        set_identity(pdf, pdfa, title, f.unit or f.compiler, f"{f.case_number} {f.case_name}".strip(), [f.case_number, f.case_name, f.suspects, f.volume_title])
        _save_atomic(pdf, out_path, pdfa, images)
    finally:
        pdf.close()
    return VolumeResult(out_path, volume_no, volume_count, n, len(catalogue) + n + 2, [(rp.row.seq, rp.first, rp.last) for rp in row_pages], page_numbers)


def _save_atomic(pdf: pikepdf.Pdf, out_path: Path, pdfa: str, images: list[PageSpec]) -> None:
    """Write the volume without holding its images in memory, then rename into place.

    pikepdf writes the structure with one-byte image placeholders; qpdf then replaces each
    placeholder's data with its image file (``--update-from-json``, ``datafile``) while it
    writes, reading one image at a time — memory stays flat in the page count.
    """
    if shutil.which("qpdf") is None:
        raise MissingDependencyError("qpdf is not installed (needed to write volumes)", hint="apt-get install qpdf")
    tmp = out_path.with_name(out_path.name + ".tmp")
    skeleton = out_path.with_name(out_path.name + ".skeleton")
    update = out_path.with_name(out_path.name + ".images.json")
    one_b = pdfa == "1b"
    try:
        pdf.save(
            skeleton,
            force_version="1.4" if one_b else "1.7",
            object_stream_mode=pikepdf.ObjectStreamMode.disable if one_b else pikepdf.ObjectStreamMode.generate,
            fix_metadata_version=False,
        )
        objects: dict[str, object] = {}
        with pikepdf.open(skeleton) as sk:
            for obj in sk.objects:
                if isinstance(obj, pikepdf.Stream) and SPOOL_KEY in obj:
                    spec = images[int(obj[SPOOL_KEY])]
                    num, gen = obj.objgen
                    objects[f"obj:{num} {gen} R"] = {"stream": {"datafile": str(spec.image.data_path.resolve()), "dict": _image_dict(spec)}}
        if len(objects) != len(images):
            raise OutputError(f"{out_path}: {len(images)} images to place, {len(objects)} placeholders found")
        header = {"jsonversion": 2, "pushedinheritedpageresources": False, "calledgetallpages": False, "maxobjectid": 0}
        update.write_text(json.dumps({"qpdf": [header, objects]}))
        cmd = ["qpdf", str(skeleton), f"--update-from-json={update}", "--newline-before-endstream",  # PDF/A: EOL before endstream
               "--object-streams=" + ("disable" if one_b else "generate")]
        cmd += ["--force-version=1.4"] if one_b else []
        result = subprocess.run([*cmd, str(tmp)], capture_output=True, text=True)
        if result.returncode not in (0, 3):  # 3: warnings only
            raise OutputError(f"{out_path}: writing the images failed: {result.stderr.strip()}", hint="check the page images in the work folder")
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except OSError as exc:
        raise OutputError(f"{out_path}: cannot write the dossier ({exc})", hint="check free space and permissions of the output folder") from None
    finally:
        for leftover in (tmp, skeleton, update):
            leftover.unlink(missing_ok=True)
