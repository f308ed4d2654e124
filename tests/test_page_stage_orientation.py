"""Every sample page, fed in any of the four ways, comes out upright and reads as well as upright.

The pages are dense justified Chinese (a grid of square characters), the case where an ink
profile is sharp in both directions and picked the wrong axis for about one turned page in
five; the line detector's boxes decide the axis instead (ocr/engines/rapid.py).
"""

from __future__ import annotations

import socket
import statistics

import numpy as np
import pytest
from PIL import Image

from dossier_station.ocr.engines.rapid import axis_votes, crop_quad, order_quad, quarter_turn_points
from dossier_station.ocr.quality import cer

TURNS = (0, 90, 180, 270)


@pytest.fixture(scope="module")
def turned_outcomes(sample_dir, ground_truth, tmp_path_factory):
    """All four turns of every non-blank sample page through the page stage (2 workers)."""
    from dossier_station.ocr.loader import scan_inputs
    from dossier_station.station.pages import process_pages

    folder = tmp_path_factory.mktemp("turned")
    files, truth = [], {}
    for name, gt in sorted(ground_truth.items()):
        if gt["is_blank"]:
            continue
        im = Image.open(sample_dir / name)
        for turn in TURNS:
            path = folder / f"t{turn:03d}_{name}"
            if turn == 0:
                path.write_bytes((sample_dir / name).read_bytes())
            else:  # PIL turns counter-clockwise, as the ground truth's rotation_deg counts
                im.rotate(turn, expand=True).save(path, dpi=(300, 300), **({"quality": 92} if name.endswith(".jpg") else {}))
            files.append(path)
            truth[path.name] = ((gt["rotation_deg"] + turn) % 360, gt["text"], turn)
    work = tmp_path_factory.mktemp("work")
    outcomes = list(process_pages(scan_inputs(files), work, engine="rapidocr", jobs=2))
    return [(o, *truth[o.key]) for o in outcomes]


def test_every_turn_of_every_sample_page_comes_out_upright(turned_outcomes):
    wrong = {o.key: (o.rotation_deg, want, o.orientation_evidence) for o, want, _, _ in turned_outcomes if o.rotation_deg != want}
    assert not wrong, f"pages left turned (found, truth, evidence): {wrong}"
    assert len(turned_outcomes) == 40


def test_turned_pages_read_as_well_as_upright_ones(turned_outcomes):
    by_turn: dict[int, list[float]] = {t: [] for t in TURNS}
    for o, _, text, turn in turned_outcomes:
        by_turn[turn].append(cer(text, o.text))
    for turn, rates in by_turn.items():
        assert max(rates) <= 0.05, (turn, rates)
        assert statistics.mean(rates) <= 0.02, (turn, rates)  # the goal, upright and turned


def test_orientation_evidence_is_reported_per_page(turned_outcomes):
    for o, *_ in turned_outcomes:
        assert o.orientation_evidence.startswith("line detector:"), o.orientation_evidence


def test_axis_vote_follows_the_long_side_of_the_boxes():
    wide = np.array([[[0, 0], [100, 2], [100, 22], [0, 20]]], np.float32)
    tall = np.array([[[0, 0], [20, 0], [22, 100], [2, 100]]], np.float32)
    h, v = axis_votes(np.concatenate([wide, wide, tall]))
    assert h > 1.5 * v
    h, v = axis_votes(tall)
    assert h == 0 and v > 0


def test_quarter_turned_points_match_opencv_rotation():
    import cv2

    img = np.zeros((30, 50), np.uint8)
    img[5, 40] = 255
    turned = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    (x, y) = quarter_turn_points(np.array([[40.0, 5.0]], np.float32), 30)[0]
    assert turned[int(y), int(x)] == 255


def test_a_tall_box_is_cropped_lying_flat():
    img = np.full((200, 100), 255, np.uint8)
    quad = order_quad(np.array([[10, 190], [10, 10], [40, 10], [40, 190]], np.float32))
    crop = crop_quad(img, quad)
    assert crop.shape[1] > crop.shape[0]


def test_the_default_engine_loads_and_reads_with_no_network(monkeypatch, sample_dir):
    """The models come from the wheel by path: no download is even attempted."""
    from dossier_station.ocr.engines.rapid import RapidOcrEngine

    def refuse(*args, **kwargs):
        raise AssertionError("the OCR engine tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    engine = RapidOcrEngine()
    page = np.asarray(Image.open(sample_dir / "dev_001.png").convert("L"))
    reading = engine.read_any_way(page, 300)
    assert reading.quarter == 0 and not reading.flipped
    assert any("人民法院" in ln.text for ln, _ in reading.lines)


@pytest.mark.parametrize("turn", TURNS)
def test_a_sparse_form_with_little_text_is_turned_upright(turn):
    """A 送达回证: a title, a ruled table and a few words — little text for any evidence."""
    from PIL import ImageDraw, ImageFont

    from dossier_station.ocr.engines.rapid import RapidOcrEngine

    font = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 56)
    title = ImageFont.truetype("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 90)
    im = Image.new("L", (2480, 3508), 250)
    draw = ImageDraw.Draw(im)
    draw.text((900, 300), "送达回证", font=title, fill=20)
    for i, label in enumerate(["案由", "受送达人", "送达地点", "送达文书名称", "送达人", "备注"]):
        y = 600 + i * 260
        draw.rectangle((250, y, 2230, y + 260), outline=30, width=4)
        draw.line((800, y, 800, y + 260), fill=30, width=4)
        draw.text((290, y + 95), label, font=font, fill=25)
    reading = _engine(RapidOcrEngine).read_any_way(np.asarray(im.rotate(turn, expand=True)), 300)
    assert (reading.quarter + 180 * reading.flipped) % 360 == turn
    assert "送达回证" in [ln.text for ln, _ in reading.lines]


_ENGINES: dict[type, object] = {}


def _engine(cls):  # type: ignore[no-untyped-def]
    if cls not in _ENGINES:
        _ENGINES[cls] = cls()
    return _ENGINES[cls]
