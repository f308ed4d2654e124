"""Page geometry: which way the text lines run, and how far they are skewed.

Both come from one measurement, the projection profile of the ink: when the page is turned so
that its text lines are horizontal and level, the row sums of ink alternate sharply between
lines and the gaps between them. We score candidate angles on the coordinates of ink pixels
(a histogram per angle, no image rotation), so a fine search at full resolution stays cheap.

Quarter turns that keep the lines horizontal (0° vs 180°, 90° vs 270°) look the same to a
profile; :mod:`ocr.orientation` settles those with the OCR engine's own confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Skew beyond this is not a skewed page but a misfeed; we do not search further.
MAX_SKEW_DEG = 10.0
# Below this much sharper-than-typical, the profile says nothing (photos, blank, tables only).
MIN_CONFIDENCE = 2.0


@dataclass(frozen=True)
class Geometry:
    """What the profile measured.

    ``quarter`` is the quarter turn (clockwise) applied before measuring. ``skew_deg`` is the
    counter-clockwise angle of the lines as displayed (undo by rotating by −skew_deg).
    ``confidence`` is the peak profile sharpness over the median across angles.
    """

    quarter: int
    skew_deg: float
    confidence: float
    applied: bool  # False when confidence was too low to act on the angle


def ink_points(gray: np.ndarray, max_points: int = 400_000) -> np.ndarray:
    """Coordinates (x, y) of ink pixels, after removing scanner speckle.

    A median blur removes isolated noise dots that would flatten the profile; Otsu picks the
    ink threshold per page. The points are subsampled deterministically when there are many.
    """
    small = cv2.medianBlur(gray, 3)
    _, ink = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    # Open away isolated specks that survive the blur.
    ink = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    found = cv2.findNonZero(ink)  # (x, y) in row order, as np.nonzero gives them, several times faster
    if found is None:
        return np.zeros((0, 2), np.float32)
    pts = found.reshape(-1, 2)
    if len(pts) > max_points:
        pts = pts[:: len(pts) // max_points + 1]
    return pts.astype(np.float32)


def _profile_score(pts: np.ndarray, angle_deg: float, axis: int) -> float:
    """Sharpness of the ink profile across lines when the page is turned by ``angle_deg``.

    axis 0 projects onto y (horizontal lines), axis 1 onto x (vertical lines). The score is
    the sum of squared differences of neighbouring bins: high when lines and gaps alternate.
    """
    t = np.deg2rad(angle_deg)
    c, s = np.cos(t), np.sin(t)
    # Rotating the page counter-clockwise by −angle levels lines skewed by +angle (y down).
    if axis == 0:
        proj = pts[:, 0] * s + pts[:, 1] * c
    else:
        proj = pts[:, 0] * c - pts[:, 1] * s
    proj = proj - proj.min()
    hist = np.bincount(proj.astype(np.int64))
    d = np.diff(hist.astype(np.float64))
    return float(np.dot(d, d))


def _search(pts: np.ndarray, axis: int, lo: float, hi: float, step: float) -> tuple[float, np.ndarray, np.ndarray]:
    angles = np.arange(lo, hi + step / 2, step)
    scores = np.array([_profile_score(pts, a, axis) for a in angles])
    i = int(np.argmax(scores))
    best = float(angles[i])
    if 0 < i < len(scores) - 1:  # parabolic refinement between grid points
        y0, y1, y2 = scores[i - 1], scores[i], scores[i + 1]
        denom = y0 - 2 * y1 + y2
        if denom < 0:
            best += 0.5 * step * (y0 - y2) / denom
    return best, angles, scores


def _coarse(gray: np.ndarray, max_side: int, max_points: int) -> np.ndarray:
    h, w = gray.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return ink_points(small, max_points)


def line_axis(gray: np.ndarray) -> tuple[int, float]:
    """0 if the text lines run left-right, 90 if top-bottom; and the axis ratio behind it.

    Each axis is scored by its best profile sharpness relative to its median over the skew
    range: the relative figure, unlike the raw peak, does not favour the page's long side.
    A ratio near 1 means the profile cannot tell; the caller may then ask the OCR engine.
    """
    pts = _coarse(gray, 1000, 60_000)
    if len(pts) < 200:
        return 0, 1.0
    rel = []
    for axis in (0, 1):
        _, _, scores = _search(pts, axis, -MAX_SKEW_DEG, MAX_SKEW_DEG, 0.25)
        median = float(np.median(scores))
        rel.append(float(scores.max()) / median if median > 0 else 0.0)
    ratio = rel[0] / rel[1] if rel[1] > 0 else float("inf")
    return (0 if ratio >= 1.0 else 90), ratio


def measure_skew(gray: np.ndarray) -> Geometry:
    """Skew of a page whose lines run left-right: coarse at 1000 px, then fine at full size.

    The fine passes work on the full-resolution ink so that a 0.01° step moves a line end by a
    fraction of a pixel; parabolic interpolation between grid points does the rest.
    """
    coarse = _coarse(gray, 1000, 60_000)
    if len(coarse) < 200:
        return Geometry(0, 0.0, 0.0, False)
    coarse_angle, _, scores = _search(coarse, 0, -MAX_SKEW_DEG, MAX_SKEW_DEG, 0.25)
    median = float(np.median(scores))
    confidence = float(scores.max()) / median if median > 0 else 0.0
    if confidence < MIN_CONFIDENCE:
        return Geometry(0, 0.0, confidence, False)
    fine_pts = ink_points(gray)
    angle, _, _ = _search(fine_pts, 0, coarse_angle - 0.3, coarse_angle + 0.3, 0.05)
    angle, _, _ = _search(fine_pts, 0, angle - 0.05, angle + 0.05, 0.01)
    return Geometry(0, float(angle), confidence, True)


def rotate_about_centre(img: np.ndarray, angle_deg: float, fill: int | tuple[int, ...]) -> np.ndarray:
    """Rotate counter-clockwise by ``angle_deg`` (as displayed) about the centre, same size."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
