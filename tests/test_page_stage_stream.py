"""`dossier scan --build` reads pages while the scanner is still feeding.

SANE's pnm backend (a real SANE device reading page images from disk) feeds real sample pages;
each page is handed to the early-OCR pool the moment the scan writes it, and the build after
the scan takes those outcomes instead of reading the pages again.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from dossier_station.capture.batch import run_scan
from dossier_station.devices.scanner import ScanSettings
from dossier_station.ocr.quality import cer


@pytest.fixture(autouse=True)
def sane_config(tmp_path_factory, monkeypatch):
    """A private SANE_CONFIG_DIR naming the pnm backend; /etc stays untouched."""
    cfg = tmp_path_factory.getbasetemp() / "sane.d"
    cfg.mkdir(exist_ok=True)
    (cfg / "dll.conf").write_text("test\npnm\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(cfg))
    return cfg


def test_pages_read_during_the_scan_are_not_read_again_at_build(tmp_path, sample_dir, ground_truth):
    from dossier_station.station.pipeline import BuildOptions, build_dossier
    from dossier_station.station.scan_batch import EarlyOcr

    names = ["dev_002.jpg", "dev_008.jpg"]
    pnm = tmp_path / "pnm"
    pnm.mkdir()
    schedule = {}
    for i, name in enumerate(names, start=1):
        path = pnm / f"{i}.pgm"
        Image.open(sample_dir / name).convert("L").reduce(2).save(path)
        schedule[i] = {"filename": str(path)}
    batch = tmp_path / "b"
    early = EarlyOcr(batch, engine="rapidocr", images="auto", jobs=2)
    try:
        run_scan(batch, ScanSettings(device="pnm:0", dpi=150, mode="gray", source="flatbed"), schedule=schedule, max_pages=2, on_page=early.page)
        assert early.finish() == 2
    finally:
        early.cancel()
    assert len(list((batch / "work" / "ocr").glob("*/outcome.json"))) == 2
    result = build_dossier(batch, None, tmp_path / "out", options=BuildOptions(jobs=2, attach=False))
    pages = result.report["pages"]
    assert [p["read_while_scanning"] for p in pages] == [True, True]
    for p, name in zip(pages, names, strict=True):
        assert cer(ground_truth[name]["text"], p["text"]) <= 0.05
    assert json.loads(result.report_path.read_text("utf-8"))["volumes"][0]["numbered_pages"] == 2


def test_a_changed_page_is_read_again_not_taken_from_the_early_read(tmp_path, sample_dir):
    from dossier_station.ocr.loader import scan_inputs
    from dossier_station.station.pages import early_path

    batch = tmp_path / "b"
    (batch / "pages").mkdir(parents=True)
    (batch / "batch.json").write_text("{}", "utf-8")
    page = batch / "pages" / "0001.png"
    Image.open(sample_dir / "dev_002.jpg").convert("L").reduce(4).save(page)
    src = scan_inputs([page])[0]
    path = early_path(src, "rapidocr", "auto")
    assert path is not None and src.sha256 in str(path)  # keyed by the very bytes read
