"""The journal under faults: a kill mid-append, a lock held by another process, a damaged file,
a missing file given to --verify, edits that a clerk or an attacker might make. Real SQLite,
real processes; nothing mocked."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from dossier_station.core.errors import BusyError, FileAccessError
from dossier_station.core.journal import Journal, JournalDamagedError, set_station_identity

WHO = {"station": "test-station-1", "operator": "孙洋"}


@pytest.fixture(autouse=True)
def _no_process_identity(monkeypatch):
    monkeypatch.delenv("DOSSIER_PROFILE", raising=False)
    set_station_identity(None)
    monkeypatch.setattr("dossier_station.core.profile.LOADED", [])  # no profile read by an earlier test
    yield
    set_station_identity(None)


def _journal(path, n=5):
    with Journal(path, identity=WHO) as j:
        for i in range(n):
            j.record("captured", f"pages/{i:04d}.png", f"{i:064x}", dpi=300)


def _sql(path, *statements):
    db = sqlite3.connect(path)
    for s in statements:
        db.execute(*s) if isinstance(s, tuple) else db.execute(s)
    db.commit()
    db.close()


def test_events_carry_station_and_operator_from_the_profile(tmp_path, monkeypatch):
    profile = tmp_path / "station.toml"
    profile.write_text('[station]\nid = "沪一中院-扫描站-01"\noperator = "徐平"\n', "utf-8")
    monkeypatch.setenv("DOSSIER_PROFILE", str(profile))
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record("captured", "p1", "a" * 64)
        monkeypatch.setenv("DOSSIER_OPERATOR", "孙洋")  # the next shift
        with Journal(tmp_path / "j.sqlite3") as j2:
            j2.record("viewed", "p1", "a" * 64)
        events = j.events()
    assert [(e["station"], e["operator"]) for e in events] == [("沪一中院-扫描站-01", "徐平"), ("沪一中院-扫描站-01", "孙洋")]


def test_changing_the_recorded_operator_breaks_the_chain(tmp_path):
    path = tmp_path / "j.sqlite3"
    _journal(path)
    _sql(path, ("UPDATE events SET operator = ? WHERE id = 3", ("someone else",)))
    with Journal(path, identity=WHO) as j:
        v = j.verify()
    assert not v.ok and v.first_bad == 3 and v.problems[0].kind == "edited"


def test_swapped_entries_are_reported_as_reordered(tmp_path):
    path = tmp_path / "j.sqlite3"
    _journal(path)
    db = sqlite3.connect(path)
    cols = "time, kind, subject, sha256, detail, prev_hash, hash, station, operator, v"
    r2 = db.execute(f"SELECT {cols} FROM events WHERE id = 2").fetchone()
    r3 = db.execute(f"SELECT {cols} FROM events WHERE id = 3").fetchone()
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    db.execute(f"UPDATE events SET {sets} WHERE id = 2", r3)
    db.execute(f"UPDATE events SET {sets} WHERE id = 3", r2)
    db.commit()
    db.close()
    with Journal(path, identity=WHO) as j:
        v = j.verify()
    assert not v.ok
    assert {p.kind for p in v.problems} == {"reordered"}
    assert "out of order" in v.summary()


def test_a_deleted_middle_entry_is_named(tmp_path):
    path = tmp_path / "j.sqlite3"
    _journal(path)
    _sql(path, "DELETE FROM events WHERE id = 3")
    with Journal(path, identity=WHO) as j:
        v = j.verify()
    assert [p.kind for p in v.problems] == ["deleted"] and "entry 3 deleted" in v.problems[0].message


def test_journals_written_before_version_2_still_verify(tmp_path):
    """The first journal's rows (no station/operator, one-step hash) keep verifying after the upgrade."""
    from dossier_station.core.custody_chain import GENESIS, digest_v1

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,"
               " sha256 TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)")
    prev = GENESIS
    for i in range(3):
        h = digest_v1(prev, f"2026-01-0{i + 1}T00:00:00", "capture", f"p{i}", "b" * 64, "{}")
        db.execute("INSERT INTO events (time, kind, subject, sha256, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
                   (f"2026-01-0{i + 1}T00:00:00", "capture", f"p{i}", "b" * 64, "{}", prev, h))
        prev = h
    db.commit()
    db.close()
    with Journal(path, identity=WHO) as j:
        j.record("captured", "p3", "c" * 64)
        assert j.verify().ok and j.verify().entries == 4


def test_verify_of_a_missing_journal_is_an_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "journal.sqlite3"
    with pytest.raises(FileAccessError, match="no custody journal here"):
        Journal(missing, create=False)
    run = subprocess.run([sys.executable, "-m", "dossier_station.station", "journal", "--verify", "--path", str(missing)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 5, run.stderr
    assert "intact" not in run.stdout and "no custody journal here" in run.stderr
    assert not missing.exists() and not missing.parent.exists()


def test_a_damaged_journal_is_a_clear_error_with_what_to_do(tmp_path):
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"this is not an SQLite file, a disk returned garbage\n" * 200)
    before = path.read_bytes()
    with pytest.raises(JournalDamagedError) as err:
        Journal(path)
    assert "damaged" in str(err.value) and "do not delete it" in str(err.value)
    run = subprocess.run([sys.executable, "-m", "dossier_station.station", "custody", "verify", "--path", str(path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 5 and "Traceback" not in run.stderr and "damaged" in run.stderr
    assert path.read_bytes() == before  # evidence untouched


def test_a_truncated_journal_fails_the_preflight_check(tmp_path):
    path = tmp_path / "j.sqlite3"
    _journal(path, 200)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(JournalDamagedError):
        j = Journal(path, identity=WHO)
        try:
            j.check()
            j.verify()
        finally:
            j.close()


HOLD_LOCK = textwrap.dedent("""
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(60)
""")


def test_a_journal_locked_by_another_process_names_it(tmp_path):
    path = tmp_path / "j.sqlite3"
    _journal(path, 1)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(BusyError) as err:
            j = Journal(path, identity=WHO, busy_timeout=0.5)
            try:
                j.check()
                j.record("captured", "p", None)
            finally:
                j.close()
        assert time.monotonic() - started < 10
        assert f"pid {holder.pid}" in str(err.value)
        assert err.value.exit_code == 12
    finally:
        holder.kill()
        holder.wait()
    with Journal(path, identity=WHO) as j:  # released: the journal works again, nothing lost
        j.record("captured", "p", None)
        assert j.verify().ok and j.verify().entries == 2


APPEND_FOREVER = textwrap.dedent("""
    import sys
    from dossier_station.core.journal import Journal
    j = Journal(sys.argv[1], identity={"station": "s", "operator": "o"})
    i = 0
    while True:
        j.record("captured", f"pages/{i:06d}.png", f"{i:064x}", dpi=300, note="x" * 500)
        if i % 3 == 0:
            j.record_many([("processed", f"p{i}", None, {"n": k}) for k in range(5)])
        i += 1
        if i == 20:
            print("running", flush=True)
""")


@pytest.mark.parametrize("delay", [0.3, 1.1])
def test_the_chain_survives_a_kill_mid_append(tmp_path, delay):
    path = tmp_path / "j.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", APPEND_FOREVER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        time.sleep(delay)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Journal(path, identity=WHO) as j:
        j.check()
        v = j.verify()
        assert v.ok, v.summary()
        assert v.entries >= 20
        batches = [e for e in j.events() if e["kind"] == "processed"]
        assert len(batches) % 5 == 0  # a batch is all there or not at all
        j.record("captured", "after the crash", None)
        assert j.verify().ok
