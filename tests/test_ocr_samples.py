"""The page stage on the sample scans, against their ground truth."""

from __future__ import annotations

import statistics

from dossier_station.ocr.quality import cer


def _residual(outcome, gt) -> float:
    return abs(outcome.deskew_deg - gt["skew_deg"])


def test_every_page_is_turned_upright(ocr_outcomes, ground_truth):
    wrong = {
        key: (o.rotation_deg, ground_truth[key]["rotation_deg"])
        for key, o in ocr_outcomes.items()
        if not o.blank and o.rotation_deg != ground_truth[key]["rotation_deg"]
    }
    assert not wrong, f"orientation wrong (found, truth): {wrong}"


def test_residual_skew_is_within_target(ocr_outcomes, ground_truth):
    residuals = [_residual(o, ground_truth[k]) for k, o in ocr_outcomes.items() if not o.blank]
    assert statistics.median(residuals) <= 0.05, residuals
    assert max(residuals) <= 0.2, residuals


def test_blank_pages_are_flagged_and_only_they(ocr_outcomes, ground_truth):
    flagged = {k for k, o in ocr_outcomes.items() if o.blank}
    truth = {k for k, gt in ground_truth.items() if gt["is_blank"]}
    assert flagged == truth


def test_blank_pages_keep_their_hash_and_get_no_page(ocr_outcomes, ground_truth):
    for o in ocr_outcomes.values():
        if o.blank:
            assert len(o.sha256) == 64 and o.spec is None


def test_character_error_rate_is_bounded(ocr_outcomes, ground_truth):
    rates = {k: cer(ground_truth[k]["text"], o.text) for k, o in ocr_outcomes.items() if not o.blank}
    assert all(r <= 0.05 for r in rates.values()), rates
    assert statistics.mean(rates.values()) <= 0.02, rates  # the goal


def test_recognised_chinese_has_no_spaces_between_han_characters(ocr_outcomes):
    import re

    for o in ocr_outcomes.values():
        assert not re.search(r"[\u4e00-\u9fff][ \t\u3000]+[\u4e00-\u9fff]", o.text), o.key


def test_colour_is_kept_where_there_is_colour(ocr_outcomes, ground_truth):
    for key, o in ocr_outcomes.items():
        fmt = ground_truth[key]["format"]
        if ground_truth[key]["stamp"]:
            assert o.colour == "color", key  # red seals must stay red
            assert o.spec.image.colorspace == "/DeviceRGB"
        if fmt == "png-bilevel":
            assert o.colour == "bilevel" and o.spec.image.filter == "/CCITTFaxDecode"


def test_jpeg_scans_are_passed_through_byte_for_byte(built_dossier, ocr_outcomes, sample_dir):
    """Checked in the built volume itself: the work files are gone once the build is placed."""
    import hashlib

    import pikepdf

    embedded = set()
    for volume in built_dossier.volumes:
        with pikepdf.open(volume) as pdf:
            for page in pdf.pages:
                for image in page.images.values():
                    if image.get("/Filter") == pikepdf.Name.DCTDecode:
                        embedded.add(hashlib.sha256(image.read_raw_bytes()).hexdigest())
    for o in ocr_outcomes.values():
        if o.spec is not None and o.key.endswith(".jpg"):
            assert o.spec.image.filter == "/DCTDecode"
            assert o.image_decision.startswith("jpeg-passthrough")
            assert o.image_sha256 == o.sha256 == hashlib.sha256((sample_dir / o.key).read_bytes()).hexdigest()
            assert o.sha256 in embedded, o.key


def test_text_lines_lie_inside_the_page(ocr_outcomes):
    for o in ocr_outcomes.values():
        if o.spec is None:
            continue
        assert o.spec.lines
        for ln in o.spec.lines:
            assert 0 <= ln.x0 < ln.x1 <= o.spec.width_pt + 0.01
            assert 0 <= ln.y0 < ln.y1 <= o.spec.height_pt + 0.01
