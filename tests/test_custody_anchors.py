"""Anchors: the journal's head timestamped by a real RFC 3161 TSA (certomancer's animator over
HTTP on 127.0.0.1), so a history rewritten consistently afterwards is caught."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from custody_tsa.server import free_port, start_tsa
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_station.core.custody import (
    CustodyError,
    CustodySettings,
    parse_history,
    parse_manifest,
)
from dossier_station.core.custody_chain import GENESIS, content_hash, link_hash
from dossier_station.core.journal import Journal, set_station_identity
from dossier_station.station.custody import AnchorTimer, after_build, anchor_now
from dossier_station.station.custody_verify import verify_custody

WHO = {"station": "test-station-1", "operator": "孙洋"}


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    server = start_tsa(tmp_path_factory.mktemp("tsa"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def station(tmp_path, monkeypatch, tsa):
    monkeypatch.delenv("DOSSIER_PROFILE", raising=False)
    monkeypatch.setattr("dossier_station.core.profile.LOADED", [])  # no profile read by an earlier test
    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "journal.sqlite3"))
    set_station_identity(WHO)
    yield CustodySettings("test-station-1", "孙洋", tsa_url=tsa.url, tsa_trust=tsa.root_pem)
    set_station_identity(None)


def _fill(n=6):
    with Journal() as j:
        for i in range(n):
            j.record("captured", f"/scan/b/pages/{i:04d}.png", f"{i:064x}", device="test:0", dpi=300)


def _rewrite(path, change, *, drop_kinds=(), shift=timedelta(0)):
    """What an attacker with the file does: change history and recompute every hash to match."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT id, time, kind, subject, sha256, detail, station, operator FROM events ORDER BY id").fetchall()
    db.execute("DELETE FROM events")
    prev, new_id = GENESIS, 0
    for id_, t, kind, subject, sha, detail, st_, op in rows:
        if kind in drop_kinds:
            continue
        subject = change(id_, subject)
        t = (datetime.fromisoformat(t) - shift).isoformat(timespec="milliseconds")
        new_id += 1
        h = link_hash(prev, content_hash(t, kind, subject, sha, detail, st_, op))
        db.execute("INSERT INTO events (id, time, kind, subject, sha256, detail, prev_hash, hash, station, operator, v)"
                   " VALUES (?,?,?,?,?,?,?,?,?,?,2)", (new_id, t, kind, subject, sha, detail, prev, h, st_, op))
        prev = h
    db.commit()
    db.close()


def test_an_anchor_timestamps_the_head_and_verifies(station):
    _fill()
    with Journal() as j:
        a = anchor_now(j, station, "test")
        assert a is not None and a.event_id == 6 and a.head_hash == j.events()[5]["hash"]
        assert anchor_now(j, station, "again") is None  # nothing new since: no second token
        report = verify_custody(j, station)
        kinds = [e["kind"] for e in j.events()]
    assert report.ok, report.summary()
    assert [x["status"] for x in report.anchors] == ["ok"]
    assert kinds[-1] == "anchored"


def test_a_history_rewritten_consistently_after_an_anchor_is_detected(station, tmp_path):
    _fill()
    with Journal() as j:
        anchor_now(j, station, "test")
        j.record("captured", "/scan/b/pages/0007.png", "f" * 64)
    _rewrite(tmp_path / "journal.sqlite3", lambda i, s: "/scan/b/pages/forged.png" if i == 2 else s)
    with Journal() as j:
        assert j.verify().ok  # the chain alone is fooled: every hash was recomputed
        report = verify_custody(j, station)
    assert not report.ok
    assert any(p.kind == "anchor" and "rewritten after the TSA timestamped it" in p.message for p in report.problems)


def test_deleting_the_anchor_that_would_expose_a_rewrite_is_detected(station, tmp_path):
    _fill()
    with Journal() as j:
        anchor_now(j, station, "test")
    sqlite3.connect(tmp_path / "journal.sqlite3").execute("DELETE FROM anchors").connection.commit()
    with Journal() as j:
        report = verify_custody(j, station)
    assert any("token is missing from the journal" in p.message for p in report.problems)


def test_deleting_every_anchor_and_its_record_leaves_old_entries_unanchored(station, tmp_path):
    _fill()
    with Journal() as j:
        anchor_now(j, station, "test")
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    db.execute("DELETE FROM anchors")
    db.commit()
    db.close()
    _rewrite(tmp_path / "journal.sqlite3", lambda i, s: s, drop_kinds=("anchored",), shift=timedelta(days=3))
    with Journal() as j:
        assert j.verify().ok
        report = verify_custody(j, station)
    assert any("older than twice the anchor interval" in p.message for p in report.problems)


def test_a_token_from_a_tsa_outside_the_trusted_root_fails(station, tsa):
    _fill(2)
    with Journal() as j:
        anchor_now(j, station, "test")
        report = verify_custody(j, station, trust=tsa.other_root_pem)
    assert not report.ok and report.anchors[0]["status"] == "untrusted"


def test_a_tampered_token_fails(station, tmp_path):
    _fill(2)
    with Journal() as j:
        anchor_now(j, station, "test")
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    token = bytearray(db.execute("SELECT token FROM anchors").fetchone()[0])
    token[-20] ^= 0x01
    db.execute("UPDATE anchors SET token = ?", (bytes(token),))
    db.commit()
    db.close()
    with Journal() as j:
        report = verify_custody(j, station)
    assert not report.ok and report.anchors[0]["status"] == "broken"


def test_an_unreachable_tsa_does_not_fail_a_finished_build(station, tmp_path):
    _fill(2)
    down = CustodySettings("test-station-1", "孙洋", tsa_url=f"http://127.0.0.1:{free_port()}/tsa")
    import dossier_station.station.custody as custody

    original = custody.settings_for
    custody.settings_for = lambda profile: down
    try:
        result = after_build([], tmp_path, None)
    finally:
        custody.settings_for = original
    assert result["anchor"] is None and "unreachable" in result["anchor_error"]
    with Journal() as j:  # the TSA back: the next anchor covers everything
        assert anchor_now(j, station, "retry").event_id == 2


def test_a_running_station_anchors_on_its_interval(station):
    _fill(1)
    every = CustodySettings("test-station-1", "孙洋", tsa_url=station.tsa_url, anchor_hours=1.0 / 3600)  # one second
    with AnchorTimer(settings=every, tick=0.2) as timer:
        deadline = time.monotonic() + 30
        while timer.anchors_taken < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        with Journal() as j:
            j.record("viewed", "/out/x.pdf", "a" * 64)
        while timer.anchors_taken < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert timer.anchors_taken >= 2, timer.last_error
    with Journal() as j:
        assert verify_custody(j, station).ok


def test_custody_verify_command_exit_codes_and_the_journal_alias(station, tmp_path, tsa):
    _fill(3)
    with Journal() as j:
        anchor_now(j, station, "test")
    profile = tmp_path / "station.toml"
    profile.write_text(f'[custody]\ntsa = "{tsa.url}"\ntsa_trust = "{tsa.root_pem}"\n', "utf-8")
    cmd = [sys.executable, "-m", "dossier_station.station"]
    ok = subprocess.run([*cmd, "custody", "verify", "--profile", str(profile), "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["anchors"][0]["status"] == "ok"
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    db.execute("UPDATE events SET sha256 = ? WHERE id = 2", ("e" * 64,))
    db.commit()
    db.close()
    bad = subprocess.run([*cmd, "custody", "verify", "--profile", str(profile)], capture_output=True, text=True, timeout=120)
    alias = subprocess.run([*cmd, "journal", "--verify", "--profile", str(profile)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 4 and "entry 2 was edited" in bad.stdout
    assert alias.returncode == 4 and "entry 2 was edited" in alias.stdout


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_as_a_custody_manifest_or_history_give_a_result_or_a_clear_error(data):
    for parse in (parse_manifest, parse_history):
        try:
            parse(data, "x.json")
        except CustodyError as exc:
            assert "x.json" in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=20),
       st.sampled_from(["format", "pages", "volumes", "events", "station", "dossier", "start_prev", "anchors"]))
def test_a_valid_record_with_one_field_replaced_is_refused_clearly(value, key):
    manifest = {"format": "dossier-custody-manifest/1", "station": {}, "volumes": [{"volume": 1, "pages": ["a"]}],
                "pages": [{"key": "a", "raw_sha256": "0" * 64}], "events": []}
    history = {"format": "dossier-custody-history/1", "dossier": {"sha256": "0" * 64}, "start_prev": "0" * 64, "events": [], "anchors": []}
    for doc, parse in ((manifest, parse_manifest), (history, parse_history)):
        if key in doc:
            try:
                parse(json.dumps({**doc, key: value}).encode(), "x.json")
            except CustodyError as exc:
                assert "x.json" in str(exc)
