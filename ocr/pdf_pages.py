"""A page of a scanned PDF as it is displayed, whatever the scanner or scanning software wrote.

Real scanned PDFs hold JBIG2 or CCITT bilevel images, pages built of several strips or
tiles, images cropped or scaled by their placement, /Rotate, and pages with a text layer
already. Taking "the largest image" of a page gets all of those wrong, so a page is
**rendered as displayed** (pdfium: it decodes JBIG2, CCITT, JPEG, JPX and applies /Rotate,
the crop box and every placement). Only when a page is exactly one image filling the page
and nothing else, in a format we can pass through, is the image taken as it is — then a JPEG
scan is embedded byte for byte, as for image files.

Rendering is done at the scan's own resolution (the densest image's pixels per inch on the
page), capped at ``MAX_RENDER_DPI``: OCR and the dossier gain nothing above it, and memory
stays bounded whatever the PDF claims. Every pdfium or decoder failure becomes the loader's
InputFileError naming file and page.

A **born-digital** page (visible text of its own) is rendered too — for the blank and colour
checks and as the fallback — but also described by ``imported``: its displayed box and the
matrix that shows it upright at its real size, so the writer can place the PDF page itself
(``core.model.ImportedPage``) and neither OCR nor rasterise it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dossier_station.core.errors import InputFileError
from dossier_station.core.model import ImportedPage, Matrix

MAX_RENDER_DPI = 400
MIN_RENDER_DPI = 150
DEFAULT_RENDER_DPI = 300
PASS_THROUGH_FILTERS = {"DCTDecode", "FlateDecode", "CCITTFaxDecode"}
FULL_PAGE_TOLERANCE = 0.01  # share of the page an image may miss and still "fill" it


@dataclass
class PdfPageRaster:
    image: Image.Image
    dpi: float
    jpeg_bytes: bytes | None
    how: str  # "extracted" (the one image, as stored) or "rendered at N dpi"
    text: str  # visible text the page already carries ("" for a scan)
    text_lines: list[tuple[str, float, float, float, float]] | None = None  # born digital: (text, x0, y0, x1, y1) in raster px
    note: str = ""  # how the resolution was taken when the page's units are not points (/UserUnit)
    imported: ImportedPage | None = None  # born digital: the page itself, to place as it is (sha256 left to the caller)
    turn: int = 0  # born digital: the clockwise turn it is shown with (its /Rotate, unless its text then runs sideways)
    corrected: int = 0  # born digital: the clockwise turn added to its /Rotate so that its text reads upright
    size_pt: tuple[float, float] | None = None  # born digital: the displayed size in points (/Rotate, crop box, /UserUnit)


def placement(bbox: tuple[float, float, float, float], rotate: int, unit: float = 1.0) -> tuple[Matrix, float, float]:
    """The ``cm`` matrix that shows a page's box as a viewer does, and the displayed size (pt).

    The box's lower-left corner goes to the origin, /Rotate turns it clockwise (a multiple of
    90°), /UserUnit scales it to points: the page appears at its real size, upright as shown.
    """
    x0, y0, x1, y1 = bbox
    w, h = x1 - x0, y1 - y0
    # (a, b, c, d, e, f) with x' = a·x + c·y + e, y' = b·x + d·y + f, on box-relative x, y
    turn = {0: (1, 0, 0, 1, 0, 0), 90: (0, -1, 1, 0, 0, w), 180: (-1, 0, 0, -1, w, h), 270: (0, 1, -1, 0, h, 0)}[rotate]
    a, b, c, d, e, f = turn
    e, f = e - a * x0 - c * y0, f - b * x0 - d * y0  # translate the box's corner first
    m = tuple(float(round(v * unit, 6)) for v in (a, b, c, d, e, f))
    size = (w, h) if rotate in (0, 180) else (h, w)
    return m, round(size[0] * unit, 3), round(size[1] * unit, 3)  # type: ignore[return-value]


def _box(value, fallback: tuple[float, float, float, float] | None = None) -> tuple[float, float, float, float] | None:  # type: ignore[no-untyped-def]
    try:
        x0, y0, x1, y1 = (float(v) for v in value)
    except Exception:  # noqa: BLE001 - a malformed box: the caller falls back
        return fallback
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _page_facts(path: Path, index: int) -> tuple[float, tuple[float, float, float, float] | None, int]:
    """The page's /UserUnit (PDF 1.6: one unit = N/72 inch; pdfium ignores it, so we read it),
    its displayed box (crop box within the media box) and its /Rotate."""
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            page = pdf.pages[index].obj
            unit = page.get("/UserUnit")
            value = float(unit) if unit is not None else 1.0
            media = _box(page.get("/MediaBox"))
            crop = _box(page.get("/CropBox"), media) if page.get("/CropBox") is not None else media
            box = None
            if media is not None and crop is not None:
                box = (max(media[0], crop[0]), max(media[1], crop[1]), min(media[2], crop[2]), min(media[3], crop[3]))
                box = box if box[2] > box[0] and box[3] > box[1] else None
            rotate = int(page.get("/Rotate", 0)) % 360
    except Exception:  # noqa: BLE001 - a damaged entry: units taken as points, and said so below
        return 1.0, None, 0
    return (value if 0.01 <= value <= 1000 else 1.0), box, (rotate if rotate % 90 == 0 else 0)


def _with_user_unit(r: PdfPageRaster, unit: float) -> PdfPageRaster:
    if unit == 1.0:
        return r
    r.dpi = round(r.dpi / unit, 2)
    r.note = f"PDF /UserUnit {unit:g}: the page is {unit:g}× its size in points, so its pixels are {r.dpi:g} per real inch"
    return r


def _fail(path: Path, index: int, what: str, hint: str = "obtain an intact copy of the file, or rescan the paper") -> InputFileError:
    return InputFileError(f"{path}, page {index + 1}: {what}", hint=hint)


def _visible_text(page, raw) -> str:  # type: ignore[no-untyped-def]
    """Text drawn visibly on the page (an invisible OCR layer over a scan does not count)."""
    visible = False
    for obj in page.get_objects(max_depth=3):
        if obj.type == raw.FPDF_PAGEOBJ_TEXT and raw.FPDFTextObj_GetTextRenderMode(obj.raw) != raw.FPDF_TEXTRENDERMODE_INVISIBLE:
            visible = True
            break
    if not visible:
        return ""
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded().strip()
    finally:
        textpage.close()


def load_pdf_page(path: Path, index: int, max_pixels: int) -> PdfPageRaster:
    unit, box, _rotate = _page_facts(path, index)  # the turn is pdfium's (r.turn): /Rotate, or what makes the text upright
    r = _with_user_unit(_load(path, index, max_pixels), unit)
    if r.text_lines is not None and box is not None:
        matrix, width, height = placement(box, r.turn, unit)
        r.imported = ImportedPage(path, index, "", matrix, box)
        r.size_pt = (width, height)
    return r


def _load(path: Path, index: int, max_pixels: int) -> PdfPageRaster:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise _fail(path, index, f"the PDF cannot be opened ({exc})") from None
    try:
        if index >= len(doc):
            raise _fail(path, index, f"the PDF has only {len(doc)} pages")
        page = doc[index]
        width_pt, height_pt = page.get_size()
        if width_pt <= 0 or height_pt <= 0:
            raise _fail(path, index, "the page has no area (empty media box)")
        images = [o for o in page.get_objects(max_depth=3) if o.type == raw.FPDF_PAGEOBJ_IMAGE]
        densest = 0.0
        for img in images:
            w_px, h_px = img.get_px_size()
            if w_px * h_px > max_pixels:
                raise _fail(
                    path, index,
                    f"an image of {w_px}×{h_px} px is too large to be a scan (over {max_pixels // 1_000_000} Mpx); refusing a possible decompression bomb",
                    "rescan at ≤ 600 dpi, or remove the file from the folder",
                )
            m = img.get_matrix()
            placed_w, placed_h = np.hypot(m.a, m.b), np.hypot(m.c, m.d)
            if placed_w > 1 and placed_h > 1:
                densest = max(densest, w_px / (placed_w / 72.0), h_px / (placed_h / 72.0))
        text = _visible_text(page, raw)
        extracted = _only_image(page, images, width_pt, height_pt) if not text else None
        if extracted is not None:
            return extracted
        dpi = min(MAX_RENDER_DPI, max(MIN_RENDER_DPI, round(densest))) if densest else DEFAULT_RENDER_DPI
        scale = dpi / 72.0
        while (width_pt * scale) * (height_pt * scale) > max_pixels and dpi > 72:
            dpi = int(dpi * 0.8)
            scale = dpi / 72.0
        if (width_pt * scale) * (height_pt * scale) > max_pixels:
            raise _fail(path, index, f"the page is {width_pt / 72:.0f}×{height_pt / 72:.0f} inches, too large to be a scanned page", "split the file or rescan the paper")
        # pdfium rounds the raster's size up: aim just below the page's exact pixel width so a
        # scan rendered at its own resolution maps pixel for pixel (no resampling, no grey
        # edge on a bilevel page); image smoothing off for the same reason.
        scale = round(width_pt * scale) / width_pt * (1 - 1e-7)
        rotate = page.get_rotation()
        turn = _upright_turn(page, rotate) if text else rotate
        bitmap = page.render(scale=scale, rotation=(turn - rotate) % 360, may_draw_forms=True, no_smoothimage=True)
        pil = bitmap.to_pil().convert("RGB")
        bitmap.close()
        if images and np.asarray(pil.reduce(4)).min() > 128:
            _check_images_decode(path, index, images)
        lines = _text_lines(page, scale, turn) if text else None
        how = f"rendered at {dpi} dpi"
        if turn != rotate:
            how += f", shown turned {turn}° (its /Rotate is {rotate}°) so that its text is upright"
        return PdfPageRaster(_narrowest_mode(pil), float(dpi), None, how, text, lines, turn=turn, corrected=(turn - rotate) % 360)
    except InputFileError:
        raise
    except Exception as exc:  # any decoder failure inside pdfium or PIL: the file is at fault
        raise _fail(path, index, f"the page cannot be decoded ({type(exc).__name__}: {exc})") from None
    finally:
        doc.close()


def _check_images_decode(path: Path, index: int, images: list) -> None:  # type: ignore[type-arg]
    """A page that rendered without any ink although it has images: did an image fail to decode?

    pdfium draws nothing for an image it cannot decode (a damaged JBIG2 or JPEG stream) and
    says nothing; decoding each image on its own tells a blank sheet from a broken file.
    """
    import pypdfium2 as pdfium

    for n, img in enumerate(images, start=1):
        try:
            img.get_bitmap(render=False).close()
        except pdfium.PdfiumError:
            filters = "+".join(img.get_filters()) or "unfiltered"
            raise _fail(path, index, f"image {n} ({filters}) cannot be decoded: the stream is damaged") from None


def _upright_turn(page, rotate: int) -> int:  # type: ignore[no-untyped-def]
    """The clockwise turn that shows a born-digital page's text upright.

    Usually its /Rotate (a landscape table drawn turned on a portrait page and turned back
    for display). When the text would then run sideways or upside down — a /Rotate set by
    mistake, a page drawn turned without one — the turn its glyphs say wins: a dossier page is
    upright. pdfium gives each glyph's angle clockwise in page space; most glyphs decide.
    """
    import math

    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    try:
        n = textpage.count_chars()
        votes: dict[int, int] = {}
        for i in range(0, n, max(1, n // 400)):
            if raw.FPDFText_GetUnicode(textpage.raw, i) in (0, 9, 10, 13, 32, 0x3000):
                continue
            angle = raw.FPDFText_GetCharAngle(textpage.raw, i)
            if angle < 0:
                continue
            quarter = round(math.degrees(angle) / 90) % 4 * 90
            votes[quarter] = votes.get(quarter, 0) + 1
    finally:
        textpage.close()
    if not votes:
        return rotate
    quarter, count = max(votes.items(), key=lambda kv: kv[1])
    return (-quarter) % 360 if count >= 0.6 * sum(votes.values()) else rotate


def _text_lines(page, scale: float, turn: int) -> list[tuple[str, float, float, float, float]] | None:  # type: ignore[no-untyped-def]
    """The page's own text, one entry per text run, boxed in the rendered raster's pixels.

    Page space maps to the raster as shown: the crop box's corner to the origin, turned by
    ``turn`` (``placement``, the same turn the writer gives the imported page), y flipped.
    """
    if turn % 90:
        return None
    rotation = turn
    box = _box(page.get_cropbox())
    if box is None:
        return None
    (a, b, c, d, e, f), _width, height = placement(box, rotation)
    textpage = page.get_textpage()
    try:
        lines = []
        for i in range(textpage.count_rects()):
            l_, b_, r_, t_ = textpage.get_rect(i)
            text = textpage.get_text_bounded(l_, b_, r_, t_).strip()
            if text and r_ > l_ and t_ > b_:
                xs = [a * x + c * y + e for x, y in ((l_, b_), (r_, t_))]
                ys = [b * x + d * y + f for x, y in ((l_, b_), (r_, t_))]
                lines.append((text, min(xs) * scale, (height - max(ys)) * scale, max(xs) * scale, (height - min(ys)) * scale))
        return lines
    finally:
        textpage.close()


def _narrowest_mode(im: Image.Image) -> Image.Image:
    """A rendered page in the narrowest mode that holds it: bilevel, grey or colour.

    A rendered JBIG2/CCITT page at its own resolution has only black and white pixels and
    goes back to bilevel (stored as lossless G4); a grey scan rendered as RGB goes back to L.
    """
    rgb = np.asarray(im)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if not (np.array_equal(r, g) and np.array_equal(g, b)):
        return im
    grey = Image.fromarray(np.ascontiguousarray(r))
    lo_hi = np.isin(r, (0, 255))
    if lo_hi.all():
        return grey.convert("1", dither=Image.Dither.NONE)
    return grey


def _only_image(page, images, width_pt: float, height_pt: float) -> PdfPageRaster | None:  # type: ignore[no-untyped-def]
    """The page's one image as stored, when that is all the page is; else None (render)."""
    import pypdfium2.raw as raw

    if len(images) != 1 or page.get_rotation() != 0:
        return None
    objects = list(page.get_objects(max_depth=3))
    if any(o.type != raw.FPDF_PAGEOBJ_IMAGE for o in objects):
        return None
    img = images[0]
    filters = img.get_filters()
    if len(filters) != 1 or filters[0] not in PASS_THROUGH_FILTERS:
        return None
    m = img.get_matrix()
    left, bottom, right, top = page.get_cropbox()
    tol_w, tol_h = width_pt * FULL_PAGE_TOLERANCE, height_pt * FULL_PAGE_TOLERANCE
    upright = abs(m.b) < 1e-6 and abs(m.c) < 1e-6 and m.a > 0 and m.d > 0
    fills = abs(m.a - (right - left)) <= tol_w and abs(m.d - (top - bottom)) <= tol_h and abs(m.e - left) <= tol_w and abs(m.f - bottom) <= tol_h
    if not (upright and fills):
        return None
    w_px, h_px = img.get_px_size()
    dpi = w_px / (m.a / 72.0)
    jpeg = None
    if filters[0] == "DCTDecode":
        meta = img.get_metadata()
        if meta.colorspace in (raw.FPDF_COLORSPACE_DEVICEGRAY, raw.FPDF_COLORSPACE_DEVICERGB):
            jpeg = bytes(img.get_data(decode_simple=False))
    pil = img.get_bitmap(render=False).to_pil()
    if jpeg is not None:
        import io

        pil = Image.open(io.BytesIO(jpeg))
        pil.load()
    elif pil.mode not in ("1", "L", "RGB"):
        pil = pil.convert("RGB")
    return PdfPageRaster(_narrowest_mode(pil) if pil.mode == "RGB" and jpeg is None else pil, round(dpi, 1), jpeg, "extracted (one full-page image)", "")
