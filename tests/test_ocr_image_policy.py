"""The default image policy: each page stored as its content needs (DA/T 31 §9.3), and no text lost.

Pages are given as `dossier scan` writes them (lossless PNG). A faint pencil note that
binarisation would drop keeps the page grey; a photo keeps it grey; a red seal keeps it colour;
clean text goes bitonal — and OCR of what is embedded reads no worse than OCR of the capture.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from dossier_station.ocr.encode import binarize
from dossier_station.ocr.loader import scan_inputs
from dossier_station.ocr.quality import cer

PENCIL = ["铅笔批注此处证言与前述矛盾需核实", "承办人核对后再行补充询问笔录"]
NOTO = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


@pytest.fixture(scope="module")
def engine():
    from dossier_station.ocr.engine import make_engine

    return make_engine("rapidocr")


def _lines(engine, im: Image.Image) -> list[str]:
    reading = engine.read_any_way(np.asarray(im.convert("L")), 300)
    return [ln.text for ln, _ in sorted(reading.lines, key=lambda p: (p[0].y0, p[0].x0))]


def _read(engine, im: Image.Image) -> str:
    return "".join(_lines(engine, im))


def _process(engine, path, tmp_path):
    from dossier_station.ocr.page import process_page

    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return process_page(scan_inputs([path])[0], engine, work, 1, "auto")


def _clean(ground_truth) -> tuple[np.ndarray, str]:
    """A laser-printed page scanned sharp: dev_012's lines in black on white paper, and its text."""
    import cv2

    im = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(NOTO, 58)
    lines = [ln["text"] for ln in ground_truth["dev_012.jpg"]["lines"]][:16]
    for i, text in enumerate(lines):
        draw.text((250, 300 + i * 140), text, fill=0, font=font)
    return cv2.GaussianBlur(np.asarray(im), (3, 3), 0.8), "".join(lines)


def _pencil_page(ground_truth) -> Image.Image:
    im = Image.fromarray(_clean(ground_truth)[0])  # clean print, so only the pencil can keep it grey
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(NOTO, 64)
    for i, line in enumerate(PENCIL):  # a light pencil tone a little darker than the paper
        draw.text((320, 2950 + i * 110), line, fill=200, font=font)
    return im


def test_faint_pencil_keeps_the_page_grey_and_its_text_readable(engine, ground_truth, tmp_path):
    im = _pencil_page(ground_truth)
    region = np.asarray(im)[2950:3180, 300:2400]
    assert (binarize(np.asarray(im))[2950:3180, 300:2400] == 0).sum() < 0.25 * (region < np.percentile(region, 90) - 12).sum(), "the test's pencil must be faint enough for binarisation to drop it"
    path = tmp_path / "pencil.png"
    im.save(path, dpi=(300, 300))
    out = _process(engine, path, tmp_path)
    assert out.image_decision.startswith("grey-jpeg: faint strokes"), out.image_decision
    assert out.spec.image.filter == "/DCTDecode" and out.spec.image.colorspace == "/DeviceGray"
    stored = _lines(engine, Image.open(out.spec.image.data_path))
    raw = _lines(engine, im)
    for line in PENCIL:  # each pencil line reads from the stored image as well as from the capture
        best_stored = min(cer(line, t) for t in stored)
        best_raw = min(cer(line, t) for t in raw)
        assert best_raw <= 0.2, (line, raw)
        assert best_stored <= best_raw + 0.07, (line, best_stored, best_raw)


def test_photo_page_is_stored_grey_not_binarised(engine, sample_dir, tmp_path):
    a = np.asarray(Image.open(sample_dir / "dev_002.jpg").convert("L")).copy()
    yy, xx = np.mgrid[0:800, 0:1200]
    photo = 128 + 60 * np.sin(xx / 40) * np.cos(yy / 55) + np.random.default_rng(0).normal(0, 15, (800, 1200))
    a[1800:2600, 600:1800] = photo.clip(0, 255).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(a).save(path, dpi=(300, 300))
    out = _process(engine, path, tmp_path)
    assert out.image_decision.startswith("grey-jpeg: photo or halftone"), out.image_decision


def test_soft_grey_scan_stays_grey_because_binarising_it_loses_characters(engine, sample_dir, tmp_path):
    path = tmp_path / "soft.png"
    Image.open(sample_dir / "dev_012.jpg").convert("L").save(path, dpi=(300, 300))
    out = _process(engine, path, tmp_path)
    assert out.image_decision.startswith("grey-jpeg"), out.image_decision
    assert out.spec.image.data_path.stat().st_size < 0.3 * path.stat().st_size


def test_clean_black_on_white_text_goes_bitonal_and_reads_as_well(engine, sample_dir, ground_truth, tmp_path):
    sharp, truth = _clean(ground_truth)
    im = Image.fromarray(sharp)
    path = tmp_path / "clean.png"
    im.save(path, dpi=(300, 300))
    out = _process(engine, path, tmp_path)
    assert out.image_decision.startswith("bitonal-g4"), out.image_decision
    assert out.spec.image.filter == "/CCITTFaxDecode"
    stored = _read(engine, Image.fromarray(binarize(sharp)))
    assert cer(truth, stored) <= cer(truth, _read(engine, im)) + 0.005
    assert out.spec.image.data_path.stat().st_size < 0.2 * path.stat().st_size


def test_red_seal_page_stays_colour_and_the_seal_red(engine, sample_dir, ground_truth, tmp_path):
    path = tmp_path / "seal.png"
    Image.open(sample_dir / "dev_004.jpg").save(path, dpi=(300, 300))
    out = _process(engine, path, tmp_path)
    assert out.image_decision.startswith("colour-jpeg"), out.image_decision
    stored = np.asarray(Image.open(out.spec.image.data_path).convert("RGB")).astype(int)
    gt = ground_truth["dev_004.jpg"]
    r, g, b = stored[..., 0], stored[..., 1], stored[..., 2]
    red = (r > 150) & (r - g > 60) & (r - b > 60)
    assert red.sum() > 2000  # the seal's ink is still red in what is embedded
    assert gt["stamp"] and out.colour == "color"


def test_report_ties_the_embedded_image_to_the_raw_capture(engine, sample_dir, tmp_path):
    path = tmp_path / "page.jpg"
    path.write_bytes((sample_dir / "dev_008.jpg").read_bytes())
    out = _process(engine, path, tmp_path)
    assert out.image_decision.startswith("jpeg-passthrough")
    assert out.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert out.image_sha256 == hashlib.sha256(out.spec.image.data_path.read_bytes()).hexdigest() == out.sha256
