"""The second engine, tesseract (chi_sim+eng), through the same page stage."""

from __future__ import annotations

from dossier_station.ocr.engine import make_engine
from dossier_station.ocr.loader import scan_inputs
from dossier_station.ocr.page import process_page
from dossier_station.ocr.quality import cer


def test_tesseract_engine_turns_an_upside_down_page_and_reads_it(sample_dir, ground_truth, tmp_path):
    engine = make_engine("tesseract")
    src = scan_inputs([sample_dir / "dev_003.jpg"])[0]
    out = process_page(src, engine, tmp_path, 1)
    gt = ground_truth["dev_003.jpg"]
    assert out.engine == "tesseract"
    assert out.rotation_deg == gt["rotation_deg"] == 180
    assert cer(gt["text"], out.text) <= 0.3  # measured 0.105; PP-OCR does ~0.03 on this page


def test_unknown_engine_is_a_clear_error():
    import pytest

    from dossier_station.core.errors import BadArgsError

    with pytest.raises(BadArgsError, match="rapidocr"):
        make_engine("abbyy")
