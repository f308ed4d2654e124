"""Page-stage pieces on constructed inputs whose right answer is known by construction."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pikepdf
from PIL import Image

from dossier_station.ocr.blank import detect_blank
from dossier_station.ocr.border import lid_border
from dossier_station.ocr.encode import colour_class, encode_page_image
from dossier_station.ocr.geometry import measure_skew, rotate_about_centre
from dossier_station.ocr.text import join_cjk, join_words, normalise_cjk_punctuation


def test_spaces_between_han_characters_are_removed_but_latin_spacing_kept():
    assert join_cjk("上 海 市 第一 中级") == "上海市第一中级"
    assert join_cjk("case No. 256 号") == "case No. 256号"
    assert join_words(["人民", "法院", "PDF/A", "2b"]) == "人民法院PDF/A 2b"


def test_ascii_quotes_in_chinese_become_paired_full_width_quotes():
    assert normalise_cjk_punctuation('称"扫黑除恶"专项') == "称“扫黑除恶”专项"
    assert normalise_cjk_punctuation('“靶向"助推') == "“靶向”助推"
    assert normalise_cjk_punctuation('say "hi"') == 'say "hi"'  # no Chinese: untouched
    assert normalise_cjk_punctuation("公安丶检察") == "公安、检察"


def _text_like_page(h: int = 1754, w: int = 1240) -> np.ndarray:
    """A synthetic page: dark bars of 'text lines' on light paper, deterministic."""
    rng = np.random.default_rng(7)
    page = np.full((h, w), 215, np.uint8)
    for y in range(200, h - 200, 60):
        x = 150
        while x < w - 200:
            cw = int(rng.integers(20, 30))
            page[y : y + 28, x : x + cw] = 30
            x += cw + int(rng.integers(6, 12))
    return page


def test_deskew_recovers_a_known_angle_on_a_constructed_page():
    page = _text_like_page()
    for angle in (-4.0, -0.7, 1.3, 3.5):
        skewed = rotate_about_centre(page, angle, 215)
        geo = measure_skew(skewed)
        assert geo.applied
        assert abs(geo.skew_deg - angle) < 0.1, (angle, geo)


def test_deskew_does_nothing_when_the_profile_is_flat():
    noise = np.random.default_rng(1).integers(0, 255, (800, 600), dtype=np.uint8)
    geo = measure_skew(noise)
    assert not geo.applied and geo.skew_deg == 0.0


def test_blank_sheet_with_punch_holes_and_page_number_is_blank():
    rng = np.random.default_rng(3)
    h, w = 3508, 2480
    page = np.clip(rng.normal(218, 4, (h, w)), 0, 255).astype(np.uint8)
    for y in (1200, 2300):  # binding holes in the left margin
        cv2.circle(page, (120, y), 70, 40, -1)
    cv2.putText(page, "17", (2200, 150), cv2.FONT_HERSHEY_SIMPLEX, 3, 20, 8)  # page number
    assert detect_blank(page).is_blank
    # one line of handwriting-sized text in the middle
    cv2.putText(page, "received 2024-10-28", (500, 1700), cv2.FONT_HERSHEY_SIMPLEX, 4, 30, 10)
    assert not detect_blank(page).is_blank


def test_lid_border_is_cropped_and_page_marks_are_kept():
    page = np.full((1000, 700), 210, np.uint8)
    page[400:420, 100:600] = 30
    page[0:300, 0:30] = 120  # a dark stain touching the edge: the original's mark, kept
    scan = np.full((1100, 800), 245, np.uint8)  # white lid around the sheet
    scan[40:1040, 60:760] = page
    x0, y0, x1, y1 = lid_border(scan)
    assert abs(x0 - 60) <= 4 and abs(y0 - 40) <= 4 and abs(x1 - 760) <= 4 and abs(y1 - 1040) <= 4
    assert lid_border(page) == (0, 0, 700, 1000)


def test_colour_class_keeps_red_seals_and_recognises_grey():
    grey = Image.new("RGB", (400, 400), (220, 220, 220))
    assert colour_class(grey) == "gray"
    seal = grey.copy()
    seal.paste((200, 30, 30), (150, 150, 250, 250))
    assert colour_class(seal) == "color"
    assert colour_class(Image.new("1", (10, 10))) == "bilevel"


def test_bilevel_pages_are_stored_as_lossless_ccitt_g4(tmp_path):
    rng = np.random.default_rng(5)
    bits = rng.random((300, 400)) > 0.9
    im = Image.fromarray(np.where(bits, 0, 255).astype(np.uint8)).convert("1")
    enc = encode_page_image(im, None, None, tmp_path / "0001")
    assert enc.filter == "/CCITTFaxDecode" and enc.bits == 1
    pdf = pikepdf.new()
    stream = pikepdf.Stream(pdf, enc.data_path.read_bytes())
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent = enc.width, enc.height, 1
    stream.ColorSpace = pikepdf.Name.DeviceGray
    stream.Filter = pikepdf.Name.CCITTFaxDecode
    stream.DecodeParms = pikepdf.Dictionary({k: v for k, v in enc.decode_parms.items()})
    decoded = pikepdf.PdfImage(stream).as_pil_image().convert("L")
    assert np.array_equal(np.asarray(decoded), np.asarray(im.convert("L")))


def test_jpeg_is_passed_through_unchanged(tmp_path):
    buf = io.BytesIO()
    Image.new("L", (64, 64), 128).save(buf, "JPEG")
    src = tmp_path / "p.jpg"
    src.write_bytes(buf.getvalue())
    im = Image.open(src)
    enc = encode_page_image(im, src.read_bytes(), src, tmp_path / "0001")
    assert enc.filter == "/DCTDecode" and enc.data_path == src and enc.colorspace == "/DeviceGray"


def test_compact_binarisation_keeps_text_and_drops_isolated_specks():
    from dossier_station.ocr.encode import binarize

    page = _text_like_page()
    rng = np.random.default_rng(9)
    noisy = np.clip(page.astype(np.int16) + rng.normal(0, 6, page.shape), 0, 255).astype(np.uint8)
    ys, xs = rng.integers(0, page.shape[0], 300), rng.integers(0, page.shape[1], 300)
    noisy[ys, xs] = 20  # single-pixel specks
    binary = binarize(noisy)
    text = page < 100
    assert (binary[text] == 0).mean() > 0.97  # text stays black
    lone = ~cv2.dilate(text.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert (binary[lone] == 0).mean() < 0.001  # specks away from text are gone


def test_compact_encoding_is_g4_for_grey_and_jpeg_for_colour(tmp_path):
    from dossier_station.ocr.encode import encode_compact

    grey = Image.fromarray(_text_like_page())
    assert encode_compact(grey, "gray", tmp_path / "a").filter == "/CCITTFaxDecode"
    colour = Image.new("RGB", (200, 200), (220, 220, 220))
    enc = encode_compact(colour, "color", tmp_path / "b")
    assert enc.filter == "/DCTDecode" and enc.colorspace == "/DeviceRGB"
