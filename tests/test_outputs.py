"""Where outputs go: every bad output path is a clear error before any work, and nothing is left.

These run the real CLI; each case fails before the page stage, so no OCR runs. The builds that
do run (journal undo, changed input) use the writer on sample pages without OCR.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from dossier_station.core.errors import ExitCode

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "data" / "pages"


def dossier(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dossier_station.station", *args],
        capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})},
    )


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """Two small scans (a third of the sample's size: OCR is not the point here)."""
    folder = tmp_path / "pages"
    folder.mkdir()
    for i, name in enumerate(("dev_002.jpg", "dev_006.jpg"), start=1):
        im = Image.open(SAMPLES / name)
        im.reduce(3).save(folder / f"{i:04d}.jpg", quality=80, dpi=(100, 100))
    return folder


def assert_clear(result: subprocess.CompletedProcess[str], code: ExitCode, *words: str) -> None:
    assert result.returncode == int(code), result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    said = " ".join(result.stderr.split())  # the console wraps long lines
    for w in words:
        assert w in said, result.stderr


def assert_nothing_written(folder: Path) -> None:
    if folder.is_dir():
        left = [p.name for p in folder.rglob("*") if p.name != ".dossier.lock"]
        assert left == [], left


def test_output_naming_an_existing_file_is_refused(tmp_path, pages):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    assert_clear(dossier("build", str(pages), "-o", str(target)), ExitCode.file_access_error, "is a file, not a folder")
    assert target.read_text() == "keep me"


def test_output_under_a_file_is_refused(tmp_path, pages):
    (tmp_path / "f").write_text("x")
    assert_clear(dossier("build", str(pages), "-o", str(tmp_path / "f" / "out")), ExitCode.file_access_error, "which is a file")


@pytest.mark.parametrize("sub", [".", "out"])
def test_output_inside_the_pages_folder_is_refused(pages, sub):
    before = sorted(p.name for p in pages.iterdir())
    out = pages / sub
    assert_clear(dossier("build", str(pages), "-o", str(out)), ExitCode.bad_args, "inside the folder of pages")
    assert sorted(p.name for p in pages.iterdir()) == before


def test_output_folder_without_write_permission_is_refused(tmp_path, pages):
    """Root writes anywhere, so the build runs without the capabilities that let it (setpriv)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the build without permission overrides")
    out = tmp_path / "locked"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", sys.executable, "-m", "dossier_station.station",
             "build", str(pages), "-o", str(out), "--engine", "tesseract"],
            capture_output=True, text=True, timeout=180,
        )
        assert_clear(result, ExitCode.file_access_error, "no permission")
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_separator_output_naming_a_folder_or_a_missing_parent_is_refused(tmp_path):
    case = REPO / "examples" / "case.toml"
    assert_clear(dossier("separator", "--case", str(case), "-o", str(tmp_path)), ExitCode.file_access_error, "is a folder")
    assert_clear(dossier("separator", "--case", str(case), "-o", str(tmp_path / "no" / "s.pdf")), ExitCode.file_access_error, "does not exist")
    assert_clear(dossier("separator", "--patch-t", "-o", str(tmp_path / "no" / "t.pdf")), ExitCode.file_access_error, "does not exist")
    assert list(tmp_path.iterdir()) == []  # no out.tmp, no folder made


def test_separator_sheets_are_written_whole(tmp_path):
    import pikepdf

    out = tmp_path / "s.pdf"
    result = dossier("separator", "--case", str(REPO / "examples" / "case.toml"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    with pikepdf.open(out) as pdf:
        assert len(pdf.pages) >= 1
    assert [p.name for p in tmp_path.iterdir()] == ["s.pdf"]


def test_scan_batch_naming_a_regular_file_is_refused(tmp_path):
    f = tmp_path / "batch"
    f.write_text("not a folder")
    assert_clear(dossier("scan", "--batch", str(f), "--device", "test:0"), ExitCode.file_access_error, "is a file")
    assert f.read_text() == "not a folder"


def test_a_second_build_into_a_locked_folder_names_the_holder(tmp_path, pages):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from dossier_station.core.locking import folder_lock\n"
         "with folder_lock(sys.argv[1], 'build'):\n    print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = dossier("build", str(pages), "-o", str(out), "--engine", "tesseract")
        assert_clear(result, ExitCode.busy, f"process {holder.pid}")
        assert [p.name for p in out.iterdir()] == [".dossier.lock"]
    finally:
        holder.kill()
        holder.wait()


def test_a_locked_journal_stops_the_build_before_any_work(tmp_path, pages):
    journal = tmp_path / "j.sqlite3"
    from dossier_station.core.journal import Journal

    Journal(journal).close()
    db = sqlite3.connect(journal, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    try:
        out = tmp_path / "out"
        result = dossier("build", str(pages), "-o", str(out), "--engine", "tesseract", env={"DOSSIER_JOURNAL": str(journal)})
        assert_clear(result, ExitCode.busy, "journal")
        assert "OCR" not in result.stdout  # stopped before the page stage
        assert_nothing_written(out)
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_a_damaged_journal_stops_the_build_before_any_work(tmp_path, pages):
    journal = tmp_path / "j.sqlite3"
    journal.write_bytes(b"SQLite format 3\0" + b"\xff" * 4000)
    out = tmp_path / "out"
    result = dossier("build", str(pages), "-o", str(out), "--engine", "tesseract", env={"DOSSIER_JOURNAL": str(journal)})
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "journal" in result.stderr
    assert_nothing_written(out)


def test_leftovers_of_a_killed_build_are_cleared_by_the_next(tmp_path):
    from dossier_station.core.files import remove_stale_temporaries

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".work-{dead.pid}-abc").mkdir()
    (tmp_path / f".work-{dead.pid}-abc" / "0001.g4").write_bytes(b"x")
    (tmp_path / f".v.pdf.{dead.pid}.tmp").write_bytes(b"%PDF-")
    (tmp_path / f".v.pdf.skeleton.{dead.pid}.tmp").write_bytes(b"%PDF-")
    mine = tmp_path / f".v.pdf.{os.getpid()}.tmp"  # a live process's temporary is left alone
    mine.write_bytes(b"%PDF-")
    (tmp_path / "keep.pdf").write_bytes(b"%PDF-")
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "keep.pdf"])


def _session_with_outputs(out: Path, volume: bytes, report: dict):  # type: ignore[no-untyped-def]
    from dossier_station.station.build_outputs import BuildSession

    session = BuildSession(out)
    session.__enter__()
    vol = session.output(out / "v.pdf")
    with vol as tmp:
        tmp.write_bytes(volume)
    session.write_report(out / "v.report.json", report)
    return session, vol


def test_a_journal_that_refuses_the_done_record_undoes_the_placing(tmp_path, monkeypatch):
    """Intent recorded, files placed, then the journal is locked by another process: the new
    files are taken back and the previous dossier is where it was."""
    journal = tmp_path / "j.sqlite3"
    monkeypatch.setenv("DOSSIER_JOURNAL", str(journal))
    out = tmp_path / "out"
    out.mkdir()
    (out / "v.pdf").write_bytes(b"previous good volume")
    (out / "v.report.json").write_text('{"previous": true}')
    session, vol = _session_with_outputs(out, b"new volume", {"new": True})
    other = sqlite3.connect(journal, isolation_level=None)
    real_record = session.journal.record

    def record_then_lock(*args, **kwargs):  # type: ignore[no-untyped-def]
        row = real_record(*args, **kwargs)
        other.execute("BEGIN EXCLUSIVE")  # another process takes the journal right after the intent
        return row

    session.journal.record = record_then_lock
    from dossier_station.core.errors import BusyError

    try:
        with pytest.raises(BusyError):
            session.commit([("build", str(out / "v.pdf"), vol.result.sha256, {"volume": 1})])
    finally:
        other.execute("ROLLBACK")
        other.close()
        session.__exit__(None, None, None)
    assert (out / "v.pdf").read_bytes() == b"previous good volume"
    assert (out / "v.report.json").read_text() == '{"previous": true}'
    assert sorted(p.name for p in out.iterdir()) == ["v.pdf", "v.report.json"]


def test_a_committed_build_is_journaled_with_the_hash_of_the_bytes_in_place(tmp_path, monkeypatch):
    from dossier_station.core.files import sha256_file
    from dossier_station.core.journal import Journal

    journal = tmp_path / "j.sqlite3"
    monkeypatch.setenv("DOSSIER_JOURNAL", str(journal))
    out = tmp_path / "out"
    session, vol = _session_with_outputs(out, b"volume bytes", {"r": 1})
    try:
        session.commit([("build", str((out / "v.pdf").resolve()), vol.result.sha256, {"volume": 1})])
    finally:
        session.__exit__(None, None, None)
    with Journal(journal) as j:
        events = j.recent(10)
        assert j.verify().ok
    kinds = [e["kind"] for e in events]
    assert kinds.index("build-intent") < kinds.index("build")
    build = next(e for e in events if e["kind"] == "build")
    assert build["sha256"] == sha256_file(out / "v.pdf")
    assert not [p for p in out.iterdir() if p.name.startswith(".work-")]


def _outcome(src: Path):  # type: ignore[no-untyped-def]
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).parent))
    from assemble_helpers import spec_from_sample

    from dossier_station.core.files import sha256_file
    from dossier_station.ocr.page import PageOutcome

    spec = spec_from_sample(SAMPLES / "dev_002.jpg")
    spec = spec.__class__(**{**spec.__dict__, "image": spec.image.__class__(**{**spec.image.__dict__, "data_path": src}), "source": str(src)})
    return PageOutcome(key=src.name, source=str(src), page_in_file=1, sha256=sha256_file(src), dpi=300, blank=False,
                       ink_ratio=0.1, colour="gray", spec=spec)


def test_a_passed_through_scan_is_embedded_from_a_copy_of_the_hashed_bytes(tmp_path, monkeypatch):
    from dossier_station.core.files import sha256_file
    from dossier_station.station.build_outputs import BuildSession

    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "j.sqlite3"))
    src = tmp_path / "scan.jpg"
    src.write_bytes((SAMPLES / "dev_002.jpg").read_bytes())
    outcome = _outcome(src)
    with BuildSession(tmp_path / "out") as session:
        session.embed_hashed_bytes([outcome])
        embedded = outcome.spec.image.data_path
        assert embedded.parent == session.work and sha256_file(embedded) == outcome.sha256
        src.write_bytes(b"changed after the build copied it")  # later changes cannot reach the volume
        assert sha256_file(embedded) == outcome.sha256


def test_an_input_changed_after_it_was_hashed_stops_the_build(tmp_path, monkeypatch):
    from dossier_station.core.errors import InputFileError
    from dossier_station.station.build_outputs import BuildSession

    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "j.sqlite3"))
    src = tmp_path / "scan.jpg"
    src.write_bytes((SAMPLES / "dev_002.jpg").read_bytes())
    outcome = _outcome(src)
    with src.open("r+b") as f:  # the scan is edited between hashing and writing the volume
        f.seek(1000)
        f.write(b"\0\0\0\0")
    with pytest.raises(InputFileError, match="changed during the build"), BuildSession(tmp_path / "out") as session:
        session.embed_hashed_bytes([outcome])
    assert list((tmp_path / "out").iterdir()) == []


def test_a_multi_volume_build_whose_second_volume_fails_places_no_volume(tmp_path, monkeypatch):
    """Volume 1 written and verified, volume 2 fails: neither appears (nor a report)."""
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).parent))
    from assemble_helpers import spec_from_sample

    from dossier_station.assemble.case import Case, CaseFields, CatalogueRow
    from dossier_station.assemble.writer import write_volume
    from dossier_station.core.errors import OutputError
    from dossier_station.station.build_outputs import BuildSession

    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "j.sqlite3"))
    spec = spec_from_sample(SAMPLES / "dev_002.jpg")
    gone = spec.__class__(**{**spec.__dict__, "image": spec.image.__class__(**{**spec.image.__dict__, "data_path": tmp_path / "gone.jpg"})})
    row = CatalogueRow(1, "询问笔录")
    case = Case(CaseFields(case_name="测试案"), [row])
    out = tmp_path / "out"
    with pytest.raises(OutputError), BuildSession(out) as session:
        write_volume(case, [(row, [spec])], 1, 2, out / "v-1.pdf", output=session.output(out / "v-1.pdf"), work_dir=session.work)
        write_volume(case, [(row, [gone])], 2, 2, out / "v-2.pdf", output=session.output(out / "v-2.pdf"), work_dir=session.work)
    assert list(out.iterdir()) == []
