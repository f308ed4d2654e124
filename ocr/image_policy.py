"""How each page image is stored in the dossier, decided from the page's content (DA/T 31 §9.3).

A lossless PNG of every scanned page makes a 200-page volume close to 1 GB. DA/T 31-2017 §9.3
says what a page needs: colour where there is colour (red headers, seals, photos), bitonal for
clean black-on-white text, grey for faint text or figures. The ``auto`` policy looks at the
page and picks one, with its reason for the report:

- the capture is already a JPEG → embedded byte for byte (no second loss; its hash is the raw
  page's hash);
- the capture is bilevel → CCITT G4, lossless;
- colour content (a red seal or header: saturated pixels) → colour JPEG, seals stay red;
- a photo or halftone region (a large area of mid tones) → grey JPEG;
- faint strokes (pencil, light handwriting) that binarisation would drop → grey JPEG;
- soft grey strokes (most ink mid grey, as from most grey scanners) → grey JPEG: binarising
  them lost characters in measurement;
- otherwise clean black-on-white text → bitonal CCITT G4 (binarised against the paper tone).

The raw capture stays untouched in the batch folder; the report ties each embedded image to
its raw page's hash and gives the embedded stream's own hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dossier_station.core.model import EncodedImage
from dossier_station.ocr.encode import _g4, binarize, encode_page_image, paper_normalised

POLICIES = ("auto", "archival", "compact")
JPEG_QUALITY = 75  # colour/grey pages; measured (bench/) sharp text edges, ~4–8× smaller than PNG
PHOTO_AREA = 0.02  # share of the page in one mid-tone region that makes it a photo/halftone page
FAINT_DELTA = 15  # grey levels below the paper that a stroke must at least be
FAINT_SHARE = 0.08
FAINT_AREA = 0.0005  # …or faint strokes over this share of the page (≈ five handwritten characters)
# Ink more than this share mid grey is a soft scan: binarised, its strokes break up and OCR of
# the stored image got worse (measured: CER 0.009 → 0.037 on dev_012); black-and-white-clean
# pages (laser print scanned sharp) measure ≈ 0.2.
SOFT_INK_SHARE = 0.4  # faint-stroke pixels per ink pixel beyond which binarisation would lose text


@dataclass(frozen=True)
class ImageDecision:
    kind: str  # "jpeg-passthrough" | "g4-lossless" | "colour-jpeg" | "grey-jpeg" | "bitonal-g4"
    reason: str


def _small(gray: np.ndarray, dpi: float, target: float = 100.0) -> np.ndarray:
    scale = min(1.0, target / max(dpi, 1.0))
    if scale >= 1.0:
        return gray
    h, w = gray.shape
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def photo_share(norm: np.ndarray, dpi: float) -> float:
    """Largest connected region of mid tones (photo, halftone), as a share of the page.

    Measured on the page scaled by its paper tone (grey or yellowed paper is not a photo).
    Text is dark strokes on paper: its mid tones are thin anti-aliased edges that a closing at
    100 dpi does not join into large areas; a photo is mid tones throughout.
    """
    small = _small(norm, dpi)
    mid = ((small > 40) & (small < 200)).astype(np.uint8)
    mid = cv2.morphologyEx(mid, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mid = cv2.morphologyEx(mid, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mid, connectivity=8)
    if n <= 1:
        return 0.0
    return float(stats[1:, cv2.CC_STAT_AREA].max()) / mid.size


def faint_share(norm: np.ndarray, binary: np.ndarray, dpi: float) -> float:
    """Faint strokes (clearly darker than the paper) that the binarised page lost, per ink pixel.

    "Clearly darker" is measured against the paper's own texture (three robust standard
    deviations, at least ``FAINT_DELTA`` levels), so mottled recycled paper is not writing;
    and only stroke-shaped marks count (thin: they fill little of their bounding box), not
    specks of noise or the edge of the sheet along the border.
    """
    ink = binary == 0
    near_ink = cv2.dilate(ink.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    paper = norm[~near_ink & (norm > 128)]
    if paper.size == 0:
        return 0.0
    sample = paper[:: max(1, paper.size // 200_000)].astype(np.float32)
    sigma = 1.4826 * float(np.median(np.abs(sample - np.median(sample))))
    delta = max(FAINT_DELTA, 3.0 * sigma)
    faint = ((norm < 255 - delta) & ~near_ink).astype(np.uint8)
    faint = cv2.morphologyEx(faint, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    h, w = faint.shape
    my, mx = int(h * 0.03), int(w * 0.03)
    faint[:my], faint[h - my :], faint[:, :mx], faint[:, w - mx :] = 0, 0, 0, 0
    n, _, stats, _ = cv2.connectedComponentsWithStats(faint, connectivity=8)
    if n <= 1:
        return 0.0
    st = stats[1:]
    area = st[:, cv2.CC_STAT_AREA].astype(np.float64)
    box = (st[:, cv2.CC_STAT_WIDTH] * st[:, cv2.CC_STAT_HEIGHT]).astype(np.float64)
    strokes = (area >= 40 * (dpi / 300.0) ** 2) & (area / np.maximum(box, 1) < 0.5)
    faint_px = float(area[strokes].sum())
    # a short note on a dense page is little of the ink but still writing: count it by area too
    return max(faint_px / max(1.0, float(ink.sum())), faint_px / FAINT_AREA / faint.size * FAINT_SHARE)


def mid_tone_share(norm: np.ndarray) -> float:
    """Share of the ink that is mid grey rather than black: high on soft, noisy grey scans."""
    ink = int((norm < 192).sum())
    return float(((norm > 64) & (norm < 192)).sum()) / max(1, ink)


def decide(im: Image.Image, colour: str, jpeg_capture: bool, dpi: float, gray: np.ndarray) -> tuple[ImageDecision, np.ndarray | None]:
    """The storage decision for one page (and the bitonal raster when that is the decision)."""
    if jpeg_capture:
        return ImageDecision("jpeg-passthrough", "captured as JPEG: embedded byte for byte (no second loss)"), None
    if colour == "bilevel" or im.mode == "1":
        return ImageDecision("g4-lossless", "bilevel capture: CCITT G4, lossless"), None
    if colour == "color":
        return ImageDecision("colour-jpeg", "colour content (red seal, header or picture): colour JPEG, kept red"), None
    paper = max(1.0, float(np.percentile(gray, 90)))
    photo = photo_share(np.clip(gray.astype(np.float32) * (255.0 / paper), 0, 255).astype(np.uint8), dpi)
    if photo >= PHOTO_AREA:
        return ImageDecision("grey-jpeg", f"photo or halftone region ({photo:.0%} of the page): grey JPEG"), None
    norm = paper_normalised(gray)
    binary = binarize(gray)
    faint = faint_share(norm, binary, dpi)
    if faint >= FAINT_SHARE:
        return ImageDecision("grey-jpeg", f"faint strokes binarisation would lose ({faint:.0%} of the ink): grey JPEG"), None
    soft = mid_tone_share(norm)
    if soft >= SOFT_INK_SHARE:
        return ImageDecision("grey-jpeg", f"soft grey strokes ({soft:.0%} of the ink in mid tones): binarising would roughen the text: grey JPEG"), None
    return ImageDecision("bitonal-g4", "clean black-on-white text: bitonal CCITT G4"), binary


def _jpeg(im: Image.Image, mode: str, out: Path) -> EncodedImage:
    img = im.convert(mode)
    img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, subsampling=0 if mode == "RGB" else -1)
    return EncodedImage(out, "/DCTDecode", img.width, img.height, "/DeviceRGB" if mode == "RGB" else "/DeviceGray", 8)


def encode_auto(im: Image.Image, colour: str, jpeg_bytes: bytes | None, jpeg_path: Path | None, dpi: float, gray: np.ndarray, work_stem: Path) -> tuple[EncodedImage, ImageDecision]:
    decision, binary = decide(im, colour, jpeg_bytes is not None, dpi, gray)
    if decision.kind in ("jpeg-passthrough", "g4-lossless"):
        store = im if (im.mode in ("1", "L") or colour == "color" or jpeg_bytes is not None) else im.convert("L")
        return encode_page_image(store, jpeg_bytes, jpeg_path, work_stem), decision
    if decision.kind == "colour-jpeg":
        return _jpeg(im, "RGB", work_stem.with_suffix(".jpg")), decision
    if decision.kind == "grey-jpeg":
        return _jpeg(im, "L", work_stem.with_suffix(".jpg")), decision
    assert binary is not None
    return _g4(Image.fromarray(binary).convert("1"), work_stem.with_suffix(".g4")), decision
