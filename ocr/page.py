"""One page, start to finish: load, blank check, orientation, deskew, border, OCR, encode.

Everything geometric is kept as one affine map from the raw scan to the upright page; the
PDF writer applies that map to the untouched image, and the OCR boxes — found on an upright
working raster — are mapped to page points with the same numbers, so text and image line up.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dossier_station.core.model import PageSpec, TextLine
from dossier_station.ocr.blank import detect_blank
from dossier_station.ocr.border import lid_border
from dossier_station.ocr.encode import colour_class, encode_compact, encode_page_image
from dossier_station.ocr.engine import OcrEngine, Reading
from dossier_station.ocr.geometry import line_axis, measure_skew
from dossier_station.ocr.loader import PageSource, load_page

# Between these axis ratios the ink profile cannot tell lines from columns; OCR decides.
AMBIGUOUS_AXIS = (0.8, 1.25)


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


def _read_upright(engine: OcrEngine, raster: np.ndarray, gray: np.ndarray, dpi: float) -> tuple[int, float, float, np.ndarray, Reading, int, int]:
    """Decide the quarter turn and skew, warp, and read; returns the chosen candidate."""
    h0, w0 = gray.shape[:2]
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
    return q, geo.skew_deg, geo.confidence, a, reading, wq, hq


def ocr_raster(im, gray: np.ndarray, colour: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The raster the engine reads: grey, with red seals faded and scanner speckle removed.

    On colour pages the red channel is used: red seal ink is bright there, so a line printed
    under a seal reads as if the seal were not there (the stored image keeps the seal red).
    A 3×3 median removes isolated noise dots that engines otherwise read as '·' or '.'.
    """
    base = np.ascontiguousarray(np.asarray(im.convert("RGB"))[..., 0]) if colour == "color" else gray
    return cv2.medianBlur(base, 3)


IMAGE_POLICIES = ("archival", "compact")


def process_page(src: PageSource, engine: OcrEngine, work_dir: Path, seq: int, images: str = "archival") -> PageOutcome:
    """``images``: "archival" keeps the captured pixels (JPEG byte for byte, G4/Flate
    lossless); "compact" stores grey pages bitonal (G4) and colour as a re-encoded JPEG."""
    t0 = time.perf_counter()
    loaded = load_page(src)
    im, dpi = loaded.image, loaded.dpi
    gray = np.asarray(im.convert("L"))
    verdict = detect_blank(gray, dpi)
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
    )
    if verdict.is_blank:
        out.seconds = round(time.perf_counter() - t0, 3)
        return out

    raster = ocr_raster(im, gray, colour)
    h0, w0 = gray.shape[:2]
    quarter, skew, confidence, a, reading, wq, hq = _read_upright(engine, raster, gray, dpi)
    rotation = quarter
    if reading.flipped:
        a = np.array([[-1.0, 0, wq], [0, -1.0, hq], [0, 0, 1]]) @ a
        rotation = (rotation + 180) % 360
    upright_gray = _warp(gray, a, wq, hq)
    x0, y0, x1, y1 = lid_border(upright_gray)

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

    store = im
    if colour != "color" and im.mode not in ("1", "L") and loaded.jpeg_bytes is None:
        store = im.convert("L")
    if images == "compact":
        encoded = encode_compact(im, colour, work_dir / f"{seq:04d}")
    else:
        jpeg_path = src.path if (loaded.jpeg_bytes is not None and src.kind == "image") else None
        encoded = encode_page_image(store, loaded.jpeg_bytes, jpeg_path, work_dir / f"{seq:04d}")
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
