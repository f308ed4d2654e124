"""A quarter turn the clerk set on the check screen (batch.json ``rotate``) is the turn the
build applies: a person who looked at the page outranks the machine's guess."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from dossier_station.ocr.engine import make_engine
from dossier_station.ocr.loader import scan_inputs
from dossier_station.ocr.page import process_page
from dossier_station.ocr.quality import cer


def _sideways(sample_dir: Path, tmp_path: Path) -> Path:
    """dev_001 turned a quarter counter-clockwise, as a sheet fed sideways is captured."""
    path = tmp_path / "sideways.png"
    Image.open(sample_dir / "dev_001.png").rotate(90, expand=True).save(path, dpi=(300, 300))
    return path


def test_the_clerks_turn_is_applied_and_the_page_reads_upright(sample_dir, ground_truth, tmp_path: Path):
    from dataclasses import replace

    (src,) = scan_inputs([_sideways(sample_dir, tmp_path)])
    out = process_page(replace(src, turn=90), make_engine("rapidocr"), tmp_path, 1)
    assert out.rotation_deg == 90
    assert "clerk" in out.orientation_evidence
    truth = "\n".join(line["text"] for line in ground_truth["dev_001.png"]["lines"])
    assert cer(truth, out.text) <= 0.05


def test_the_clerks_turn_is_obeyed_even_against_the_machines_guess(sample_dir, tmp_path: Path):
    from dataclasses import replace

    (src,) = scan_inputs([_sideways(sample_dir, tmp_path)])
    out = process_page(replace(src, turn=270), make_engine("rapidocr"), tmp_path, 1)
    assert out.rotation_deg == 270  # upside down, as told: the clerk sees it on the check screen


def test_batch_rotate_values_travel_with_their_sources(tmp_path: Path):
    from dossier_station.station.pipeline import _with_clerk_turns

    pages = tmp_path / "pages"
    pages.mkdir()
    for n in (1, 2):
        Image.new("L", (200, 280), 255).save(pages / f"{n:04d}.png")
    sources = scan_inputs(sorted(pages.iterdir()))
    turned = _with_clerk_turns(sources, [{"file": "pages/0001.png", "rotate": 180}, {"file": "pages/0002.png"}])
    assert [s.turn for s in turned] == [180, 0]
