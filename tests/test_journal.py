"""The custody log: hash-chained, tamper-evident, fed by builds and captures."""

from __future__ import annotations

import sqlite3

from dossier_station.core.journal import Journal


def test_entries_chain_and_verify(tmp_path):
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record("capture", "pages/0001.png", "a" * 64, dpi=300)
        j.record("build", "out/x.pdf", "b" * 64, pages=[{"key": "0001.png"}])
        result = j.verify()
        assert result.ok and result.entries == 2
        assert [e["kind"] for e in j.recent()] == ["capture", "build"]


def test_an_edited_entry_breaks_the_chain_from_there(tmp_path):
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        for i in range(4):
            j.record("capture", f"pages/{i:04d}.png", f"{i:064d}")
    db = sqlite3.connect(path)
    db.execute("UPDATE events SET sha256 = ? WHERE id = 2", ("f" * 64,))
    db.commit()
    db.close()
    with Journal(path) as j:
        result = j.verify()
    assert not result.ok and result.first_bad == 2
    assert "BROKEN at entry 2" in result.summary()


def test_a_deleted_entry_is_detected(tmp_path):
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        for i in range(3):
            j.record("capture", f"p{i}", None)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM events WHERE id = 2")
    db.commit()
    db.close()
    with Journal(path) as j:
        assert j.verify().first_bad == 3


def test_a_build_records_each_volume_with_its_hash(built_dossier):
    import hashlib

    volume = built_dossier.volumes[0]
    with Journal() as j:  # the whole suite shares one journal: look the volume up, not the tail
        builds = [e for e in j.events_about(str(volume.resolve())) if e["kind"] in ("build", "assembled")]
    assert builds, "the build left no journal entry for its volume"
    entry = builds[-1]
    assert entry["sha256"] == hashlib.sha256(volume.read_bytes()).hexdigest()
    assert {p["key"] for p in entry["detail"]["pages"]} == {p["key"] for p in built_dossier.report["pages"]}
