"""The ground floor's output helpers: atomic, verified writes and the folder lock."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from dossier_station.core.errors import BusyError, OutputError
from dossier_station.core.files import (
    AtomicOutput,
    place_all,
    sha256_file,
    write_bytes_atomic,
    write_json_atomic,
)
from dossier_station.core.locking import folder_lock


def test_written_file_hash_is_the_hash_of_the_bytes_on_disk(tmp_path: Path):
    res = write_bytes_atomic(tmp_path / "a.bin", b"evidence")
    assert res.sha256 == sha256_file(tmp_path / "a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"evidence"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]  # no temporary left


def test_failed_verification_keeps_the_existing_good_file(tmp_path: Path):
    final = tmp_path / "v.pdf"
    final.write_bytes(b"good")

    def refuse(_: Path) -> None:
        raise OutputError("bad")

    with pytest.raises(OutputError), AtomicOutput(final, verify=refuse) as tmp:
        tmp.write_bytes(b"broken")
    assert final.read_bytes() == b"good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.pdf"]


def test_exception_while_writing_leaves_no_temporary(tmp_path: Path):
    with pytest.raises(RuntimeError), AtomicOutput(tmp_path / "x.json") as tmp:
        tmp.write_bytes(b"{")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_place_all_puts_every_file_or_none(tmp_path: Path):
    outs = [AtomicOutput(tmp_path / f"{i}.txt", place=False) for i in range(3)]
    for o in outs:
        with o as tmp:
            tmp.write_text("x")
    assert not any((tmp_path / f"{i}.txt").exists() for i in range(3))
    place_all(outs)
    assert all((tmp_path / f"{i}.txt").exists() for i in range(3))


def test_json_written_is_read_back(tmp_path: Path):
    write_json_atomic(tmp_path / "r.json", {"题名": "起诉意见书"})
    assert "起诉意见书" in (tmp_path / "r.json").read_text("utf-8")


def _hold(folder: str, ready, release) -> None:  # type: ignore[no-untyped-def]
    with folder_lock(folder, "build"):
        ready.set()
        release.wait(10)


def test_second_holder_is_refused_and_told_which_process_holds_the_folder(tmp_path: Path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(BusyError) as err, folder_lock(tmp_path, "build"):
            pass
        assert f"process {proc.pid}" in str(err.value)
    finally:
        release.set()
        proc.join(10)
    with folder_lock(tmp_path, "build"):  # free again once the holder ended
        pass


def test_lock_of_a_killed_holder_is_released_by_the_kernel(tmp_path: Path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    proc.start()
    assert ready.wait(20)
    os.kill(proc.pid, 9)
    proc.join(10)
    start = time.monotonic()
    with folder_lock(tmp_path, "build", wait=5):
        assert time.monotonic() - start < 5


def test_an_undone_placement_puts_back_the_files_it_replaced(tmp_path: Path):
    (tmp_path / "v.pdf").write_bytes(b"old volume")
    outs = [AtomicOutput(tmp_path / "v.pdf", place=False), AtomicOutput(tmp_path / "r.json", place=False)]
    for o, data in zip(outs, (b"new volume", b"{}"), strict=True):
        with o as tmp:
            tmp.write_bytes(data)
    placement = place_all(outs, hold=True)
    assert (tmp_path / "v.pdf").read_bytes() == b"new volume"
    placement.undo()
    assert (tmp_path / "v.pdf").read_bytes() == b"old volume"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.pdf"]


def test_a_committed_placement_keeps_no_backup(tmp_path: Path):
    (tmp_path / "v.pdf").write_bytes(b"old")
    out = AtomicOutput(tmp_path / "v.pdf", place=False)
    with out as tmp:
        tmp.write_bytes(b"new")
    place_all([out], hold=True).commit()
    assert [p.name for p in tmp_path.iterdir()] == ["v.pdf"] and (tmp_path / "v.pdf").read_bytes() == b"new"


def test_a_copy_that_does_not_hash_as_recorded_replaces_nothing(tmp_path: Path):
    from dossier_station.core.files import HashMismatchError, copy_atomic

    src, final = tmp_path / "scan.jpg", tmp_path / "aside" / "scan.jpg"
    src.write_bytes(b"page as captured")
    final.parent.mkdir()
    final.write_bytes(b"earlier copy")
    with pytest.raises(HashMismatchError):
        copy_atomic(src, final, expected_sha256="0" * 64)
    assert final.read_bytes() == b"earlier copy"
    assert [p.name for p in final.parent.iterdir()] == ["scan.jpg"]


def test_temporaries_can_live_in_a_work_folder_and_carry_the_process_id(tmp_path: Path):
    from dossier_station.core.files import pid_of_temporary

    work = tmp_path / ".work-1-x"
    work.mkdir()
    out = AtomicOutput(tmp_path / "v.pdf", tmp_dir=work)
    with out as tmp:
        assert tmp.parent == work and pid_of_temporary(tmp.name) == os.getpid()
        tmp.write_bytes(b"%PDF-")
    assert (tmp_path / "v.pdf").exists() and list(work.iterdir()) == []
    assert pid_of_temporary(".work-123-abc") == 123 and pid_of_temporary("v.pdf") is None


@pytest.mark.parametrize("make_parents", [True, False])
def test_a_file_target_under_a_file_or_a_folder_is_a_clear_error(tmp_path: Path, make_parents: bool):
    from dossier_station.core.errors import FileAccessError

    (tmp_path / "f").write_text("x")
    for target in (tmp_path / "f" / "out.pdf", tmp_path):
        with pytest.raises(FileAccessError), AtomicOutput(target, make_parents=make_parents) as tmp:
            tmp.write_bytes(b"never")
    if not make_parents:
        with pytest.raises(FileAccessError, match="does not exist"), AtomicOutput(tmp_path / "no" / "x.pdf", make_parents=False) as tmp:
            tmp.write_bytes(b"never")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_truncated_pdf_fails_verification(tmp_path: Path):
    import pikepdf

    from dossier_station.core.pdfcheck import check_pdf

    good = tmp_path / "g.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.add_blank_page()
    pdf.save(good)
    check_pdf(good, pages=2)
    with pytest.raises(OutputError, match="pages"):
        check_pdf(good, pages=3)
    cut = tmp_path / "c.pdf"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(OutputError, match="cut short"):
        check_pdf(cut)


def _contend(folder: str, rounds: int) -> None:
    inside = Path(folder) / "inside"
    for _ in range(rounds):
        with folder_lock(folder, "build", wait=30):
            fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if another holder is inside
            os.close(fd)
            time.sleep(0.002)
            os.unlink(inside)


def test_the_lock_excludes_every_other_holder_and_leaves_no_file(tmp_path: Path):
    """Four processes take the lock 25 times each, waiting for one another: never two inside,
    and the lock file (removed at every release) is gone at the end. (The rarer race — locking
    a file its holder has just removed — cannot be provoked on demand; the lock re-checks the
    inode after locking for it.)"""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_contend, args=(str(tmp_path), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    assert list(tmp_path.iterdir()) == []
