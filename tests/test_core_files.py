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
