"""Scanning against SANE's own virtual devices (`test`, `pnm`) through real libsane.

A private SANE_CONFIG_DIR (a dll.conf naming `test` and `pnm`) keeps /etc untouched. Faults are
injected the way the `test` backend offers: its read-return-value option, set mid-batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from dossier_station.capture.batch import BatchFolder, run_scan
from dossier_station.core.errors import BadArgsError, CaseFileError
from dossier_station.devices.scanner import (
    MODE_PATTERNS,
    SOURCE_PATTERNS,
    ScanSettings,
    pick_resolution,
    pick_string,
)


@pytest.fixture(autouse=True)
def sane_config(tmp_path_factory, monkeypatch):
    cfg = tmp_path_factory.getbasetemp() / "sane.d"
    cfg.mkdir(exist_ok=True)
    (cfg / "dll.conf").write_text("test\npnm\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(cfg))
    return cfg


ADF = ScanSettings(device="test:0", dpi=75, mode="gray", source="adf")


def _hashes_match(batch: Path) -> None:
    data = json.loads((batch / "batch.json").read_text("utf-8"))
    for p in data["pages"]:
        assert hashlib.sha256((batch / p["file"]).read_bytes()).hexdigest() == p["sha256"]


def test_adf_batch_runs_until_the_feeder_is_empty(tmp_path):
    outcome = run_scan(tmp_path / "b", ADF)
    assert outcome.reason == "end" and len(outcome.added) == 10  # the test device's feeder holds 10
    data = json.loads((tmp_path / "b" / "batch.json").read_text("utf-8"))
    assert data["state"] == "complete" and [p["seq"] for p in data["pages"]] == list(range(1, 11))
    assert data["device"]["name"] == "test:0" and data["applied"]["source"] == "Automatic Document Feeder"
    assert all((tmp_path / "b" / p["thumb"]).exists() for p in data["pages"])
    _hashes_match(tmp_path / "b")


@pytest.mark.parametrize(
    ("status", "words"),
    [("JAMMED", "jam"), ("COVER_OPEN", "cover"), ("IO_ERROR", "cable"), ("DEVICE_BUSY", "busy")],
)
def test_fault_mid_batch_keeps_every_page_scanned_so_far(tmp_path, status, words):
    schedule = {4: {"read-return-value": f"SANE_STATUS_{status}"}}
    outcome = run_scan(tmp_path / "b", ADF, schedule=schedule)
    assert outcome.reason == f"fault:{status}"
    assert words in outcome.message
    assert len(outcome.added) == 3
    data = json.loads((tmp_path / "b" / "batch.json").read_text("utf-8"))
    assert data["state"] == "stopped" and len(data["pages"]) == 3
    _hashes_match(tmp_path / "b")


def test_no_docs_mid_batch_is_the_normal_end(tmp_path):
    outcome = run_scan(tmp_path / "b", ADF, schedule={3: {"read-return-value": "SANE_STATUS_NO_DOCS"}})
    assert outcome.reason == "end" and len(outcome.added) == 2


def test_empty_feeder_at_start_is_reported(tmp_path):
    outcome = run_scan(tmp_path / "b", ADF, schedule={1: {"read-return-value": "SANE_STATUS_NO_DOCS"}})
    assert outcome.reason == "fault:NO_DOCS" and "empty" in outcome.message


def test_resume_continues_numbering_after_a_jam(tmp_path):
    run_scan(tmp_path / "b", ADF, schedule={3: {"read-return-value": "SANE_STATUS_JAMMED"}})
    outcome = run_scan(tmp_path / "b", ADF, resume=True)
    assert [p["seq"] for p in outcome.added] == list(range(3, 13))
    data = json.loads((tmp_path / "b" / "batch.json").read_text("utf-8"))
    assert [p["seq"] for p in data["pages"]] == list(range(1, 13))
    assert len(data["sessions"]) == 2


def test_identical_consecutive_pages_are_flagged(tmp_path):
    outcome = run_scan(tmp_path / "b", ADF, max_pages=3)
    flags = [p["flags"] for p in outcome.added]
    assert flags[0] == [] and flags[1] == ["identical-to-previous:1"]


def test_cli_reports_a_jam_with_exit_code_and_what_to_do(tmp_path):
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "dossier_station.station", "scan", "--batch", str(tmp_path / "b"), "--device", "test:0", "--dpi", "75", "--mode", "gray",
           "--device-option", "read-return-value=SANE_STATUS_JAMMED"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 10, result.stderr
    assert "jam" in result.stderr and "--resume" in result.stderr and "Traceback" not in result.stderr


def test_a_mode_the_device_lacks_is_refused_with_what_it_offers(tmp_path):
    cmd = [sys.executable, "-m", "dossier_station.station", "scan", "--batch", str(tmp_path / "b"), "--device", "test:0", "--mode", "lineart"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "lineart" in result.stderr and "Gray" in result.stderr


def test_killed_scan_resumes_with_each_page_exactly_once(tmp_path):
    batch = tmp_path / "b"
    cmd = [sys.executable, "-m", "dossier_station.station", "scan", "--batch", str(batch), "--device", "test:0", "--dpi", "75", "--mode", "gray",
           "--device-option", "read-delay=yes", "--device-option", "read-delay-duration=50000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((batch / "pages").glob("*.png"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the station and its scanning worker, mid-page
    proc.wait()
    before = len(list((batch / "pages").glob("*.png")))
    assert 3 <= before < 10
    resume = subprocess.run([sys.executable, "-m", "dossier_station.station", "scan", "--resume", str(batch), "--device", "test:0", "--dpi", "75", "--mode", "gray"],
                            capture_output=True, text=True, timeout=120)
    assert resume.returncode == 0, resume.stderr
    data = json.loads((batch / "batch.json").read_text("utf-8"))
    seqs = [p["seq"] for p in data["pages"]]
    assert seqs == list(range(1, before + 11))  # every page once, numbering continued
    files = sorted(p.name for p in (batch / "pages").iterdir())
    assert files == [f"{s:04d}.png" for s in seqs]  # no half-written or unlisted files
    _hashes_match(batch)


def test_pnm_scans_a_real_page_with_its_separator_split(tmp_path, sample_dir):
    from dossier_station.assemble.case import Case, CaseFields, CatalogueRow
    from dossier_station.capture.separators import sheet_image
    from dossier_station.station.scan_batch import classify_pages

    pnm = tmp_path / "pnm"
    pnm.mkdir()
    names = []
    for i, im in enumerate([sheet_image("案1", 1, "开庭笔录", dpi=100), Image.open(sample_dir / "dev_002.jpg").reduce(3),
                            sheet_image("案1", 2, "起诉意见书", dpi=100), Image.open(sample_dir / "dev_009.jpg").reduce(3)]):
        path = pnm / f"{i}.pgm"
        im.convert("L").save(path)
        names.append(str(path))
    schedule = {i + 1: {"filename": name} for i, name in enumerate(names)}
    settings = ScanSettings(device="pnm:0", dpi=100, mode="gray", source="flatbed")
    outcome = run_scan(tmp_path / "b", settings, schedule=schedule, max_pages=4)
    assert len(outcome.added) == 4
    page = Image.open(tmp_path / "b" / outcome.added[1]["file"])
    assert page.size == Image.open(names[1]).size  # the document page arrived whole
    rows = [CatalogueRow(1, "开庭笔录", pages=1), CatalogueRow(2, "起诉意见书", pages=1)]
    batch = BatchFolder.open(tmp_path / "b")
    classify_pages(batch, Case(CaseFields(case_number="案1"), rows))
    data = json.loads((tmp_path / "b" / "batch.json").read_text("utf-8"))
    assert [p["role"] for p in data["pages"]] == ["separator", "page", "separator", "page"]
    assert data["documents"] == [{"row": 1, "pages": [2]}, {"row": 2, "pages": [4]}]
    wrong = [CatalogueRow(1, "开庭笔录", pages=2), CatalogueRow(2, "起诉意见书", pages=1)]
    for p in batch.pages:
        p["classified"] = False
    with pytest.raises(CaseFileError, match=r"row 1 \(开庭笔录\).*2 pages, 1 were scanned"):
        classify_pages(batch, Case(CaseFields(case_number="案1"), wrong))


def test_vendor_source_and_mode_strings_are_matched_by_pattern():
    offered = ["Flatbed", "ADF Front", "ADF Duplex"]
    assert pick_string("adf-duplex", SOURCE_PATTERNS, offered, "from source") == "ADF Duplex"
    assert pick_string("adf", SOURCE_PATTERNS, offered, "from source") == "ADF Front"
    assert pick_string("adf", SOURCE_PATTERNS, ["Automatic Document Feeder", "Flatbed"], "from source") == "Automatic Document Feeder"
    assert pick_string("color", MODE_PATTERNS, ["Lineart", "Gray", "Color"], "in mode") == "Color"
    assert pick_string("adf-duplex", SOURCE_PATTERNS, offered, "from source", exact="ADF Duplex") == "ADF Duplex"
    with pytest.raises(BadArgsError, match="it offers: Flatbed"):
        pick_string("adf", SOURCE_PATTERNS, ["Flatbed"], "from source")


def test_an_impossible_resolution_names_the_nearest_ones():
    with pytest.raises(BadArgsError) as err:
        pick_resolution(250, [75, 150, 200, 300, 600], fixed=False)
    assert "200" in str(err.value) and "300" in str(err.value)
    assert pick_resolution(300, (65536, 1200 * 65536, 65536), fixed=True) == 300 * 65536


def test_manual_duplex_interleaves_fronts_and_reversed_backs(tmp_path):
    from dossier_station.station.scan_batch import interleave_manual_duplex

    b = BatchFolder.create(tmp_path / "b", ADF)
    for seq in range(1, 7):
        b.pages.append({"seq": seq, "file": f"pages/{seq:04d}.png", "sha256": "", "side": "front", "role": "page", "flags": []})
    interleave_manual_duplex(b, 4)
    order = [p["seq"] for p in sorted(b.pages, key=lambda p: p["order"])]
    assert order == [1, 6, 2, 5, 3, 4]
    assert [p["side"] for p in sorted(b.pages, key=lambda p: p["order"])] == ["front", "back"] * 3


def test_a_scanner_that_disappears_mid_batch_is_an_error_not_a_hang(tmp_path):
    from dossier_station.core.errors import DeviceError
    from dossier_station.devices.scanner import ScanWorker

    slow = ScanSettings(device="test:0", dpi=75, mode="gray", source="adf",
                        extra=(("read-delay", "yes"), ("read-delay-duration", "100000")))
    BatchFolder.create(tmp_path / "b", slow)
    worker = ScanWorker(slow, tmp_path / "b", 1, timeout=10)
    started = time.monotonic()
    pages = 0
    with pytest.raises(DeviceError, match="stopped unexpectedly"):
        for msg in worker.messages():
            if msg[0] == "page":
                pages += 1
                if pages == 2:
                    os.kill(worker.process.pid, signal.SIGKILL)  # the driver process is gone
    assert time.monotonic() - started < 10


def test_blank_backs_in_duplex_are_set_aside_and_reported(tmp_path, sample_dir):
    from dossier_station.station.scan_batch import classify_pages

    b = BatchFolder.create(tmp_path / "b", ScanSettings(device="x", dpi=100, mode="gray", source="adf-duplex"))
    text = Image.open(sample_dir / "dev_002.jpg").reduce(3)
    blank = Image.open(sample_dir / "dev_007.jpg").reduce(3)
    for seq, (im, side) in enumerate([(text, "front"), (blank, "back"), (text, "front"), (text, "back")], start=1):
        path = tmp_path / "b" / "pages" / f"{seq:04d}.png"
        im.save(path)
        b.add({"seq": seq, "file": f"pages/{path.name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "side": side, "dpi": 100})
    counts = classify_pages(b)
    assert counts["blank_backs"] == 1
    assert [p["role"] for p in b.pages] == ["page", "blank", "page", "page"]
    assert b.pages[1]["ink_ratio"] < 0.002 and (tmp_path / "b" / b.pages[1]["file"]).exists()  # kept, not dropped


def test_separated_batch_builds_into_catalogue_rows(tmp_path, sample_dir):
    from dossier_station.assemble.case import Case, CaseFields, CatalogueRow
    from dossier_station.capture.separators import sheet_image
    from dossier_station.station.pipeline import BuildOptions, build_dossier
    from dossier_station.station.scan_batch import classify_pages

    b = BatchFolder.create(tmp_path / "b", ScanSettings(device="x", dpi=150, mode="gray", source="adf"))
    images = [sheet_image("案2", 1, "立案决定书"), Image.open(sample_dir / "dev_006.jpg").reduce(2),
              sheet_image("案2", 2, "起诉意见书"), Image.open(sample_dir / "dev_005.jpg").reduce(2)]
    for seq, im in enumerate(images, start=1):
        path = tmp_path / "b" / "pages" / f"{seq:04d}.png"
        im.convert("L").save(path, dpi=(150, 150))
        b.add({"seq": seq, "file": f"pages/{path.name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "side": "front", "dpi": 150})
    case_file = tmp_path / "case.toml"
    case_file.write_text('[case]\ncase_number = "案2"\n[[rows]]\ntitle = "立案决定书"\npages = 1\n[[rows]]\ntitle = "起诉意见书"\npages = 1\n', "utf-8")
    rows = [CatalogueRow(1, "立案决定书", pages=1), CatalogueRow(2, "起诉意见书", pages=1)]
    classify_pages(b, Case(CaseFields(case_number="案2"), rows))
    result = build_dossier(tmp_path / "b", case_file, tmp_path / "out", options=BuildOptions(jobs=2, attach=False))
    vol = result.report["volumes"][0]
    assert vol["numbered_pages"] == 2
    assert vol["rows"] == [{"seq": 1, "first": 1, "last": 1}, {"seq": 2, "first": 2, "last": 2}]
    assert [p["key"] for p in result.report["pages"]] == ["0002.png", "0004.png"]  # separators not in the dossier


def test_patch_t_sheets_split_documents_in_catalogue_order(tmp_path, sample_dir):
    from dossier_station.capture.patchcode import is_patch_t, patch_t_sheet
    from dossier_station.station.scan_batch import classify_pages

    sheet = patch_t_sheet(150)
    assert is_patch_t(sheet.rotate(3, fillcolor=255), 150)  # fed a little askew
    assert is_patch_t(sheet.rotate(180), 150)  # fed upside down (reads as patch 3)
    b = BatchFolder.create(tmp_path / "b", ScanSettings(device="x", dpi=150, mode="gray", source="adf"))
    text = Image.open(sample_dir / "dev_002.jpg").reduce(2)
    for seq, im in enumerate([sheet, text, sheet, text, text], start=1):
        path = tmp_path / "b" / "pages" / f"{seq:04d}.png"
        im.convert("L").save(path)
        b.add({"seq": seq, "file": f"pages/{path.name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "side": "front", "dpi": 150})
    assert classify_pages(b)["separators"] == 2
    assert b.data["documents"] == [{"row": 1, "pages": [2]}, {"row": 2, "pages": [4, 5]}]
    assert not is_patch_t(text, 150)  # text pages are not patches


def test_ctrl_c_stops_cleanly_keeping_pages_and_exits_130(tmp_path):
    batch = tmp_path / "b"
    cmd = [sys.executable, "-m", "dossier_station.station", "scan", "--batch", str(batch), "--device", "test:0", "--dpi", "75", "--mode", "gray",
           "--device-option", "read-delay=yes", "--device-option", "read-delay-duration=50000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((batch / "pages").glob("*.png"))) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    data = json.loads((batch / "batch.json").read_text("utf-8"))
    assert data["state"] == "stopped" and len(data["pages"]) >= 2
    assert "Traceback" not in err
    _hashes_match(batch)


def test_every_captured_page_enters_the_custody_journal(tmp_path):
    from dossier_station.core.journal import Journal

    journal_path = tmp_path / "journal.sqlite3"
    env = dict(os.environ, DOSSIER_JOURNAL=str(journal_path))
    cmd = [sys.executable, "-m", "dossier_station.station", "scan", "--batch", str(tmp_path / "b"), "--device", "test:0", "--dpi", "75", "--mode", "gray"]
    assert subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env).returncode == 0
    data = json.loads((tmp_path / "b" / "batch.json").read_text("utf-8"))
    with Journal(journal_path) as j:
        captures = {e["subject"]: e["sha256"] for e in j.recent(100) if e["kind"] == "capture"}
        assert j.verify().ok
    assert captures == {str((tmp_path / "b" / p["file"]).resolve()): p["sha256"] for p in data["pages"]}
