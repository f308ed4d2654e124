"""Fault injection: full disks, read-only disks, kills at random points, racing builds, a locked
journal. Whatever happens, a dossier the station leaves in place is whole, and is the file its
report and the journal name; nothing half-written looks finished; a rerun succeeds.

Real faults, not mocks: a small tmpfs that really fills up (we are root here and in CI), a
tmpfs remounted read-only, real signals to a real `dossier build -j 2`, two real processes.
Builds are small (2–3 reduced pages, tesseract): OCR is not what is tested.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from dossier_station.core.errors import ExitCode
from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Journal
from dossier_station.core.pdfcheck import check_pdf

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pages"
BUILD_TIMEOUT = 300


@pytest.fixture
def pages(tmp_path: Path) -> Path:
    """Two text pages and one blank page (set aside), at a third of the sample size."""
    folder = tmp_path / "pages"
    folder.mkdir()
    for i, name in enumerate(("dev_002.jpg", "dev_006.jpg", "dev_007.jpg"), start=1):
        Image.open(SAMPLES / name).reduce(3).save(folder / f"{i:04d}.jpg", quality=80, dpi=(100, 100))
    return folder


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


def build_cmd(pages: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dossier_station.station", "build", str(pages), "-o", str(out), "--engine", "tesseract", "-j", "2", *extra]


def run_build(pages: Path, out: Path, journal: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(build_cmd(pages, out, *extra), capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                          env={**os.environ, "DOSSIER_JOURNAL": str(journal), "COLUMNS": "200"})


class Started:
    """A build running in its own session; its output goes to files, not pipes, so an orphaned
    worker holding them open cannot hang the test."""

    def __init__(self, pages: Path, out: Path, journal: Path, logs: Path) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=logs, prefix="build-")
        os.close(fd)
        self.stdout_path, self.stderr_path = Path(name + ".out"), Path(name + ".err")
        with self.stdout_path.open("w") as so, self.stderr_path.open("w") as se:
            self.proc = subprocess.Popen(build_cmd(pages, out), stdout=so, stderr=se, text=True, start_new_session=True,
                                         env={**os.environ, "DOSSIER_JOURNAL": str(journal), "COLUMNS": "200"})
        self.pid = self.proc.pid

    def wait(self, timeout: float = BUILD_TIMEOUT) -> tuple[int, str, str]:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return code, self.stdout_path.read_text(), self.stderr_path.read_text()


def start_build(pages: Path, out: Path, journal: Path) -> Started:
    return Started(pages, out, journal, out.parent / "logs")


@contextlib.contextmanager
def tmpfs(size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A small real filesystem of its own. Skipped (with the reason) only where mounting is impossible."""
    where = Path(tempfile.mkdtemp(prefix="dossier-tmpfs-"))
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], capture_output=True, text=True)
    if result.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'mount failed'}): needs root with CAP_SYS_ADMIN")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem holding ``folder`` until ``leave`` bytes are free."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    filler = folder / "filler.bin"
    with filler.open("wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def visible(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if not any(part.startswith(".") for part in p.relative_to(out).parts))


def hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".dossier.lock")


def assert_consistent(out: Path, journal: Path) -> None:
    """Every volume in place is whole and is the file its report and the journal name; no
    other PDF is in place; the journal's chain verifies."""
    named: set[str] = set()
    with Journal(journal) as j:
        assert j.verify().ok, j.verify().summary()
        for report_path in out.glob("*.report.json"):
            report = json.loads(report_path.read_text("utf-8"))
            for vol in report["volumes"]:
                path = out / vol["file"]
                named.add(vol["file"])
                check_pdf(path, pages=vol["total_pages"])
                assert sha256_file(path) == vol["sha256"], f"{path.name}: hash differs from its report"
                rows = [e for e in j.events_about(str(path.resolve())) if e["kind"] == "build"]
                assert rows and rows[-1]["sha256"] == vol["sha256"], f"{path.name}: the journal names another file"
    stray = [p.name for p in out.glob("*.pdf") if p.name not in named]
    assert stray == [], f"PDFs in place that no report names: {stray}"
    assert not [n for n in visible(out) if n.endswith((".tmp", ".skeleton", ".images.json"))]


def session_processes(sid: int) -> list[int]:
    """Processes still alive in the build's session (its workers, if orphaned)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields after "comm)": state ppid pgrp session
            alive.append(int(stat.parent.name))
    return alive


# ---- full disk -------------------------------------------------------------------------------
def test_a_full_disk_never_replaces_a_good_dossier_or_reports_a_broken_one(pages, journal):
    with tmpfs("6m") as disk:
        out = disk / "out"
        good = run_build(pages, out, journal)
        assert good.returncode == 0, good.stderr
        assert_consistent(out, journal)
        before = {p.name: sha256_file(p) for p in out.glob("*.pdf")}
        # Rebuild with the disk nearly full, at two points: the page copies fail, or the volume
        # itself (the evidence copies fit, the volume does not).
        copies = sum(p.stat().st_size for p in pages.iterdir())
        for leave in (64 * 1024, copies + 96 * 1024):
            filler = fill(disk, leave)
            result = run_build(pages, out, journal)
            filler.unlink()
            said = " ".join(result.stderr.split())
            assert result.returncode == int(ExitCode.invalid_output_pdf), result.stdout + result.stderr
            assert "Traceback" not in said and "disk is full" in said, said
            assert "Dossier built" not in result.stdout
            assert {p.name: sha256_file(p) for p in out.glob("*.pdf")} == before  # the good one stayed
            assert hidden(out) == [], hidden(out)  # no temporaries, no work folder
            assert_consistent(out, journal)


def test_a_multi_volume_build_on_a_filling_disk_appears_whole_or_not_at_all(pages, journal):
    """Two volumes (--max-pages 1): the disk fills while volume 1, between the two, or while
    volume 2 is written — never does volume 1 appear without volume 2 and the report."""
    with tmpfs("8m") as disk:
        first = run_build(pages, disk / "measure", journal, "--max-pages", "1")
        assert first.returncode == 0, first.stderr
        v1, v2 = sorted(p.stat().st_size for p in (disk / "measure").glob("*.pdf"))
        subprocess.run(["rm", "-rf", str(disk / "measure")], check=True)
        copies = sum(p.stat().st_size for p in pages.iterdir())
        for leave in (copies + v1 // 2, copies + v1 + 48 * 1024, copies + v1 + v2 - 24 * 1024):
            out = disk / f"out-{leave}"
            filler = fill(disk, leave)
            result = run_build(pages, out, journal, "--max-pages", "1")
            filler.unlink()
            assert "Traceback" not in result.stderr, result.stderr
            if result.returncode == 0:
                assert len(list(out.glob("*.pdf"))) == 2
            else:
                assert result.returncode == int(ExitCode.invalid_output_pdf), result.stderr
                assert visible(out) == [] and hidden(out) == [], (leave, visible(out), hidden(out))
            assert_consistent(out, journal)


def test_a_first_build_onto_a_full_disk_leaves_nothing(pages, journal):
    with tmpfs("1m") as disk:
        out = disk / "out"
        out.mkdir()
        filler = fill(disk, 48 * 1024)
        result = run_build(pages, out, journal)
        filler.unlink()
        assert result.returncode in (int(ExitCode.invalid_output_pdf), int(ExitCode.file_access_error)), result.stderr
        assert "Traceback" not in result.stderr and "disk is full" in " ".join(result.stderr.split())
        assert visible(out) == [] and hidden(out) == []


# ---- read-only filesystem -----------------------------------------------------------------------
def test_a_read_only_filesystem_is_a_clear_error_and_touches_nothing(pages, journal):
    with tmpfs("1m") as disk:
        out = disk / "out"
        out.mkdir()
        (out / "old.pdf").write_bytes(b"%PDF-1.7 previous")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = run_build(pages, out, journal)
        said = " ".join(result.stderr.split())
        assert result.returncode == int(ExitCode.file_access_error), said
        assert "read-only" in said and "Traceback" not in said
        assert (out / "old.pdf").read_bytes() == b"%PDF-1.7 previous"


# ---- kills at random points ----------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_build_killed_at_a_random_point_leaves_no_finished_looking_file_and_reruns(tmp_path, pages, journal, sig):
    out = tmp_path / "out"
    seed = random.randrange(1 << 30)
    delay = random.Random(seed).uniform(0.0, 8.0)
    build = start_build(pages, out, journal)
    proc = build.proc
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(p.name.startswith(".work-") for p in out.iterdir())):
            assert proc.poll() is None, build.wait()
            assert time.monotonic() < deadline, "the build never started its work"
            time.sleep(0.05)
        time.sleep(delay)
        if sig == signal.SIGINT:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # Ctrl-C in a terminal reaches the whole group
        else:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
    finally:
        _, stdout, stderr = build.wait(120)
    where = f"(seed {seed}: signal after {delay:.2f} s)"
    # Workers die with their parent: none left behind for long.
    deadline = time.monotonic() + 5
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    orphans = session_processes(proc.pid)
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert orphans == [], f"worker processes outlived the build {where}"
    assert "Traceback" not in stderr, stderr
    if proc.returncode != 0:  # stopped before it finished: nothing may look finished
        assert not list(out.glob("*.pdf")) and not list(out.glob("*.report.json")), f"{visible(out)} {where}"
        if sig != signal.SIGKILL:
            assert hidden(out) == [], f"temporaries left after {sig.name} {where}"
            assert "work done so far is kept" not in stderr
    assert_consistent(out, journal)
    rerun = run_build(pages, out, journal)
    assert rerun.returncode == 0, rerun.stderr + where
    assert hidden(out) == [], f"the rerun left {hidden(out)} {where}"
    assert_consistent(out, journal)


# ---- concurrent builds ---------------------------------------------------------------------------
def test_two_builds_racing_into_one_folder_one_wins_and_the_other_names_it(tmp_path, pages, journal):
    out = tmp_path / "out"
    a, b = start_build(pages, out, journal), start_build(pages, out, journal)
    results = {}
    for p in (a, b):
        code, stdout, stderr = p.wait()
        results[p.pid] = (code, stdout, " ".join(stderr.split()))
    codes = sorted(r[0] for r in results.values())
    assert codes == [0, int(ExitCode.busy)], results
    winner = next(pid for pid, r in results.items() if r[0] == 0)
    loser = next(r for r in results.values() if r[0] != 0)
    assert f"process {winner}" in loser[2] and "Traceback" not in loser[2]
    assert_consistent(out, journal)
    with Journal(journal) as j:
        builds = [e for e in j.recent(100) if e["kind"] == "build"]
    assert len(builds) == len(list(out.glob("*.pdf")))  # one row per volume, not two


# ---- the journal locked by another process ---------------------------------------------------------
def test_a_journal_locked_while_the_build_runs_places_nothing(tmp_path, pages, journal):
    out = tmp_path / "out"
    Journal(journal).close()
    build = start_build(pages, out, journal)
    db = sqlite3.connect(journal, isolation_level=None, timeout=30)
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and any(p.name.startswith(".work-") for p in out.iterdir())):
            assert build.proc.poll() is None, build.wait()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.5)  # past the journal check at the start, well before the pages are done
        db.execute("BEGIN EXCLUSIVE")  # held by this (other) process until the build gives up
        code, stdout, stderr = build.wait()
    finally:
        build.wait(30)
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        db.close()
    said = " ".join(stderr.split())
    assert code == int(ExitCode.busy), said
    assert "journal" in said and "Traceback" not in said
    assert visible(out) == [] and hidden(out) == []
    assert_consistent(out, journal)
