"""Photo pages: fed any way round, a page that is mostly photo comes out upright, and a photo
with no text at all is left as scanned.

Why this needed its own rules (see ocr/engines/rapid.py: MAX_LINE_MM, MIN_EVIDENCE_CHARS): on a
photo PP-OCR's detector boxes whole regions of the picture (50–210 mm across, nearly square) and
"reads" each as one stray character, sometimes with confidence ('如' 0.95, 'C' 0.98). Such boxes
used to outvote the caption for the line axis, decide near ties, and turn a photo without text
at random (19 of 24 cases before the fix).
"""

from __future__ import annotations

import numpy as np
import pytest
from varied_pages import make_page, save_turned

from dossier_station.ocr.loader import scan_inputs
from dossier_station.ocr.page import process_page

TURNS = (0, 90, 180, 270)


@pytest.fixture(scope="module")
def engine():
    from dossier_station.ocr.engines.rapid import RapidOcrEngine

    return RapidOcrEngine()


def _built(engine, kind: str, seed: int, turn: int, tmp_path):  # type: ignore[no-untyped-def]
    page = make_page(kind, seed)
    path = save_turned(page, turn, tmp_path / f"{kind}_{seed}_{turn}.jpg")
    return process_page(scan_inputs([path])[0], engine, tmp_path, 1)


@pytest.mark.parametrize("turn", TURNS)
@pytest.mark.parametrize("seed", (0, 3, 4))  # the photos whose regions fooled the committed code
def test_a_page_that_is_mostly_photo_with_a_one_line_caption_comes_out_upright(engine, seed, turn, tmp_path):
    out = _built(engine, "mostly_photo", seed, turn, tmp_path)
    assert out.rotation_deg == turn, out.orientation_evidence
    assert "现场提取的作案车辆" in out.text.replace(" ", "")


@pytest.mark.parametrize("turn", TURNS)
def test_a_photo_with_no_text_is_left_as_scanned_not_turned_at_random(engine, turn, tmp_path):
    out = _built(engine, "photo_only", 0, turn, tmp_path)
    assert out.rotation_deg == 0, out.orientation_evidence
    assert "left as scanned" in out.orientation_evidence


def test_a_photo_with_only_a_stray_mark_is_left_as_scanned(engine, tmp_path):
    """A page number or a stray mark is no evidence of which way is up (committed code: 270°)."""
    from PIL import Image, ImageDraw
    from varied_pages import SANS, font

    page = make_page("photo_only", 0)
    im = Image.fromarray(page.image)
    ImageDraw.Draw(im).text((im.width // 2, im.height - 90), "3", font=font(SANS, 70), fill=(40, 40, 40))
    path = tmp_path / "stray.jpg"
    Image.fromarray(np.ascontiguousarray(np.rot90(np.asarray(im), 2))).save(path, quality=85, dpi=(200, 200))
    out = process_page(scan_inputs([path])[0], engine, tmp_path, 1)
    assert out.rotation_deg == 0, out.orientation_evidence
    assert "left as scanned" in out.orientation_evidence


def test_single_characters_read_with_confidence_are_no_evidence_of_orientation():
    from dossier_station.ocr.engine import OcrLine
    from dossier_station.ocr.engines.rapid import evidence_chars

    def line(text, conf):  # type: ignore[no-untyped-def]
        return OcrLine(text, 0, 0, 10, 10, conf), np.zeros((4, 2), np.float32)

    assert evidence_chars([line("3", 0.99), line("如", 0.95), line("C", 0.98)]) == 0
    assert evidence_chars([line("换押证", 0.97), line("心", 0.2)]) == 3
    assert evidence_chars([line("照片2现场", 0.5)]) == 0  # read, but not with confidence


def test_a_box_taller_than_any_line_of_text_is_set_aside():
    from dossier_station.ocr.engines.rapid import plausible_lines

    line = np.array([[0, 0], [1200, 0], [1200, 80], [0, 80]], np.float32)  # a 7-mm line at 300 dpi
    region = np.array([[0, 0], [1600, 0], [1600, 1400], [0, 1400]], np.float32)  # 119 mm of photo
    kept = plausible_lines(np.stack([line, region]), 300)
    assert len(kept) == 1 and kept[0][2][1] == 80


def test_a_square_box_says_nothing_about_which_way_lines_run():
    from dossier_station.ocr.engines.rapid import axis_votes

    square = np.array([[[0, 0], [500, 0], [500, 480], [0, 480]]], np.float32)
    caption = np.array([[[0, 0], [60, 0], [60, 400], [0, 400]]], np.float32)
    h, v = axis_votes(np.concatenate([square, caption]))
    assert v > 5 * h

