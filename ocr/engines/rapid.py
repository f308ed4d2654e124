"""PP-OCR (PP-OCRv6 small det + rec, ONNX) through the ``rapidocr`` 3.x wheel: the default engine.

The wheel ships its models and depends on opencv-python-headless only, so the station has one
OpenCV and works offline: we hand it the model files by path, so its downloader never runs.

We drive the parts ourselves rather than its all-in-one pipeline, because one detector pass
on a reduced raster of the page *as scanned* answers three questions at once:

- where the lines are (recognition crops are then cut from the full-resolution raster);
- which way they run: the long sides of the detector's boxes point along the lines. Unlike
  an ink profile, which on justified Chinese (a grid of square characters) is sharp in both
  directions, the detector has learnt what a line of characters looks like;
- (with a few short crops read both ways) which way up the page is.

When the boxes do not say overwhelmingly which way the lines run, both axes are read and the
better-read one wins (see ``OVERWHELMING``).

The detector also boxes things that are not lines: on a photo it boxes whole regions (tens of
millimetres each way) whose "reading" is one stray character, sometimes read with confidence.
Such boxes are set aside before any decision (``MAX_LINE_MM``), a box votes for an axis only
as far as it is longer than it is tall, and a page with no text to go by is left as scanned
(``MIN_EVIDENCE_CHARS``) rather than turned on the strength of a stray character.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dossier_station.core.errors import MissingDependencyError
from dossier_station.ocr.engines.base import OcrLine, Reading, hookimpl
from dossier_station.ocr.text import join_cjk, normalise_cjk_punctuation

# Longest side of the raster given to the detector. Measured on the samples (bench/README.md):
# lines stay ≥ 12 px tall on an A4 page here, and detection costs about a third of 1600's.
DET_MAX_SIDE = 1024
MIN_SCORE = 0.3
SAMPLE_LINES = 5
# Recognition is about 70 % of the page's time and grows with the crops' width; the model still
# resolves CJK characters at 0.6 of their natural width. Measured on the 10 text pages, same run
# (CPU s/page, CER mean): 1.0 → 2.28, 0.0082; 0.75 → 1.94, 0.0101; 0.6 → 1.72, 0.0119;
# 0.5 → 1.58, 0.0134. 0.6 keeps CER well under the 0.02 goal for a quarter less time.
REC_SQUEEZE = 0.6
REC_HEIGHT = 48  # the PP-OCR recogniser's input height
REC_MIN_WIDTH = 32
# Share of box length running one way above which the axis is taken without reading both.
OVERWHELMING = 0.8
# A box whose short side exceeds this is not a line of text (a 72-pt title is 25 mm tall): on
# photos the detector boxes whole regions 50–210 mm across (tests/test_orientation_varied.py).
MAX_LINE_MM = 30.0
# Orientation needs text: at least this many characters (letters, digits, CJK) in lines of two
# or more read with EVIDENCE_CONFIDENCE; otherwise the page is left as scanned. A sparse form's
# title alone (换押证) is enough; a stray character read off a photo is not.
MIN_EVIDENCE_CHARS = 3
EVIDENCE_CONFIDENCE = 0.8
_WORD = re.compile(r"\w")
# Upright pages (most of them) are settled by reading them: when the longer half of the lines
# (at least MIN_LINES_TO_TRUST) read with this mean confidence, the page is not upside down.
# Measured: upright pages ≥ 0.94, pages read upside down 0.18–0.60 (docs/ocr.md).
UPRIGHT_CONFIDENT = 0.85
MIN_LINES_TO_TRUST = 3
# The widest lines read first to settle "upright" (the rest only once it is settled).
PROBE_LINES = 5
MODELS = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx")


@dataclass(frozen=True)
class TurnedReading:
    """A page read in whatever orientation it was scanned.

    ``quarter`` (0 or 90) is the clockwise quarter turn after which the lines run left-right;
    ``flipped`` says the page then reads upside down. ``lines`` pair each recognised line with
    its corners (4×2) in the quarter-turned raster, before any flip (the line's box is the
    corners' bounding box in the same raster). ``axis_share`` is the share of
    box length that ran along the chosen axis (1.0 = unanimous).
    """

    quarter: int
    flipped: bool
    lines: list[tuple[OcrLine, np.ndarray]]
    score_as_is: float
    score_flipped: float
    axis_share: float
    axes_read: int
    text_found: bool = True  # False: nothing read to decide by; left as scanned (quarter 0, not flipped)


def order_quad(pts: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left (skew well under 45°)."""
    pts = np.asarray(pts, np.float32)
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1])]
    right = by_x[2:][np.argsort(by_x[2:, 1])]
    return np.array([left[0], right[0], right[1], left[1]], np.float32)


def crop_quad(raster: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line under ``quad``, straightened; a box taller than wide is turned to lie flat."""
    q = order_quad(quad)
    w = max(1, int(round(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2])))))
    h = max(1, int(round(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2])))))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    crop = cv2.warpPerspective(raster, cv2.getPerspectiveTransform(q, dst), (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    if h >= 1.5 * w:
        crop = np.ascontiguousarray(np.rot90(crop))
    return crop


def quarter_turn_points(pts: np.ndarray, height: int) -> np.ndarray:
    """Points of a raster of ``height`` rows after cv2.ROTATE_90_CLOCKWISE: (u, v) → (h−1−v, u)."""
    out = np.empty_like(pts)
    out[..., 0] = height - 1 - pts[..., 1]
    out[..., 1] = pts[..., 0]
    return out


def axis_votes(quads: np.ndarray) -> tuple[float, float]:
    """Box length running left-right and top-bottom: each box votes with its long side, as far
    as that side is longer than the short one (a square box, one character or a patch of a
    photo, says nothing about which way lines run)."""
    horizontal = vertical = 0.0
    for q in quads:
        d1, d2 = q[1] - q[0], q[2] - q[1]
        n1, n2 = float(np.hypot(*d1)), float(np.hypot(*d2))
        long_side, long_len, short_len = (d1, n1, n2) if n1 >= n2 else (d2, n2, n1)
        if long_len == 0:
            continue
        dx, dy = abs(float(long_side[0])), abs(float(long_side[1]))
        weight = (long_len - short_len) / long_len
        if dx >= dy:
            horizontal += (dx - dy) * weight
        else:
            vertical += (dy - dx) * weight
    return horizontal, vertical


def plausible_lines(quads: np.ndarray, dpi: int) -> np.ndarray:
    """The boxes that can be lines of text: short side at most MAX_LINE_MM."""
    if not len(quads):
        return quads
    d1 = np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1)
    d2 = np.linalg.norm(quads[:, 2] - quads[:, 1], axis=1)
    return quads[np.minimum(d1, d2) <= MAX_LINE_MM * max(dpi, 1) / 25.4]


def evidence_chars(lines: list[tuple[OcrLine, np.ndarray]]) -> int:
    """Characters read with confidence in lines of two or more: what orientation can rest on."""
    counts = (len(_WORD.findall(ln.text)) for ln, _ in lines if ln.confidence >= EVIDENCE_CONFIDENCE)
    return sum(n for n in counts if n >= 2)


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, threads: int = 1) -> None:
        try:
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise MissingDependencyError("the PP-OCR engine needs the rapidocr package", hint="pip install 'rapidocr==3.10.0'") from exc
        models = Path(rapidocr.__file__).parent / "models"
        det, rec = (models / m for m in MODELS)
        for path in (det, rec):
            if not path.is_file():
                raise MissingDependencyError(f"PP-OCR model missing: {path}", hint="reinstall: pip install --force-reinstall 'rapidocr==3.10.0'")
        params = {
            "Global.use_cls": False,
            "Global.log_level": "error",
            "Det.model_path": str(det),
            "Det.limit_type": "max",
            "Det.limit_side_len": DET_MAX_SIDE,
            "Rec.model_path": str(rec),
            "EngineConfig.onnxruntime.intra_op_num_threads": max(1, threads),
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "EngineConfig.onnxruntime.enable_cpu_mem_arena": False,
        }
        ocr = RapidOCR(params=params)
        # The 3.x pipeline loads its models lazily; we load the two we use, by path, now.
        self._det = ocr._load_det_model()
        self._rec = ocr._load_rec_model()

    # -- the two models -------------------------------------------------------------------
    def _detect_small(self, raster: np.ndarray) -> np.ndarray:
        """Line quads in ``raster``'s pixels, found on a copy at most DET_MAX_SIDE long."""
        h, w = raster.shape[:2]
        scale = min(1.0, DET_MAX_SIDE / max(h, w))
        small = cv2.resize(raster, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else raster
        if small.ndim == 2:
            small = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
        if min(small.shape[:2]) < 8:
            return np.zeros((0, 4, 2), np.float32)
        out = self._det(small)
        if out.boxes is None or len(out.boxes) == 0:
            return np.zeros((0, 4, 2), np.float32)
        return (np.asarray(out.boxes, np.float32) / scale).astype(np.float32)

    def _recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """Each line read on its own, at the recogniser's height and its own width.

        Not through the wheel's batch call: that pads every line to at least 320 px (a page
        number or a short last line of a paragraph cost as much as a long one) and resizes
        twice; here each crop is resized once (squeezed, see REC_SQUEEZE) and read unpadded.
        One at a time, because a batch is padded to its widest line, and on our pages that
        padding cost more than batching saved (measured with PP-OCRv6: 24 s vs 35 s; batches of
        lines sorted by width: 7.0 s against 5.9 s for 132 lines).
        """
        results = []
        for crop in crops:
            h, w = crop.shape[:2]
            squeeze = REC_SQUEEZE if w > 2 * h else 1.0
            width = max(REC_MIN_WIDTH, math.ceil(REC_HEIGHT * w / max(1, h) * squeeze))
            small = cv2.resize(crop, (width, REC_HEIGHT), interpolation=cv2.INTER_AREA if h > REC_HEIGHT else cv2.INTER_LINEAR)
            x = small.astype(np.float32) / 127.5 - 1.0  # the model's (v / 255 − 0.5) / 0.5
            batch = np.repeat(x[None, None], 3, axis=1) if x.ndim == 2 else x.transpose(2, 0, 1)[None]
            lines, _ = self._rec.postprocess_op(self._rec.session(batch), False, wh_ratio_list=[width / REC_HEIGHT], max_wh_ratio=width / REC_HEIGHT)
            text, score = lines[0]
            results.append((str(text), float(score)))
        return results

    @staticmethod
    def _orientation_sample(crops: list[np.ndarray]) -> list[np.ndarray]:
        """A few of the widest lines, cut to about eight characters each.

        Eight characters decide upright vs upside down as well as a whole line does, at a
        fraction of the recognition cost (which grows with the crop's width).
        """
        widest = sorted(range(len(crops)), key=lambda i: -crops[i].shape[1])[:SAMPLE_LINES]
        return [np.ascontiguousarray(crops[i][:, : max(1, 8 * crops[i].shape[0])]) for i in widest]

    def _up_or_down(self, crops: list[np.ndarray]) -> tuple[float, float]:
        sample = self._orientation_sample(crops)
        if not sample:
            return 0.0, 0.0
        as_is = float(np.mean([s for _, s in self._recognize(sample)]))
        turned = float(np.mean([s for _, s in self._recognize([np.ascontiguousarray(c[::-1, ::-1]) for c in sample])]))
        return as_is, turned

    def _lines(self, crops: list[np.ndarray], quads: np.ndarray, read: list[tuple[str, float]] | None = None) -> list[tuple[OcrLine, np.ndarray]]:
        """Recognised lines that pass MIN_SCORE, each with the quad it was cut from."""
        lines = []
        for quad, (text, score) in zip(quads, read if read is not None else self._recognize(crops), strict=True):
            text = normalise_cjk_punctuation(join_cjk(text))
            if not text or score < MIN_SCORE:
                continue
            xs, ys = quad[:, 0], quad[:, 1]
            lines.append((OcrLine(text, float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()), score), quad))
        return lines

    def _probe(self, crops: list[np.ndarray], quads: np.ndarray, quarter: int, share: float) -> TurnedReading | None:
        """Settle up or down by reading the widest lines, and read the page if that settles it.

        Most pages come upright: the widest lines read as they lie first; if they read
        confidently, that is the answer and the rest is read. Else the same lines are read
        turned 180°; if those read confidently, the page is upside down and the rest is read
        turned. Either way no reading is thrown away but the one that failed, and a page that
        neither settles (no clear text, or the wrong axis) returns None for the full decision.
        """
        order = sorted(range(len(crops)), key=lambda i: -crops[i].shape[1])
        probe = order[: max(MIN_LINES_TO_TRUST, PROBE_LINES)]
        as_is_read = self._recognize([crops[i] for i in probe])
        as_is = float(np.mean([score for _, score in as_is_read]))
        if as_is >= UPRIGHT_CONFIDENT:
            return TurnedReading(quarter, False, self._read_rest(crops, quads, probe, as_is_read), as_is, 0.0, round(share, 3), 1)
        turned_crops = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
        turned_read = self._recognize([turned_crops[i] for i in probe])
        turned = float(np.mean([score for _, score in turned_read]))
        if turned >= UPRIGHT_CONFIDENT and turned > as_is:
            lines = self._read_rest(turned_crops, quads, probe, turned_read)
            if evidence_chars(lines) >= MIN_EVIDENCE_CHARS:
                return TurnedReading(quarter, True, lines, as_is, turned, round(share, 3), 1)
        return None

    def _read_rest(self, crops: list[np.ndarray], quads: np.ndarray, done: list[int], done_read: list[tuple[str, float]]) -> list[tuple[OcrLine, np.ndarray]]:
        """All the lines: those in ``done`` as already read, the others read now."""
        read_by_index = dict(zip(done, done_read, strict=True))
        rest = [i for i in range(len(crops)) if i not in read_by_index]
        read_by_index.update(zip(rest, self._recognize([crops[i] for i in rest]), strict=True))
        return self._lines(crops, quads, [read_by_index[i] for i in range(len(crops))])

    # -- the page -------------------------------------------------------------------------
    @staticmethod
    def _turn(raster: np.ndarray, quads: np.ndarray, quarter: int, h0: int) -> tuple[np.ndarray, np.ndarray]:
        if quarter == 90:
            return cv2.rotate(raster, cv2.ROTATE_90_CLOCKWISE), np.array([order_quad(q) for q in quarter_turn_points(quads, h0)], np.float32).reshape(-1, 4, 2)
        return raster, np.array([order_quad(q) for q in quads], np.float32).reshape(-1, 4, 2)

    def read_any_way(self, raster: np.ndarray, dpi: int) -> TurnedReading:
        """Find the lines on the page as scanned, decide its orientation, and read it."""
        h0 = raster.shape[0]
        quads = plausible_lines(self._detect_small(raster), dpi)
        horizontal, vertical = axis_votes(quads)
        total = horizontal + vertical
        first = 0 if horizontal >= vertical else 90
        share = max(horizontal, vertical) / total if total else 1.0
        candidates = [first] if share >= OVERWHELMING else [first, 90 - first]
        if len(candidates) == 1:
            quarter = first
            turned_raster, q_quads = self._turn(raster, quads, quarter, h0)
            crops = [crop_quad(turned_raster, q) for q in q_quads]
            if len(crops) >= MIN_LINES_TO_TRUST:
                settled = self._probe(crops, q_quads, quarter, share)
                if settled is not None:
                    return settled
        best = None
        for quarter in candidates:
            turned_raster, q_quads = self._turn(raster, quads, quarter, h0)
            crops = [crop_quad(turned_raster, q) for q in q_quads]
            as_is, flipped_score = self._up_or_down(crops)
            score = max(as_is, flipped_score)
            if best is None or score > best[0]:
                best = (score, quarter, turned_raster, q_quads, crops, as_is, flipped_score)
        assert best is not None
        _, quarter, turned_raster, q_quads, crops, as_is, flipped_score = best
        flipped = flipped_score > as_is
        if flipped:
            crops = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
        lines = self._lines(crops, q_quads)
        axis = share if quarter == first else 1.0 - share
        if evidence_chars(lines) < MIN_EVIDENCE_CHARS:
            # Nothing legible to decide by (a photo, a blank form): leave the page as scanned,
            # reading whatever lines there are as they lie, rather than turn it on a stray mark.
            if quarter or flipped:
                q_quads = np.array([order_quad(q) for q in quads], np.float32).reshape(-1, 4, 2)
                lines = self._lines([crop_quad(raster, q) for q in q_quads], q_quads)
            return TurnedReading(0, False, lines, as_is, flipped_score, round(axis, 3), len(candidates), text_found=False)
        return TurnedReading(quarter, flipped, lines, as_is, flipped_score, round(axis, 3), len(candidates))

    def read(self, image: np.ndarray, dpi: int, *, check_upside_down: bool = True) -> Reading:
        """Read a page already turned so that its lines run left-right."""
        h, w = image.shape[:2]
        quads = np.array([order_quad(q) for q in plausible_lines(self._detect_small(image), dpi)], np.float32).reshape(-1, 4, 2)
        crops = [crop_quad(image, q) for q in quads]
        as_is, turned = self._up_or_down(crops) if check_upside_down else (0.0, 0.0)
        flipped = turned > as_is
        if flipped:
            crops = [np.ascontiguousarray(c[::-1, ::-1]) for c in crops]
            quads = np.stack([w - quads[..., 0], h - quads[..., 1]], axis=-1) if len(quads) else quads
        lines = [ln for ln, _ in self._lines(crops, quads)]
        lines.sort(key=lambda ln: (round(ln.y0 / 20), ln.x0))
        return Reading(lines, flipped, as_is, turned)


@hookimpl
def dossier_ocr_engines() -> list[type]:
    return [RapidOcrEngine]
