"""Patch code T: the Kodak transfer patch clerks already use as a document separator.

A patch is four parallel black bars, parallel to the sheet's leading edge: narrow bars and the
spaces are 2.03 mm (0.08 in), wide bars 5.08 mm (0.20 in), the whole 20.3 mm (0.80 in), bars at
least 50 mm long. From the leading edge, patch T reads narrow-wide-narrow-wide (Kodak A-61670,
zones A–G). Read from the other edge the same bars give wide-narrow-wide-narrow, which is
patch 3 (batch separator); both mean "a new document starts here". It carries no data, so
patch-separated documents map to catalogue rows in order.

No barcode library reads patch codes, so this finds them directly: long thin solid rectangles
in a binarised page at ~100 dpi, four in a row with the right thickness pattern and gaps.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

NARROW_MM, WIDE_MM, MIN_LENGTH_MM = 2.03, 5.08, 45.0
WORK_DPI = 100.0
TOLERANCE = 0.35  # relative, on bar thickness and gaps (print and scan blur)


def _bars(binary: np.ndarray, px_per_mm: float) -> list[tuple[float, float, float, float, float]]:
    """Solid bars long enough to be patch bars: (centre x, centre y, length, thickness, angle).

    Measured with a minimum-area rectangle, so a sheet fed a few degrees askew still reads.
    """
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    bars = []
    for c in contours:
        (cx, cy), (a, b), angle = cv2.minAreaRect(c)
        length, thick = max(a, b), min(a, b)
        if length < MIN_LENGTH_MM * px_per_mm or thick > WIDE_MM * px_per_mm * (1 + TOLERANCE) or thick < 1:
            continue
        if cv2.contourArea(c) < 0.8 * a * b:
            continue
        if a < b:
            angle += 90.0
        bars.append((cx, cy, length, thick, angle % 180.0))
    return bars


def _kind(thickness: float, px_per_mm: float) -> str | None:
    for name, mm in (("N", NARROW_MM), ("W", WIDE_MM)):
        if abs(thickness / px_per_mm - mm) <= mm * TOLERANCE:
            return name
    return None


def _has_patch(binary: np.ndarray, px_per_mm: float) -> bool:
    bars = _bars(binary, px_per_mm)
    if len(bars) < 4:
        return False
    for ref in bars:
        t = np.deg2rad(ref[4])
        along, normal = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
        near = [b for b in bars if min(abs(b[4] - ref[4]), 180 - abs(b[4] - ref[4])) < 3.0
                and abs(np.dot([b[0] - ref[0], b[1] - ref[1]], along)) < 0.3 * ref[2]]
        near.sort(key=lambda b: float(np.dot([b[0], b[1]], normal)))
        for i in range(len(near) - 3):
            group = near[i : i + 4]
            pos = [float(np.dot([b[0], b[1]], normal)) for b in group]
            gaps = [(pos[j + 1] - pos[j]) - (group[j][3] + group[j + 1][3]) / 2 for j in range(3)]
            if not all(abs(g / px_per_mm - NARROW_MM) <= NARROW_MM * (TOLERANCE + 0.25) for g in gaps):
                continue
            if "".join(_kind(b[3], px_per_mm) or "?" for b in group) in ("NWNW", "WNWN"):
                return True
    return False


def is_patch_t(image: Image.Image, dpi: float = 300.0) -> bool:
    """True if the page carries a patch T (or its reverse reading, patch 3), either orientation."""
    scale = WORK_DPI / dpi
    gray = np.asarray(image.convert("L"))
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    px_per_mm = WORK_DPI / 25.4 if scale < 1 else dpi / 25.4
    return _has_patch(binary, px_per_mm)


def patch_t_sheet(dpi: int = 150) -> Image.Image:
    """An A4 patch T separator sheet: the patch near the leading (top) edge, and at the foot."""
    w, h = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    page = Image.new("L", (w, h), 255)
    arr = np.asarray(page).copy()
    mm = dpi / 25.4
    for top_mm in (20.0, 250.0):
        y = top_mm
        for kind, space in (("N", True), ("W", True), ("N", True), ("W", False)):
            thick = NARROW_MM if kind == "N" else WIDE_MM
            arr[round(y * mm) : round((y + thick) * mm), round(30 * mm) : round(180 * mm)] = 0
            y += thick + (NARROW_MM if space else 0)
    return Image.fromarray(arr)
