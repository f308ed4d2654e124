"""Bad input gets a clear error naming the file, a non-zero exit, and nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from dossier_station.core.errors import ExitCode


def run_build(inputs: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dossier_station.station", "build", str(inputs), "-o", str(out), "--jobs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _folder_with(tmp_path: Path, sample_dir: Path, bad_name: str, bad_bytes: bytes) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "0001.jpg").write_bytes((sample_dir / "dev_002.jpg").read_bytes())
    (folder / bad_name).write_bytes(bad_bytes)
    return folder


def _assert_refused(result: subprocess.CompletedProcess[str], name: str, code: ExitCode, out: Path) -> None:
    assert result.returncode == int(code), result.stderr
    assert name in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(out.glob("*.pdf")) if out.exists() else True


def test_zero_byte_image_is_refused_by_name(tmp_path, sample_dir):
    folder = _folder_with(tmp_path, sample_dir, "0002.png", b"")
    out = tmp_path / "out"
    result = run_build(folder, out)
    _assert_refused(result, "0002.png", ExitCode.input_file, out)
    assert "empty" in result.stderr


def test_truncated_jpeg_is_refused_and_input_left_untouched(tmp_path, sample_dir):
    data = (sample_dir / "dev_003.jpg").read_bytes()[:20000]
    folder = _folder_with(tmp_path, sample_dir, "0002.jpg", data)
    out = tmp_path / "out"
    result = run_build(folder, out)
    _assert_refused(result, "0002.jpg", ExitCode.input_file, out)
    assert (folder / "0002.jpg").read_bytes() == data


def test_decompression_bomb_is_refused(tmp_path, sample_dir):
    folder = tmp_path / "scans"
    folder.mkdir()
    Image.new("1", (13000, 13000), 1).save(folder / "bomb.png")
    out = tmp_path / "out"
    result = run_build(folder, out)
    _assert_refused(result, "bomb.png", ExitCode.input_file, out)
    assert "bomb" in result.stderr.lower()


def test_encrypted_pdf_is_refused_with_its_own_exit_code(tmp_path, sample_dir):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    folder = tmp_path / "scans"
    folder.mkdir()
    pdf.save(folder / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="secret"))
    out = tmp_path / "out"
    result = run_build(folder, out)
    _assert_refused(result, "locked.pdf", ExitCode.encrypted_pdf, out)


def test_broken_pdf_is_refused(tmp_path, sample_dir):
    folder = _folder_with(tmp_path, sample_dir, "broken.pdf", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\ngarbage")
    out = tmp_path / "out"
    result = run_build(folder, out)
    _assert_refused(result, "broken.pdf", ExitCode.input_file, out)


def test_unsupported_file_type_is_refused(tmp_path, sample_dir):
    folder = _folder_with(tmp_path, sample_dir, "notes.docx", b"PK\x03\x04 not a scan")
    out = tmp_path / "out"
    result = run_build(folder, out)
    _assert_refused(result, "notes.docx", ExitCode.input_file, out)
    assert "unsupported" in result.stderr


@pytest.mark.parametrize("missing", ["nowhere", "nowhere.pdf"])
def test_missing_input_is_refused(tmp_path, missing):
    out = tmp_path / "out"
    result = run_build(tmp_path / missing, out)
    _assert_refused(result, missing, ExitCode.input_file, out)


def test_case_file_that_disagrees_with_the_pages_stops_before_any_ocr(tmp_path, sample_dir):
    folder = _folder_with(tmp_path, sample_dir, "0002.jpg", (sample_dir / "dev_003.jpg").read_bytes())
    case = tmp_path / "case.toml"
    case.write_text('[[rows]]\n"题名" = "起诉意见书"\n"页数" = 3\n', "utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "dossier_station.station", "build", str(folder), "--case", str(case), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == int(ExitCode.invalid_config), result.stderr
    assert "3 pages but 2 page images" in result.stderr
    assert not out.exists()
