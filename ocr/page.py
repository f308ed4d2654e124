"""One page, start to finish: load, blank check, orientation, deskew, border, OCR, encode.

Everything geometric is kept as one affine map from the raw scan to the upright page; the
PDF writer applies that map to the untouched image, and the OCR boxes — found on an upright
working raster — are mapped to page points with the same numbers, so text and image line up.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from dossier_station.core.model import ImportedPage, PageSpec, TextLine
from dossier_station.ocr.blank import detect_blank
from dossier_station.ocr.border import lid_runs
from dossier_station.ocr.encode import colour_class, encode_compact, encode_page_image
from dossier_station.ocr.engine import OcrEngine, OcrLine, Reading
from dossier_station.ocr.geometry import line_axis, measure_skew
from dossier_station.ocr.image_policy import encode_auto
from dossier_station.ocr.loader import PageSource, load_page, sha256_file

# Engines without a line detector of their own (tesseract): between these axis ratios the ink
# profile cannot tell lines from columns and both axes are read. Justified Chinese text (a grid
# of square characters) turned 90° measured up to 2.13 on the wrong axis, so only a ratio
# beyond 2.5 is trusted; most pages are read both ways, correctness before speed.
AMBIGUOUS_AXIS = (1 / 2.5, 2.5)


@dataclass
class PageOutcome:
    """What happened to one page: the build report's row, plus the page for the writer."""

    key: str
    source: str
    page_in_file: int
    sha256: str
    dpi: float
    blank: bool
    ink_ratio: float
    colour: str
    rotation_deg: int = 0  # clockwise turn applied to the scan
    deskew_deg: float = 0.0  # counter-clockwise skew found and undone
    deskew_confidence: float = 0.0
    deskew_applied: bool = False
    orientation_evidence: str = ""  # what decided the turn (line detector / ink profile, read scores)
    dpi_note: str = ""  # set when the file gave no plausible resolution: how it was inferred or assumed
    pdf_page: str = ""  # PDF inputs: "extracted (one full-page image)" or "rendered at N dpi"
    born_digital: bool = False  # a PDF page with real text: that text is kept, not OCR'd
    kept_vector: bool = False  # born digital: placed as the PDF page itself (its vectors, its text), not as a raster
    image_decision: str = ""  # how the page image is stored in the dossier, and why
    image_sha256: str = ""  # of the embedded image stream (``sha256`` is the raw capture's)
    read_while_scanning: bool = False  # read by `scan --build` as the page arrived, not after the scan
    crop_px: tuple[int, int, int, int] | None = None
    engine: str = ""
    image_encoding: str = ""
    ocr_confidence: float = 0.0
    lines: int = 0
    chars: int = 0
    text: str = ""
    seconds: float = 0.0
    spec: PageSpec | None = field(default=None, repr=False)

    def report(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("spec")
        return d


def _affine(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _raw_to_upright(w0: int, h0: int, quarter: int, skew: float) -> tuple[np.ndarray, int, int]:
    """3×3 map from raw pixels to the upright raster, and the upright size."""
    if quarter == 90:  # clockwise: (u, v) → (h0 − v, u)
        q = np.array([[0.0, -1.0, h0], [1.0, 0.0, 0.0], [0, 0, 1]])
        wq, hq = h0, w0
    else:
        q = np.eye(3)
        wq, hq = w0, h0
    r = _affine(cv2.getRotationMatrix2D((wq / 2.0, hq / 2.0), -skew, 1.0))
    return r @ q, wq, hq


def _warp(raster: np.ndarray, a: np.ndarray, w: int, h: int) -> np.ndarray:
    fill = (255, 255, 255) if raster.ndim == 3 else 255
    return cv2.warpAffine(raster, a[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def _read_as_turned(engine: OcrEngine, raster: np.ndarray, gray: np.ndarray, dpi: float, turn: int) -> tuple[int, float, float, np.ndarray, Reading, int, int, str]:
    """The clerk's turn, not the machine's guess: deskew and read the page turned as told.

    The half turn is returned as ``flipped`` (lines in the turned raster), as an engine would.
    """
    h0, w0 = gray.shape[:2]
    q = 90 if turn in (90, 270) else 0
    g_q = cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE) if q == 90 else gray
    geo = measure_skew(g_q)
    a, wq, hq = _raw_to_upright(w0, h0, q, geo.skew_deg)
    flipped = turn in (180, 270)
    shown = np.array([[-1.0, 0, wq], [0, -1.0, hq], [0, 0, 1]]) @ a if flipped else a
    reading = engine.read(_warp(raster, shown, wq, hq), int(dpi), check_upside_down=False)
    reading = Reading(reading.lines, flipped, reading.score_as_is, 0.0)
    return q, geo.skew_deg, geo.confidence, a, reading, wq, hq, f"turned {turn}° by the clerk (check screen), not guessed"


def _read_upright(engine: OcrEngine, raster: np.ndarray, gray: np.ndarray, dpi: float) -> tuple[int, float, float, np.ndarray, Reading, int, int, str]:
    """Decide the quarter turn, skew and half turn, and read; returns the chosen candidate.

    Engines that can read a page as scanned (``read_any_way``) decide the axis from their
    own line detector; for the others the ink profile proposes an axis and, unless it is
    overwhelming, both axes are read and the better-read one wins.
    """
    h0, w0 = gray.shape[:2]
    if hasattr(engine, "read_any_way"):
        turned = engine.read_any_way(raster, int(dpi))
        q = turned.quarter
        g_q = cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE) if q == 90 else gray
        geo = measure_skew(g_q)
        a, wq, hq = _raw_to_upright(w0, h0, q, geo.skew_deg)
        skew_only = _affine(cv2.getRotationMatrix2D((wq / 2.0, hq / 2.0), -geo.skew_deg, 1.0))
        if turned.flipped:
            skew_only = np.array([[-1.0, 0, wq], [0, -1.0, hq], [0, 0, 1]]) @ skew_only
        lines = _map_lines(turned.lines, skew_only)
        reading = Reading(lines, turned.flipped, turned.score_as_is, turned.score_flipped)
        up_down = (
            f"lines read with confidence {turned.score_as_is:.2f} as they are (180° not tried)"
            if turned.score_flipped == 0.0 and not turned.flipped
            else f"sample read {turned.score_as_is:.2f} as is, {turned.score_flipped:.2f} turned 180°"
        )
        evidence = f"line detector: {turned.axis_share:.0%} of line length along the chosen axis, {turned.axes_read} axis read; {up_down}"
        if not getattr(turned, "text_found", True):
            evidence = f"line detector: no text to go by ({len(turned.lines)} stray mark(s) read, no line of two or more characters read with confidence): orientation left as scanned"
        return q, geo.skew_deg, geo.confidence, a, reading, wq, hq, evidence
    quarter, ratio = line_axis(gray)
    candidates = [quarter]
    if AMBIGUOUS_AXIS[0] < ratio < AMBIGUOUS_AXIS[1]:
        candidates.append(90 - quarter)
    best = None
    for q in candidates:
        g_q = cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE) if q == 90 else gray
        geo = measure_skew(g_q)
        a, wq, hq = _raw_to_upright(w0, h0, q, geo.skew_deg)
        upright = _warp(raster, a, wq, hq)
        reading = engine.read(upright, int(dpi))
        score = max(reading.score_as_is, reading.score_flipped, reading.mean_confidence * (len(reading.lines) > 0))
        if best is None or score > best[0]:
            best = (score, q, geo, a, reading, wq, hq)
    assert best is not None
    _, q, geo, a, reading, wq, hq = best
    evidence = (
        f"ink profile axis ratio {ratio:.2f}, {len(candidates)} axis read; "
        f"sample read {reading.score_as_is:.2f} as is, {reading.score_flipped:.2f} turned 180°"
    )
    return q, geo.skew_deg, geo.confidence, a, reading, wq, hq, evidence


def _paper_box(gray: np.ndarray, a: np.ndarray, wq: int, hq: int, step: int = 4) -> tuple[int, int, int, int]:
    """The paper inside the upright scan (ocr.border), found on every ``step``-th pixel: the
    scan is reduced before it is turned, not after (turning the full page cost more than the
    rest of the page's geometry together)."""
    small = np.ascontiguousarray(gray[::step, ::step])
    down, up = np.diag([1.0 / step, 1.0 / step, 1.0]), np.diag([float(step), float(step), 1.0])
    turned = _warp(small, down @ a @ up, max(1, -(-wq // step)), max(1, -(-hq // step)))
    left, top, right, bottom = lid_runs(turned)
    return left * step, top * step, wq - right * step, hq - bottom * step


def _map_lines(lines: list[tuple[OcrLine, np.ndarray]], m: np.ndarray) -> list[OcrLine]:
    """Lines found on the quarter-turned scan, boxed in the upright (deskewed, flipped) raster."""
    out = []
    for ln, quad in lines:
        pts = np.hstack([quad, np.ones((4, 1), np.float32)]) @ m[:2].T
        out.append(OcrLine(ln.text, float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()), ln.confidence))
    out.sort(key=lambda ln: (round((ln.y0 + ln.y1) / 40), ln.x0))
    return out


def ocr_raster(im, gray: np.ndarray, colour: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The raster the engine reads: grey, with red seals faded and scanner speckle removed.

    On colour pages the red channel is used: red seal ink is bright there, so a line printed
    under a seal reads as if the seal were not there (the stored image keeps the seal red).
    A 3×3 median removes isolated noise dots that engines otherwise read as '·' or '.'.
    """
    base = np.ascontiguousarray(np.asarray(im.convert("RGB"))[..., 0]) if colour == "color" else gray
    return cv2.medianBlur(base, 3)


IMAGE_POLICIES = ("auto", "archival", "compact")
WORK_MAX_DPI = 400  # above this, analysis and OCR run on a copy reduced to WORK_DPI
WORK_DPI = 300


def process_page(src: PageSource, engine: OcrEngine, work_dir: Path, seq: int, images: str = "auto") -> PageOutcome:
    """``images``: "auto" decides per page from its content (ocr.image_policy: JPEG captures
    byte for byte, colour/photo/faint pages JPEG, clean text bitonal G4); "archival" keeps the
    captured pixels (JPEG byte for byte, G4/Flate lossless); "compact" stores grey pages
    bitonal (G4) and colour as a re-encoded JPEG."""
    t0 = time.perf_counter()
    loaded = load_page(src)
    full, dpi = loaded.image, loaded.dpi
    # Analysis and OCR gain nothing above WORK_DPI: a 600-dpi or 2400-dpi page is reduced for
    # them (the stored image is the full one, placed by the same unit-square matrix).
    im = full
    if dpi > WORK_MAX_DPI:
        f = WORK_DPI / dpi
        size = (max(1, round(full.width * f)), max(1, round(full.height * f)))
        im = (full.convert("L") if full.mode in ("1", "P", "LA", "I", "I;16", "F") else full).resize(size, Image.Resampling.BOX)
        dpi = WORK_DPI
    gray = np.asarray(im.convert("L"))
    verdict = detect_blank(gray, dpi)
    if verdict.is_blank and (loaded.dpi_note or loaded.text):
        # Unsure of the resolution (or the page has text of its own): a page is blank only if
        # it is also blank measured at a resolution that keeps thin strokes.
        finer = detect_blank(gray, min(dpi, 100.0))
        verdict = finer if not finer.is_blank or loaded.text else verdict
        if loaded.text:
            verdict = type(verdict)(False, verdict.ink_ratio)
    colour = colour_class(im)
    out = PageOutcome(
        key=src.key,
        source=str(src.path),
        page_in_file=src.index + 1,
        sha256=src.sha256,
        dpi=dpi,
        blank=verdict.is_blank,
        ink_ratio=round(verdict.ink_ratio, 5),
        colour=colour,
        engine=engine.name,
        dpi_note=loaded.dpi_note,
        pdf_page=loaded.how,
        born_digital=bool(loaded.text),
    )
    if verdict.is_blank:
        out.seconds = round(time.perf_counter() - t0, 3)
        return out

    raster = ocr_raster(im, gray, colour)
    h0, w0 = gray.shape[:2]
    if loaded.text_lines is not None:  # born digital: its own text, displayed upright and level
        a, wq, hq = _raw_to_upright(w0, h0, 0, 0.0)
        own = [OcrLine(t, x0_, y0_, x1_, y1_, 1.0) for t, x0_, y0_, x1_, y1_ in loaded.text_lines]
        quarter, skew, confidence, reading = 0, 0.0, 0.0, Reading(own, False, 0.0, 0.0)
        evidence = "born-digital page: its own text kept, not OCR'd"
        out.engine = "none (born-digital text)"
    elif src.turn:
        quarter, skew, confidence, a, reading, wq, hq, evidence = _read_as_turned(engine, raster, gray, dpi, src.turn)
    else:
        quarter, skew, confidence, a, reading, wq, hq, evidence = _read_upright(engine, raster, gray, dpi)
    out.orientation_evidence = evidence
    rotation = quarter if loaded.text_lines is None else loaded.corrected  # born digital: turned by its glyphs' angle
    if reading.flipped:
        a = np.array([[-1.0, 0, wq], [0, -1.0, hq], [0, 0, 1]]) @ a
        rotation = (rotation + 180) % 360
    x0, y0, x1, y1 = _paper_box(gray, a, wq, hq) if loaded.imported is None else (0, 0, wq, hq)  # born digital: no scanner lid

    k = 72.0 / dpi
    width_pt, height_pt = (x1 - x0) * k, (y1 - y0) * k
    to_page = np.array([[k, 0, -x0 * k], [0, -k, y1 * k], [0, 0, 1]])
    unit_to_raw = np.array([[w0, 0, 0], [0, -h0, h0], [0, 0, 1]])
    t = to_page @ a @ unit_to_raw
    matrix = (t[0, 0], t[1, 0], t[0, 1], t[1, 1], t[0, 2], t[1, 2])

    lines = []
    for ln in reading.lines:
        bx0, bx1 = (max(ln.x0, x0) - x0) * k, (min(ln.x1, x1) - x0) * k
        top, bottom = (y1 - max(ln.y0, y0)) * k, (y1 - min(ln.y1, y1)) * k
        if bx1 > bx0 and top > bottom:
            lines.append(TextLine(ln.text, round(bx0, 2), round(bottom, 2), round(bx1, 2), round(top, 2), round(ln.confidence, 4)))

    store = full
    if colour != "color" and full.mode not in ("1", "L") and loaded.jpeg_bytes is None:
        store = full.convert("L")
    jpeg_path = src.path if (loaded.jpeg_bytes is not None and src.kind == "image") else None
    if images == "auto":
        encoded, decision = encode_auto(full, colour, loaded.jpeg_bytes, jpeg_path, dpi, gray, work_dir / f"{seq:04d}")
        out.image_decision = f"{decision.kind}: {decision.reason}"
    elif images == "compact":
        encoded = encode_compact(full, colour, work_dir / f"{seq:04d}")
        out.image_decision = "compact (asked for): grey bitonal G4, colour JPEG"
    else:
        encoded = encode_page_image(store, loaded.jpeg_bytes, jpeg_path, work_dir / f"{seq:04d}")
        out.image_decision = "archival (asked for): captured pixels kept (JPEG byte for byte, else lossless)"
    out.image_sha256 = sha256_file(encoded.data_path)
    out.spec = PageSpec(
        width_pt=round(width_pt, 3),
        height_pt=round(height_pt, 3),
        image=encoded,
        matrix=tuple(float(round(v, 6)) for v in matrix),  # type: ignore[arg-type]
        lines=tuple(lines),
        source=str(src.path),
        source_sha256=src.sha256,
        key=src.key,
    )
    out.image_encoding = f"{encoded.filter.lstrip('/')} {encoded.colorspace.lstrip('/')} {encoded.bits}-bit"
    if loaded.imported is not None and loaded.size_pt is not None:  # born digital: the PDF page itself goes in
        _as_vector_page(out, src, loaded.imported, loaded.size_pt)
    out.rotation_deg = rotation
    out.deskew_deg = round(skew, 3)
    out.deskew_confidence = round(confidence, 2)
    out.deskew_applied = skew != 0.0
    out.crop_px = (x0, y0, x1, y1) if (x0, y0, x1, y1) != (0, 0, wq, hq) else None
    out.ocr_confidence = round(reading.mean_confidence, 4)
    out.lines = len(lines)
    out.text = "\n".join(ln.text for ln in lines)
    out.chars = sum(len(ln.text.replace(" ", "")) for ln in lines)
    out.seconds = round(time.perf_counter() - t0, 3)
    return out


# ---- born-digital pages kept as they are -----------------------------------------------------
VECTOR_KEPT = "kept as born-digital vector page"
VECTOR_FALLBACK = "; if PDF/A refuses it: "


def _as_vector_page(out: PageOutcome, src: PageSource, imported: ImportedPage, size_pt: tuple[float, float]) -> None:
    """Ask the writer to place the PDF page itself (OCRmyPDF's --skip-text): its text is not
    OCR'd again and its vectors are not rasterised. The raster and its own text stay in the
    spec as the fallback for a page PDF/A cannot hold as it is (``settle_vector_page``)."""
    spec = out.spec
    assert spec is not None
    width, height = size_pt
    sx, sy = width / spec.width_pt, height / spec.height_pt  # the raster's size rounded to pixels
    lines = tuple(replace(ln, x0=round(ln.x0 * sx, 2), x1=round(ln.x1 * sx, 2), y0=round(ln.y0 * sy, 2), y1=round(ln.y1 * sy, 2)) for ln in spec.lines)
    out.spec = replace(spec, width_pt=width, height_pt=height, matrix=(width, 0.0, 0.0, height, 0.0, 0.0), clip=None, lines=lines,
                       imported=replace(imported, sha256=src.sha256))
    out.kept_vector = True
    out.image_decision = (f"{VECTOR_KEPT}: page {src.index + 1} of {src.path.name} placed as it is (a Form XObject) — its own text, "
                          f"not OCR'd; its vectors, not rasterised; printing annotations flattened, the rest left out{VECTOR_FALLBACK}{out.image_decision}")
    out.image_encoding = f"PDF page (Form XObject){VECTOR_FALLBACK}{out.image_encoding}"


def settle_vector_page(out: PageOutcome, refusal: str | None) -> None:
    """The writer's verdict on a born-digital page (``assemble.imported_page``): kept as it is,
    or — when PDF/A would not hold it (a font not embedded …) — its raster and its own text,
    with the reason in the report row."""
    if not out.kept_vector or out.spec is None:
        return
    kept, _, raster = out.image_decision.partition(VECTOR_FALLBACK)
    encoding = out.image_encoding.partition(VECTOR_FALLBACK)
    if refusal is None:
        out.image_decision, out.image_encoding = kept, encoding[0]
        out.image_sha256 = ""  # no image of this page is embedded (the fallback raster stays in the work folder)
        return
    out.kept_vector = False
    out.spec = replace(out.spec, imported=None)
    out.image_decision = f"raster with its own text — born-digital page not kept as vector: {refusal}; {raster}"
    out.image_encoding = encoding[2] or encoding[0]
