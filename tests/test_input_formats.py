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


# --- scanned PDFs as real scanners and scanning software write them -------------------------

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dossier_station.core.errors import ExitCode, InputFileError  # noqa: E402
from dossier_station.ocr.loader import load_page, scan_inputs, skipped_inputs  # noqa: E402
from dossier_station.ocr.quality import cer  # noqa: E402

try:
    from tests import pdf_makers
except ImportError:  # pragma: no cover - run from inside tests/
    import pdf_makers  # type: ignore[no-redef]


def _build(folder, out, *extra):
    return subprocess.run(
        [sys.executable, "-m", "dossier_station.station", "build", str(folder), "-o", str(out), "--jobs", "2", "--no-attach", *extra],
        capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def pdf_build(sample_dir, tmp_path_factory):
    """One build of a folder of awkward scanned PDFs: JBIG2, strips, /Rotate 90, born digital."""
    folder = tmp_path_factory.mktemp("pdfs")
    pdf_makers.jbig2_pdf(Image.open(sample_dir / "dev_001.png"), folder / "1-jbig2.pdf")
    pdf_makers.strips_pdf(Image.open(sample_dir / "dev_002.jpg"), folder / "2-strips.pdf")
    pdf_makers.rotated_pdf(Image.open(sample_dir / "dev_008.jpg"), folder / "3-rotate90.pdf")
    pdf_makers.born_digital_pdf(folder / "4-born-digital.pdf", ["Indictment No. 2024-17", "Defendant: Zhang San"])
    out = tmp_path_factory.mktemp("pdfs-out")
    result = _build(folder, out)
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(next(out.glob("*.report.json")).read_text("utf-8"))
    pdf = next(out.glob("*.pdf"))
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split("\f")
    return {p["key"]: p for p in report["pages"]}, pages, report


def test_jbig2_page_is_decoded_and_read(pdf_build, ground_truth):
    pages, _, _ = pdf_build
    p = pages["1-jbig2.pdf"]
    assert not p["blank"] and p["colour"] == "bilevel" and p["pdf_page"] == "rendered at 300 dpi"
    assert cer(ground_truth["dev_001.png"]["text"], p["text"]) <= 0.05


def test_page_of_several_strips_is_read_whole_not_set_aside(pdf_build, ground_truth):
    pages, _, _ = pdf_build
    p = pages["2-strips.pdf"]
    assert not p["blank"]
    assert cer(ground_truth["dev_002.jpg"]["text"], p["text"]) <= 0.05


def test_rotate_90_page_is_taken_as_displayed_and_turned_upright(pdf_build, ground_truth):
    pages, _, _ = pdf_build
    p = pages["3-rotate90.pdf"]
    assert p["rotation_deg"] == 270  # displayed turned clockwise: turned back
    assert cer(ground_truth["dev_008.jpg"]["text"], p["text"]) <= 0.05


def test_born_digital_page_keeps_its_own_text_and_says_so(pdf_build):
    pages, texts, _ = pdf_build
    p = pages["4-born-digital.pdf"]
    assert p["born_digital"] and p["engine"].startswith("none")
    assert "Indictment No. 2024-17" in p["text"]
    whole = "\f".join(texts)  # the volume opens with its cover and catalogue pages
    assert "Indictment No. 2024-17" in whole and "Zhang San" in whole


def _fails_clearly(result, *words):
    assert result.returncode == ExitCode.input_file, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    said = " ".join((result.stderr + result.stdout).split())  # the console wraps long lines
    for w in words:
        assert w in said, said


def test_oversized_pdf_page_is_a_clear_error(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    pdf_makers.oversized_pdf(folder / "huge.pdf")
    _fails_clearly(_build(folder, tmp_path / "out"), "huge.pdf", "35000×35000")


def test_damaged_jbig2_stream_is_a_clear_error_naming_the_page(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    pdf_makers.broken_jbig2_pdf(folder / "broken.pdf")
    _fails_clearly(_build(folder, tmp_path / "out"), "broken.pdf, page 1", "cannot be decoded")


def test_jbig2_stream_made_here_is_valid_for_jbig2dec(tmp_path, sample_dir):
    stream = tmp_path / "page.jb2"
    stream.write_bytes(pdf_makers.jbig2_generic_mmr(Image.open(sample_dir / "dev_001.png")))
    subprocess.run(["jbig2dec", "-e", "-t", "png", "-o", str(tmp_path / "page.png"), str(stream)], check=True, capture_output=True)
    decoded = np.asarray(Image.open(tmp_path / "page.png").convert("L")) < 128
    original = np.asarray(Image.open(sample_dir / "dev_001.png").convert("L")) < 128
    assert np.array_equal(decoded, original)


def test_pdf_user_unit_is_applied_and_said(tmp_path, sample_dir):
    import pikepdf

    path = pdf_makers.rotated_pdf(Image.open(sample_dir / "dev_002.jpg").reduce(2), tmp_path / "uu.pdf", rotate=0, dpi=300)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.pages[0].obj.UserUnit = 2.0  # each unit is 2/72 inch: the page is twice its point size
        pdf.save(path)
    loaded = load_page(scan_inputs([path])[0])
    assert abs(loaded.dpi - 150) < 2 and "/UserUnit 2" in loaded.dpi_note


# --- images that are not pages, or not readable -----------------------------------------------

def test_one_pixel_image_is_a_clear_error(tmp_path):
    Image.new("L", (1, 1), 255).save(tmp_path / "dot.png")
    with pytest.raises(InputFileError, match="too small to be a scanned page"):
        scan_inputs([tmp_path / "dot.png"])


def test_truncated_multipage_tiff_is_a_clear_error(tmp_path, sample_dir):
    a, b = Image.open(sample_dir / "dev_008.jpg"), Image.open(sample_dir / "dev_009.jpg")
    a.save(tmp_path / "full.tif", save_all=True, append_images=[b], compression="tiff_lzw")
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: int(len(data) * 0.7)])
    with pytest.raises(InputFileError, match="cut.tif"):
        scan_inputs([tmp_path / "cut.tif"])


def test_unreadable_file_is_a_clear_error(tmp_path, sample_dir):
    """Root reads every file, so as root the child drops the capabilities that let it (setpriv)."""
    target = tmp_path / "secret.jpg"
    target.write_bytes((sample_dir / "dev_008.jpg").read_bytes())
    target.chmod(0)
    prefix = ["setpriv", "--bounding-set", "-dac_read_search,-dac_override"] if os.geteuid() == 0 else []
    code = (
        "import sys\nfrom dossier_station.ocr.loader import scan_inputs\nfrom dossier_station.core.errors import InputFileError\n"
        f"try:\n    scan_inputs([__import__('pathlib').Path({str(target)!r})])\nexcept InputFileError as e:\n    print(e); sys.exit(7)\n"
    )
    result = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 7, result.stderr
    assert "permission denied" in result.stdout and "secret.jpg" in result.stdout


@pytest.mark.parametrize("dpi", [None, (1, 1), (60000, 60000)])
def test_text_page_without_a_plausible_dpi_is_not_called_blank(tmp_path, sample_dir, dpi):
    """A 150-dpi text page whose file gives no resolution (or 1, or 60000)."""
    from dossier_station.ocr.blank import detect_blank

    im = Image.open(sample_dir / "dev_002.jpg").convert("L")
    small = im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
    path = tmp_path / "page.png"
    small.save(path, **({"dpi": dpi} if dpi else {}))
    loaded = load_page(scan_inputs([path])[0])
    assert abs(loaded.dpi - 150) <= 2 and "A4" in loaded.dpi_note
    assert not detect_blank(np.asarray(loaded.image.convert("L")), loaded.dpi).is_blank


def test_folder_entries_that_are_not_pages_are_listed_with_why(tmp_path, sample_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "p1.jpg").write_bytes((sample_dir / "dev_008.jpg").read_bytes())
    (folder / ".hidden.jpg").write_bytes(b"x")
    (folder / "sub").mkdir()
    (folder / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    why = {p.name: reason for p, reason in skipped_inputs(folder)}
    assert why[".hidden.jpg"] == "hidden file"
    assert why["sub"].startswith("subfolder")
    assert why["dangling.jpg"].startswith("dangling symbolic link")
    assert why["loop.jpg"] == "symbolic link loop"
    assert "p1.jpg" not in why


def test_a_600_dpi_page_is_read_at_300_dpi_and_stored_whole(tmp_path, sample_dir, ground_truth):
    """Analysis and OCR run on a reduced copy; the dossier keeps every captured pixel."""
    from dossier_station.ocr.engine import make_engine
    from dossier_station.ocr.page import process_page

    im = Image.open(sample_dir / "dev_002.jpg").convert("L")
    big = im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC)
    path = tmp_path / "page600.png"
    big.save(path, dpi=(600, 600))
    out = process_page(scan_inputs([path])[0], make_engine("rapidocr"), tmp_path, 1, "archival")
    assert out.dpi == 300 and out.spec is not None
    assert (out.spec.image.width, out.spec.image.height) == big.size
    assert abs(out.spec.width_pt - big.width * 72 / 600) < 0.02 * out.spec.width_pt  # A4 wide, not twice that
    assert cer(ground_truth["dev_002.jpg"]["text"], out.text) <= 0.05


# --- any bytes: a page or a clear error, never a traceback -----------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _small_inputs(tmp: Path) -> dict[str, bytes]:
    import io

    page = Image.new("L", (300, 420), 255)
    for y in range(60, 380, 30):
        page.paste(0, (40, y, 260, y + 8))
    out = {}
    for fmt, suffix in (("PNG", ".png"), ("JPEG", ".jpg"), ("TIFF", ".tif")):
        buf = io.BytesIO()
        page.save(buf, fmt)
        out[suffix] = buf.getvalue()
    out[".pdf"] = pdf_makers.jbig2_pdf(page.convert("1"), tmp / "seed.pdf", dpi=50).read_bytes()
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_a_page_file_gives_a_page_or_a_clear_error(tmp_path, data):
    seeds = _small_inputs(tmp_path)
    suffix = data.draw(st.sampled_from(sorted(seeds)))
    raw = bytearray(seeds[suffix])
    how = data.draw(st.sampled_from(["truncate", "flip", "garbage"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(1, len(raw) - 1))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    else:
        raw = bytearray(data.draw(st.binary(min_size=1, max_size=2000)))
    path = tmp_path / f"page{suffix}"
    path.write_bytes(bytes(raw))
    try:
        for src in scan_inputs([path]):
            load_page(src)
    except InputFileError as exc:
        assert str(path) in str(exc)
