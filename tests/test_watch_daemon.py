"""``dossier watch`` as a real process on real files: bursts, SIGKILL at random moments and
restart, a slow writer, polling without inotify, SIGTERM, duplicates, status.

The watcher's own behaviour is the point, so most tests hand it the checksum-only job
(``--job checksum``: no OCR); the build job is exercised by test_watch_build.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

PY = sys.executable


def watch_cmd(hot: Path, out: Path, *extra: str) -> list[str]:
    return [PY, "-m", "dossier_station.station", "watch", str(hot), "-o", str(out), "--job", "checksum", *extra]


def start(hot: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(watch_cmd(hot, out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def once(hot: Path, out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(watch_cmd(hot, out, "--once", *extra), capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})})


def starts(out: Path) -> int:
    log = out / "watch-log.jsonl"
    return log.read_text("utf-8").count('"event": "start"') if log.exists() else 0


def wait_started(out: Path, proc: subprocess.Popen, before: int = 0, timeout: float = 30) -> None:
    """Until the daemon has recovered and is looking (one more "start" line in the log)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if starts(out) > before:
            time.sleep(0.3)  # the event watcher's own start
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    raise AssertionError("the daemon did not start")


def drop(hot: Path, n: int, prefix: str = "f", empty_every: int = 0) -> dict[str, str]:
    """n unique small files (every ``empty_every``-th zero bytes); returns name → sha256."""
    made = {}
    for i in range(n):
        data = b"" if empty_every and i % empty_every == 0 else f"{prefix}{i} {os.urandom(8).hex()}\n".encode()
        tmp = hot / f".{prefix}{i:04d}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, hot / f"{prefix}{i:04d}.pdf")
        made[f"{prefix}{i:04d}.pdf"] = hashlib.sha256(data).hexdigest()
    return made


def outcomes(out: Path) -> dict[str, list[tuple[str, Path]]]:
    """input file name → [(done|failed, outcome folder)], read from the outcome folders themselves."""
    found: dict[str, list[tuple[str, Path]]] = {}
    for kind in ("done", "failed"):
        for job in sorted((out / kind).iterdir()) if (out / kind).is_dir() else []:
            for f in (job / "input").iterdir():
                found.setdefault(f.name, []).append((kind, job))
    return found


def assert_exactly_once(hot: Path, out: Path, made: dict[str, str]) -> dict[str, str]:
    """Every file ended in exactly one of done/failed, whole; nothing left behind; state agrees."""
    found = outcomes(out)
    assert sorted(found) == sorted(made), f"lost: {sorted(set(made) - set(found))[:5]}, extra: {sorted(set(found) - set(made))[:5]}"
    twice = {n: v for n, v in found.items() if len(v) != 1}
    assert not twice, f"filed more than once: {list(twice.items())[:3]}"
    result = {}
    for name, [(kind, job)] in found.items():
        data = (job / "input" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == made[name], f"{name}: bytes changed"
        record = json.loads((job / "job.json").read_text("utf-8"))
        assert record["outcome"] == kind and record["name"] == name
        if kind == "failed":
            assert (job / "error.txt").read_text("utf-8").startswith("What was wrong:")
        result[name] = kind
    assert [p.name for p in hot.iterdir() if p.name != ".dossier-watch"] == []
    assert list((hot / ".dossier-watch" / "processing").iterdir()) == []
    assert list((out / ".dossier-watch" / "staging").iterdir()) == []
    for kind in ("done", "failed"):
        assert all(any(d.iterdir()) for d in (out / kind).iterdir()), "an empty reserved outcome folder was left"
    db = sqlite3.connect(out / ".dossier-watch" / "state.sqlite3")
    rows = db.execute("SELECT name, state, dest FROM jobs").fetchall()
    assert sorted(r[0] for r in rows) == sorted(made)
    assert all(state == result[name] and Path(dest).is_dir() for name, state, dest in rows)
    assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
    return result


@pytest.fixture
def folders(tmp_path):
    hot, out = tmp_path / "hot", tmp_path / "out"
    hot.mkdir()
    return hot, out


def test_a_burst_of_500_files_each_ends_in_exactly_one_of_done_or_failed(folders):
    hot, out = folders
    made = drop(hot, 500, empty_every=50)  # 10 zero-byte files among them
    run = once(hot, out, "--stable", "0.3", "--workers", "4")
    assert run.returncode == 0, run.stderr[-2000:]
    kinds = assert_exactly_once(hot, out, made)
    assert sum(k == "failed" for k in kinds.values()) == 10
    assert all(kinds[f"f{i:04d}.pdf"] == "failed" for i in range(0, 500, 50))
    reason = (out / "failed" / "f0000" / "error.txt").read_text("utf-8")
    assert "empty (0 bytes)" in reason and "What to do:" in reason
    checks = json.loads((out / "done" / "f0001" / "checksums.json").read_text("utf-8"))
    assert checks["files"]["f0001.pdf"] == made["f0001.pdf"]
    log = [json.loads(line) for line in (out / "watch-log.jsonl").read_text("utf-8").splitlines()]
    assert sum(e["event"] == "taken" for e in log) == 500 and sum(e["event"] in ("done", "failed") for e in log) == 500


@pytest.mark.parametrize("seed", [1, 2])  # ≥ 20 trials: bench/soak_watch.py
def test_sigkill_at_random_moments_then_restart_loses_and_duplicates_nothing(folders, seed):
    hot, out = folders
    rng = random.Random(seed)
    made = drop(hot, 40, empty_every=13)
    env = {"DOSSIER_WATCH_CHECKSUM_DELAY": "0.02"}
    for _ in range(2):
        before = starts(out)
        proc = start(hot, out, "--stable", "0.2", "--workers", "2", env=env)
        wait_started(out, proc, before)
        time.sleep(rng.uniform(0.0, 1.0))  # while jobs are being claimed, run and placed
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        made.update(drop(hot, 5, prefix=f"k{_}x"))  # files keep arriving between crashes
    run = once(hot, out, "--stable", "0.2", "--workers", "2", env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert_exactly_once(hot, out, made)


def test_a_slow_writer_is_not_taken_before_its_file_is_complete(folders):
    hot, out = folders
    proc = start(hot, out, "--stable", "1.0")
    try:
        wait_started(out, proc)
        chunk = os.urandom(1 << 20)
        h = hashlib.sha256()
        with open(hot / "big-scan.pdf", "wb") as f:
            for _ in range(8):  # 8 MiB over ~4 s, pauses shorter than the window
                f.write(chunk)
                f.flush()
                h.update(chunk)
                last_write = time.time()
                time.sleep(0.5)
        deadline = time.time() + 20
        while not (out / "done" / "big-scan" / "job.json").exists() and time.time() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    record = json.loads((out / "done" / "big-scan" / "job.json").read_text("utf-8"))
    assert record["sha256"] == h.hexdigest() and record["bytes"] == 8 << 20
    assert record["claimed"] >= last_write + 0.9  # not before a full window of silence after the last write


def test_polling_mode_finds_files_without_any_inotify_watch(folders):
    hot, out = folders
    proc = start(hot, out, "--poll", "0.3", "--stable", "0.3")
    try:
        wait_started(out, proc)
        fds = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
        assert not any("inotify" in fd for fd in fds), fds  # no event can reach it: only its own rescans
        made = drop(hot, 5, prefix="net")
        deadline = time.time() + 15
        while len(outcomes(out)) < 5 and time.time() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert_exactly_once(hot, out, made)


def test_sigterm_lets_the_job_in_hand_finish_and_exits_cleanly(folders):
    hot, out = folders
    proc = start(hot, out, "--stable", "0.2", env={"DOSSIER_WATCH_CHECKSUM_DELAY": "2"})
    try:
        wait_started(out, proc)
        made = drop(hot, 1, prefix="slow")
        deadline = time.time() + 10
        while not any((hot / ".dossier-watch" / "processing").iterdir()) and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert "done 1, failed 0" in proc.stderr.read()
    assert_exactly_once(hot, out, made)


def test_the_same_file_dropped_again_is_reported_as_a_duplicate_not_built_twice(folders):
    hot, out = folders
    (hot / "a.pdf").write_bytes(b"same bytes")
    assert once(hot, out, "--stable", "0.2").returncode == 0
    (hot / "again.pdf").write_bytes(b"same bytes")
    assert once(hot, out, "--stable", "0.2").returncode == 0
    error = (out / "failed" / "again" / "error.txt").read_text("utf-8")
    assert "duplicate of job" in error and "'a.pdf'" in error and str(out / "done" / "a") in error
    assert not (out / "failed" / "again" / "checksums.json").exists()
    status = subprocess.run([PY, "-m", "dossier_station.station", "watch", "status", "-o", str(out), "--json"], capture_output=True, text=True)
    folder = json.loads(status.stdout)["folders"][0]
    assert (folder["done"], folder["failed"], folder["queued"], folder["in_progress"]) == (1, 1, 0, [])
    assert "duplicate" in folder["last_errors"][0]["reason"]


def test_output_inside_the_hot_folder_is_refused_before_anything_moves(folders):
    hot, _ = folders
    (hot / "a.pdf").write_bytes(b"x")
    run = once(hot, hot / "out")
    assert run.returncode == 1 and "inside the hot folder" in run.stderr
    assert sorted(p.name for p in hot.iterdir()) == ["a.pdf"]


def test_a_second_output_folder_for_the_same_hot_folder_is_refused(folders):
    hot, out = folders
    assert once(hot, out, "--stable", "0.2").returncode == 0
    run = once(hot, out.parent / "other-out", "--stable", "0.2")
    assert run.returncode == 1 and "served with its state in" in run.stderr


def test_two_daemons_on_one_hot_folder_never_take_the_same_job(folders):
    hot, out = folders
    env = {"DOSSIER_WATCH_CHECKSUM_DELAY": "0.05"}
    procs = [start(hot, out, "--stable", "0.3", "--workers", "2", env=env) for _ in range(2)]
    try:
        for i, p in enumerate(procs):
            assert all(q.poll() is None for q in procs), [q.stderr.read() for q in procs if q.poll() is not None]
            wait_started(out, p, before=i)
        made = drop(hot, 100, prefix="two")
        deadline = time.time() + 60
        while len(outcomes(out)) < 100 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(timeout=30) for p in procs]
    errs = [p.stderr.read() for p in procs]
    assert codes == [0, 0], errs
    assert len(outcomes(out)) == 100, (sorted(p.name for p in hot.iterdir()), list((hot / ".dossier-watch" / "processing").iterdir()),
                                       [line for e in errs for line in e.splitlines() if " taken " not in line and " done " not in line])
    assert_exactly_once(hot, out, made)
    counts = [int(e.rsplit("done ", 1)[1].split(",")[0]) for e in errs]
    assert sum(counts) == 100 and all(c > 0 for c in counts), counts


def test_profile_folders_have_their_own_output_limits_and_mirrors(tmp_path):
    for d in ("scan-in", "agency-in"):
        (tmp_path / d).mkdir()
    profile = tmp_path / "station.toml"
    profile.write_text(
        '[watch]\nstable = 0.2\nmax_bytes = 100\n\n'
        '[[watch.folders]]\nname = "mfp"\nhot = "scan-in"\noutput = "out-mfp"\nmirrors = ["nas"]\n\n'
        '[[watch.folders]]\nhot = "agency-in"\noutput = "out-agency"\npoll = 0.2\nmax_bytes = 1000\n', "utf-8")
    (tmp_path / "scan-in" / "a.pdf").write_bytes(b"a" * 50)
    (tmp_path / "scan-in" / "big.pdf").write_bytes(b"b" * 500)
    (tmp_path / "agency-in" / "big.pdf").write_bytes(b"c" * 500)
    run = subprocess.run([PY, "-m", "dossier_station.station", "watch", "--profile", str(profile), "--once", "--job", "checksum"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out-mfp" / "done" / "a" / "input" / "a.pdf").is_file()
    assert "over this hot folder's limit of 100" in (tmp_path / "out-mfp" / "failed" / "big" / "error.txt").read_text("utf-8")
    assert (tmp_path / "out-agency" / "done" / "big" / "checksums.json").is_file()  # its own, larger limit
    assert (tmp_path / "nas" / "done" / "a" / "input" / "a.pdf").read_bytes() == b"a" * 50  # mirrored, verified copy
    status = subprocess.run([PY, "-m", "dossier_station.station", "watch", "status", "--profile", str(profile)],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert "mfp:" in status.stdout and "done 1, failed 1" in status.stdout and "(poll 0.2 s)" in status.stdout


@pytest.mark.skipif(not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tempfile.gettempdir()).st_dev,
                    reason="needs the hot folder on another filesystem than the output")
def test_inputs_are_copied_and_verified_when_hot_and_output_are_on_different_disks(tmp_path):
    hot = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="hot-"))
    try:
        made = drop(hot, 3, prefix="x")
        run = once(hot, tmp_path / "out", "--stable", "0.2")
        assert run.returncode == 0, run.stderr
        assert_exactly_once(hot, tmp_path / "out", made)
    finally:
        shutil.rmtree(hot, ignore_errors=True)


def test_a_job_still_running_after_the_grace_period_is_released_and_resumed_at_the_next_start(folders):
    hot, out = folders
    proc = start(hot, out, "--stable", "0.2", "--grace", "0.5", env={"DOSSIER_WATCH_CHECKSUM_DELAY": "5"})
    try:
        wait_started(out, proc)
        made = drop(hot, 1, prefix="long")
        deadline = time.time() + 10
        while not any((hot / ".dossier-watch" / "processing").iterdir()) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert "released 1" in proc.stderr.read()
    assert len(list((hot / ".dossier-watch" / "processing").iterdir())) == 1  # kept in hand, not lost, not back in HOT
    db = sqlite3.connect(out / ".dossier-watch" / "state.sqlite3")
    assert db.execute("SELECT state, attempts FROM jobs").fetchall() == [("claimed", 0)]  # a clean stop is no failed attempt
    assert once(hot, out, "--stable", "0.2").returncode == 0
    assert_exactly_once(hot, out, made)
