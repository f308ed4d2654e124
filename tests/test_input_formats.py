"""Multi-page TIFFs and scanned PDFs are pages too, in name order, each hashed and keyed."""

from __future__ import annotations

import json
import subprocess
import sys

from PIL import Image


def test_multipage_tiff_and_scanned_pdf_become_numbered_pages(tmp_path, sample_dir):
    folder = tmp_path / "scans"
    folder.mkdir()
    a = Image.open(sample_dir / "dev_008.jpg")
    b = Image.open(sample_dir / "dev_009.jpg")
    a.save(folder / "1-scan.tif", save_all=True, append_images=[b], compression="tiff_lzw", dpi=(300, 300))
    Image.open(sample_dir / "dev_005.jpg").save(folder / "2-doc.pdf", resolution=300.0)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "dossier_station.station", "build", str(folder), "-o", str(out), "--jobs", "2", "--no-attach"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(next(out.glob("*.report.json")).read_text("utf-8"))
    assert [p["key"] for p in report["pages"]] == ["1-scan.tif#1", "1-scan.tif#2", "2-doc.pdf"]
    assert [p["page_number"] for p in report["pages"]] == [1, 2, 3]
    assert report["pages"][2]["rotation_deg"] == 90  # the PDF's page was fed sideways
    assert abs(report["pages"][2]["dpi"] - 300) < 2
    pdf = next(out.glob("*.pdf"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "随州市公安局曾都区分局" in text
