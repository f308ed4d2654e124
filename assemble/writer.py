"""The volume writer: cover → catalogue → documents → back sheet, one PDF/A file per volume.

Document pages place the encoded image unchanged with the page stage's matrix, then the
invisible text layer (render mode 3, one string per line, horizontally scaled to the line's
box so it lines up and no spaces appear between Han characters), then the stamped page number
top-right as real text. A born-digital PDF page (``PageSpec.imported``) is placed as the page
itself, a Form XObject with no text layer over it, when PDF/A allows it as it is
(``assemble.imported_page``); else its raster and its own text go in as above. Output goes through :class:`dossier_station.core.files.AtomicOutput`:
written to a hidden temporary, fsynced, reopened and checked (page count, trailer, every image
poured in at its full length) and only then renamed — qpdf's exit status alone proves nothing.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pikepdf

from dossier_station.assemble import sheets
from dossier_station.assemble.canvas import A4
from dossier_station.assemble.case import Case, CatalogueRow
from dossier_station.assemble.fonts import CjkFont
from dossier_station.assemble.fonts import prepare as prepare_fonts
from dossier_station.assemble.imported_page import FORM_NAME, SourcePdfs, placing_ops
from dossier_station.assemble.pdfa import add_attachments, add_output_intent, set_identity
from dossier_station.assemble.qpdf import update_from_json
from dossier_station.core.errors import OutputError
from dossier_station.core.files import AtomicOutput, discard
from dossier_station.core.model import Attachment, PageSpec, VolumeResult
from dossier_station.core.pdfcheck import check_pdf

Document = tuple[CatalogueRow, list[PageSpec]]


class Part(tuple):  # noqa: SLOT001
    """A document's pages in one volume: unpacks as ``(row, pages)`` like a :data:`Document`,
    and says ``continued`` when its earlier pages are in the volume before.

    Kept apart from the row's own 备注 so that a remark which happens to contain "（续）" is
    not taken for a continuation, and a continuation is marked once, not once per pass.
    """

    continued: bool

    def __new__(cls, row: CatalogueRow, pages: list[PageSpec], continued: bool = False) -> Part:
        part = super().__new__(cls, (row, pages))
        part.continued = continued
        return part

    @property
    def row(self) -> CatalogueRow:
        return self[0]

    @property
    def pages(self) -> list[PageSpec]:
        return self[1]
NUMBER_SIZE = 14.0
SPOOL_KEY = "/DossierSpoolImage"  # marks image placeholders between the two write passes


def split_volumes(documents: list[Document], max_pages: int = 200) -> list[list[Part]]:
    """≤ ``max_pages`` numbered pages per volume, documents whole where possible.

    A document longer than a volume is split; its later parts are marked ``continued`` (the
    catalogue then shows "（续）" in 备注, the row's own remark unchanged).
    """
    volumes: list[list[Part]] = [[]]
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
            volumes[-1].append(Part(row, part, not first_part))
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
            list(font.runs(line.text))  # still count what is missing
            continue
        scale = 100.0 * (line.x1 - line.x0) / natural
        baseline = line.y0 + 0.12 * height
        ops.append(f"BT 3 Tr {scale:.2f} Tz 1 0 0 1 {line.x0:.2f} {baseline:.2f} Tm {font.show(text, height)} ET")
    return ops


def _page_number(font: CjkFont, spec: PageSpec, number: int) -> str:
    s = str(number)
    x = spec.width_pt - 36 - font.width(s, NUMBER_SIZE)
    y = spec.height_pt - 36
    return f"BT 0 Tr 0 g 1 0 0 1 {x:.2f} {y:.2f} Tm {font.show(s, NUMBER_SIZE)} ET"


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


def _page(pdf: pikepdf.Pdf, size: tuple[float, float], content: bytes, fonts: dict[str, pikepdf.Object], xobjects: dict | None = None) -> pikepdf.Page:
    resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(fonts))
    if xobjects:
        resources.XObject = pikepdf.Dictionary(xobjects)
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, round(size[0], 3), round(size[1], 3)],
        Resources=resources,
        Contents=pikepdf.Stream(pdf, content),
    )
    return pikepdf.Page(pdf.make_indirect(page))


def prepare() -> None:
    """Get ready to write a volume (read the main font) before the pages are all known."""
    prepare_fonts()


def write_volume(
    case: Case,
    volume_docs: list[Part] | list[Document],
    volume_no: int,
    volume_count: int,
    out_path: Path,
    *,
    pdfa: str = "2b",
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
    blank_pages: int = 0,
    output: AtomicOutput | None = None,
    work_dir: Path | None = None,
) -> VolumeResult:
    """Write one volume to ``out_path`` through ``output`` (an :class:`AtomicOutput`; one that
    places at once when not given). A caller placing several files together passes its own
    with ``place=False`` and reads the hash of the bytes on disk from ``output.result``.
    ``work_dir`` holds the writer's scratch files (default: beside the temporary)."""
    parts = [p if isinstance(p, Part) else Part(p[0], p[1]) for p in volume_docs]
    volume_docs = [(p.row, p.pages) for p in parts]
    font = CjkFont()
    sheets.check_case_text(font, case)
    # 1. Page numbers and the catalogue's 页号, from the pages actually present.
    row_pages: list[sheets.RowPages] = []
    n = 0
    for part in parts:
        row_pages.append(sheets.RowPages(part.row, n + 1, n + len(part.pages), part.continued))
        n += len(part.pages)
    # 2. Every content stream first, so the font subset knows every character.
    cover = sheets.cover(font, case, volume_no, volume_count)
    catalogue = sheets.catalogue(font, case, row_pages, volume_no)
    back = sheets.back_sheet(font, case, n, blank_pages, sum(rp.continued for rp in row_pages))
    with SourcePdfs(Path(work_dir) if work_dir else out_path.parent) as sources:  # born-digital files, each opened once
        doc_contents, kept, refused = _doc_contents(font, volume_docs, sources, pdfa)
        pdf = pikepdf.new()
        try:
            result = _write(pdf, sources, case, volume_docs, row_pages, cover, catalogue, back, doc_contents, font, kept,
                            volume_no, volume_count, out_path, pdfa, attachments, output, work_dir)
        finally:
            pdf.close()
    return VolumeResult(out_path, volume_no, volume_count, n, result[0], [(rp.row.seq, rp.first, rp.last) for rp in row_pages], result[1],
                        [spec.key for spec, k in zip((s for _, pages in volume_docs for s in pages), kept, strict=True) if k], refused)


def _doc_contents(font: CjkFont, volume_docs: list[Document], sources: SourcePdfs, pdfa: str) -> tuple[list[bytes], list[bool], dict[str, str]]:
    """Each document page's content stream (before the font is embedded, so the subset knows
    every character); per page whether it is a born-digital page placed as it is, and for
    those that asked to be but cannot, why."""
    doc_contents: list[bytes] = []
    kept: list[bool] = []
    refused: dict[str, str] = {}
    number = 0
    for _, pages in volume_docs:
        for spec in pages:
            number += 1
            why = sources.refusal(spec.imported, pdfa, spec.source) if spec.imported is not None else ""
            kept.append(why is None)
            if why is None and spec.imported is not None:  # its own text is the text: no invisible layer over it
                doc_contents.append("\n".join([placing_ops(spec.imported), _page_number(font, spec, number)]).encode("ascii"))
                continue
            if why:
                refused[spec.key] = why
            a, b, c, d, e, f = spec.matrix
            ops = ["q"]
            if spec.clip:
                x0, y0, x1, y1 = spec.clip
                ops.append(f"{x0:.3f} {y0:.3f} {x1 - x0:.3f} {y1 - y0:.3f} re W n")
            ops += [f"{a:.6f} {b:.6f} {c:.6f} {d:.6f} {e:.4f} {f:.4f} cm /Im0 Do", "Q"]
            ops += _text_layer(font, spec)
            ops.append(_page_number(font, spec, number))
            doc_contents.append("\n".join(ops).encode("ascii"))
    return doc_contents, kept, refused


def _write(pdf, sources, case, volume_docs, row_pages, cover, catalogue, back, doc_contents, font, kept,  # type: ignore[no-untyped-def]
           volume_no, volume_count, out_path, pdfa, attachments, output, work_dir) -> tuple[int, list[tuple[str, int | None]]]:
    """The volume's structure (pages, labels, outline, PDF/A identity), then the verified write;
    returns the page count and each document page's stamped number."""
    font_obj = font.embed(pdf, cidset=pdfa == "1b")  # {resource: font}
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
            if kept[i] and spec.imported is not None:
                form = sources.place(pdf, spec.imported, spec.source)
                pdf.pages.append(_page(pdf, (spec.width_pt, spec.height_pt), doc_contents[i], font_obj, {FORM_NAME: form}))
            else:
                im = _placeholder(pdf, spec, len(images))
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
    add_output_intent(pdf, pdfa)
    if attachments and pdfa == "3b":
        add_attachments(pdf, list(attachments), datetime.now(UTC))
    set_identity(pdf, pdfa, title, f.unit or f.compiler, f"{f.case_number} {f.case_name}".strip(), [f.case_number, f.case_name, f.suspects, f.volume_title])
    total = len(pdf.pages)
    out = output or AtomicOutput(out_path)
    out.verify = _volume_verifier(total, images, sum(kept))
    with out as tmp:
        _save(pdf, tmp, Path(work_dir) if work_dir else tmp.parent, pdfa, images, out_path)
    return total, page_numbers


def _volume_verifier(total: int, images: list[PageSpec], forms: int = 0):  # type: ignore[no-untyped-def]
    """The verify step: the file reopens whole, with every page, and every image poured in.

    A placeholder left in, or an image stream shorter than its file, means qpdf's write went
    wrong whatever its exit status said.
    """

    def check(path: Path) -> None:
        check_pdf(path, pages=total, what="dossier volume")
        sizes = {}
        placed = 0
        with pikepdf.open(path) as pdf:
            for page in pdf.pages:
                xobjects = page.obj.get("/Resources", {}).get("/XObject", {})
                placed += bool(xobjects) and FORM_NAME in xobjects
                im = xobjects.get("/Im0") if xobjects else None
                if im is None:
                    continue
                if SPOOL_KEY in im:
                    raise OutputError(f"{path}: an image was not written into the volume", hint="check free disk space; nothing was replaced")
                sizes[len(sizes)] = int(im.get("/Length", -1))
        if placed != forms:
            raise OutputError(f"{path}: {placed} born-digital pages in the volume, {forms} were written", hint="check free disk space; nothing was replaced")
        if len(sizes) != len(images):
            raise OutputError(f"{path}: {len(sizes)} page images in the volume, {len(images)} were written", hint="check free disk space; nothing was replaced")
        for i, spec in enumerate(images):
            if sizes[i] != spec.image.data_path.stat().st_size:
                raise OutputError(f"{path}: the image of page {spec.key} was cut short", hint="check free disk space; nothing was replaced")

    return check


def _save(pdf: pikepdf.Pdf, tmp: Path, scratch: Path, pdfa: str, images: list[PageSpec], out_path: Path) -> None:
    """Write the volume to ``tmp`` without holding its images in memory.

    pikepdf writes the structure with one-byte image placeholders; qpdf then replaces each
    placeholder's data with its image file (``--update-from-json``, ``datafile``) while it
    writes, reading one image at a time — memory stays flat in the page count. The scratch
    files are hidden and carry the process id, so a rerun can clear those of a killed build.
    """
    pid = os.getpid()
    skeleton = scratch / f".{out_path.name}.skeleton.{pid}.tmp"
    update = scratch / f".{out_path.name}.images.{pid}.tmp"
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
        for spec in images:
            if not spec.image.data_path.is_file():
                raise OutputError(f"{out_path}: the image of page {spec.key} is missing ({spec.image.data_path})", hint="rerun the build")
        header = {"jsonversion": 2, "pushedinheritedpageresources": False, "calledgetallpages": False, "maxobjectid": 0}
        update.write_text(json.dumps({"qpdf": [header, objects]}))
        result = update_from_json(skeleton, update, tmp, pdf_1_4=one_b)
        if result.returncode not in (0, 3):  # 3: warnings only
            if "No space left" in result.stderr:
                raise OSError(28, "No space left on device")
            raise OutputError(f"{out_path}: writing the images failed: {result.stderr.strip()}", hint="check the page images in the work folder")
    finally:
        discard(skeleton)
        discard(update)
