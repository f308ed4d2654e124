"""Mirrors (互为镜像): copies written atomically and checked by hash, an offline mirror queued and
retried, a corrupted or missing copy found and repaired from a copy whose hash the journal
names. Real folders and files; "offline" is a mirror folder that does not exist (an unmounted
share looks exactly like that to the station)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dossier_station.core.custody import CustodySettings
from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Journal, set_station_identity
from dossier_station.station.mirror import check_mirrors, mirror_outputs

WHO = {"station": "test-station-1", "operator": "孙洋"}


@pytest.fixture
def station(tmp_path, monkeypatch):
    monkeypatch.delenv("DOSSIER_PROFILE", raising=False)
    monkeypatch.setattr("dossier_station.core.profile.LOADED", [])  # no profile read by an earlier test
    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "journal.sqlite3"))
    set_station_identity(WHO)
    out = tmp_path / "out"
    out.mkdir()
    files = []
    with Journal() as j:
        for name, body in (("（2024）沪0101刑初256号.pdf", b"%PDF-1.7 volume one " * 500), ("x.report.json", b'{"ok": true}')):
            p = out / name
            p.write_bytes(body)
            j.record("assembled", str(p.resolve()), sha256_file(p))
            files.append(p)
    yield out, files
    set_station_identity(None)


def _settings(*mirrors):
    return CustodySettings("test-station-1", "孙洋", mirrors=tuple(mirrors))


def test_outputs_are_copied_to_every_mirror_and_recorded(station, tmp_path):
    out, files = station
    m1, m2 = tmp_path / "m1", tmp_path / "m2"
    m1.mkdir()
    m2.mkdir()
    with Journal() as j:
        results = mirror_outputs(files, out, _settings(m1, m2), j)
        mirrored = [e for e in j.events() if e["kind"] == "mirrored"]
    assert [r["state"] for r in results] == ["copied"] * 4
    for m in (m1, m2):
        for f in files:
            assert (m / "out" / f.name).read_bytes() == f.read_bytes()
    assert len(mirrored) == 4 and all(e["sha256"] == sha256_file(e["subject"]) for e in mirrored)
    assert not list(m1.rglob("*.tmp"))


def test_a_corrupted_copy_is_found_and_repaired_from_a_good_one(station, tmp_path):
    out, files = station
    m1, m2 = tmp_path / "m1", tmp_path / "m2"
    m1.mkdir()
    m2.mkdir()
    settings = _settings(m1, m2)
    with Journal() as j:
        mirror_outputs(files, out, settings, j)
    bad = m1 / "out" / files[0].name
    data = bytearray(bad.read_bytes())
    data[100] ^= 0x20
    bad.write_bytes(bytes(data))
    files[0].write_bytes(b"the original was damaged too")  # so the repair must come from the other mirror
    (m2 / "out" / files[1].name).unlink()
    with Journal() as j:
        found = check_mirrors(j, settings)
        assert not found.ok
        assert {(p["target"], p["state"]) for p in found.problems} == {(str(bad), "diverging"), (str(m2 / "out" / files[1].name), "missing")}
        fixed = check_mirrors(j, settings, repair=True)
        assert all(p["repaired"] for p in fixed.problems)
        assert next(p for p in fixed.problems if p["state"] == "diverging")["from"] == str(m2 / "out" / files[0].name)
        assert check_mirrors(j, settings).ok
        repairs = [e["detail"]["action"] for e in j.events() if e["kind"] == "mirrored" and e["detail"]["action"].startswith("repair")]
        assert sorted(repairs) == ["repair (diverging)", "repair (missing)"]
        assert j.verify().ok
    assert sha256_file(bad) == sha256_file(m2 / "out" / files[0].name)


def test_a_copy_nobody_can_vouch_for_is_reported_not_repaired(station, tmp_path):
    out, files = station
    m1 = tmp_path / "m1"
    m1.mkdir()
    settings = _settings(m1)
    with Journal() as j:
        mirror_outputs(files[:1], out, settings, j)
    (m1 / "out" / files[0].name).write_bytes(b"replaced")
    files[0].write_bytes(b"also replaced")
    with Journal() as j:
        report = check_mirrors(j, settings, repair=True)
    assert not report.ok and "no copy with the journal's hash" in report.problems[0]["message"]
    assert (m1 / "out" / files[0].name).read_bytes() == b"replaced"  # left as found, for investigation


def test_an_offline_mirror_queues_the_copy_and_a_later_check_completes_it(station, tmp_path, monkeypatch):
    out, files = station
    m1, offline = tmp_path / "m1", tmp_path / "nas-not-mounted"
    m1.mkdir()
    settings = _settings(m1, offline)
    with Journal() as j:
        results = mirror_outputs(files, out, settings, j)
    assert [r["state"] for r in results] == ["copied", "queued", "copied", "queued"]
    assert not offline.exists()  # never created: that would put the "mirror" on the local disk
    profile = tmp_path / "station.toml"
    profile.write_text(f"[custody]\nmirrors = [{json.dumps(str(m1))}, {json.dumps(str(offline))}]\n", "utf-8")
    cmd = [sys.executable, "-m", "dossier_station.station", "mirror", "check", "--profile", str(profile)]
    pending = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert pending.returncode == 4
    assert len(json.loads(pending.stdout)["pending"]) == 2
    offline.mkdir()  # the share is mounted again
    repaired = subprocess.run([*cmd, "--repair"], capture_output=True, text=True, timeout=120)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "2 repaired, 0 pending" in repaired.stdout
    for f in files:
        assert (offline / "out" / f.name).read_bytes() == f.read_bytes()
    assert subprocess.run(cmd, capture_output=True, text=True, timeout=120).returncode == 0


def test_a_file_that_differs_from_the_journal_is_not_mirrored(station, tmp_path):
    out, files = station
    m1 = tmp_path / "m1"
    m1.mkdir()
    files[0].write_bytes(b"changed after the build")
    with Journal() as j:
        results = mirror_outputs(files[:1], out, _settings(m1), j)
    assert results[0]["state"] == "refused" and not (m1 / "out" / files[0].name).exists()


def test_a_running_station_retries_queued_copies_by_itself(station, tmp_path):
    import time

    from dossier_station.station.custody import AnchorTimer

    out, files = station
    offline = tmp_path / "nas"
    settings = _settings(offline)
    with Journal() as j:
        mirror_outputs(files, out, settings, j)
        assert len(j.pending_copies()) == 2
    with AnchorTimer(settings=settings, tick=0.2) as timer:
        time.sleep(0.5)
        offline.mkdir()  # the share comes back while the station runs
        deadline = time.monotonic() + 30
        while timer.copies_retried < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert timer.copies_retried == 2, timer.last_error
    with Journal() as j:
        assert not j.pending_copies() and check_mirrors(j, settings).ok


def test_a_volume_sealed_in_place_is_mirrored_again(station, tmp_path):
    out, files = station
    m1 = tmp_path / "m1"
    m1.mkdir()
    settings = _settings(m1)
    with Journal() as j:
        mirror_outputs(files[:1], out, settings, j)
        files[0].write_bytes(files[0].read_bytes() + b"\n% sealed (incremental update)")
        j.record("seal", str(files[0].resolve()), sha256_file(files[0]), source_sha256="0" * 64)  # as build --seal does
        mirror_outputs(files[:1], out, settings, j)
        assert check_mirrors(j, settings).ok
    assert (m1 / "out" / files[0].name).read_bytes() == files[0].read_bytes()
