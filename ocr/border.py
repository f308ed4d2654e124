"""Scanner-lid border: uniform strips along the edges that are not paper.

When the sheet is smaller than the scan area, the lid shows as an even, brighter (white lid)
or darker (black lid) band. We remove only whole edge rows/columns that are uniform and
unlike the paper, and never more than a bounded share per side, so page content — and the
original's own marks (DA/T 31 原貌: stains, holes) — is never cut.
"""

from __future__ import annotations

import numpy as np

MAX_CROP_SHARE = 0.15
UNIFORM_STD = 6.0
LID_CONTRAST = 10.0


def _edge_run(lines: np.ndarray, paper: float) -> int:
    """How many leading lines (rows of ``lines``) look like lid rather than paper."""
    means = lines.mean(axis=1)
    stds = lines.std(axis=1)
    lid = (np.abs(means - paper) > LID_CONTRAST) & (stds < UNIFORM_STD)
    limit = int(len(lines) * MAX_CROP_SHARE)
    n = 0
    while n < limit and lid[n]:
        n += 1
    return n


def lid_runs(small: np.ndarray) -> tuple[int, int, int, int]:
    """Lid lines at each edge (left, top, right, bottom) of an already reduced scan."""
    small = small.astype(np.float32)
    sh, sw = small.shape
    paper = float(np.median(small[sh // 4 : 3 * sh // 4, sw // 4 : 3 * sw // 4]))
    return _edge_run(small.T, paper), _edge_run(small, paper), _edge_run(small.T[::-1], paper), _edge_run(small[::-1], paper)


def lid_border(gray: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the paper inside the scan, in pixels of ``gray``."""
    h, w = gray.shape[:2]
    left, top, right, bottom = lid_runs(gray[::4, ::4])
    return left * 4, top * 4, w - right * 4, h - bottom * 4
