"""``custody verify`` on files: a dossier missing, changed in place, unknown; a raw page changed
after the build; a custody manifest edited inside the dossier. Small real PDFs, no OCR."""

from __future__ import annotations

import json

import pikepdf
import pytest

from dossier_station.core.custody import MANIFEST_NAME, CustodySettings
from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Journal, set_station_identity
from dossier_station.core.model import Attachment
from dossier_station.station.custody import exported_event
from dossier_station.station.custody_verify import verify_custody

S = CustodySettings("station-a", "孙洋")


@pytest.fixture
def station(tmp_path, monkeypatch):
    monkeypatch.delenv("DOSSIER_PROFILE", raising=False)
    monkeypatch.setattr("dossier_station.core.profile.LOADED", [])
    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "j.sqlite3"))
    set_station_identity(S.identity)
    yield tmp_path
    set_station_identity(None)


def _volume(tmp_path, manifest: dict | None = None):
    from datetime import UTC, datetime

    from dossier_station.assemble.pdfa import add_attachments

    pdf = pikepdf.new()
    pdf.add_blank_page()
    if manifest is not None:
        add_attachments(pdf, [Attachment(MANIFEST_NAME, json.dumps(manifest).encode(), "application/json", "custody", "/Data")], datetime.now(UTC))
    path = tmp_path / "out" / "v.pdf"
    path.parent.mkdir(exist_ok=True)
    pdf.save(path)
    return path


def _scanned(tmp_path):
    """A raw page captured and processed on this station, and the manifest a build would embed."""
    raw = tmp_path / "batch" / "0001.png"
    raw.parent.mkdir()
    raw.write_bytes(b"\x89PNG raw scan bytes")
    with Journal() as j:
        cap = j.record("captured", str(raw.resolve()), sha256_file(raw), device="pnm:0")
        proc = j.record("processed", "0001.png", "c" * 64, input_sha256=sha256_file(raw))
        events = [exported_event(e) for e in j.events() if e["id"] in (cap, proc)]
    return raw, {"format": "dossier-custody-manifest/1", "station": S.identity, "volumes": [{"volume": 1, "pages": ["0001.png"]}],
                 "pages": [{"key": "0001.png", "source": str(raw.resolve()), "raw_sha256": sha256_file(raw), "processed_sha256": "c" * 64,
                            "captured_event": cap, "processed_event": proc}], "events": events}


def _journal_volume(path):
    with Journal() as j:
        j.record("assembled", str(path.resolve()), sha256_file(path))


def test_a_scanned_dossier_verifies_page_by_page(station):
    raw, manifest = _scanned(station)
    vol = _volume(station, manifest)
    _journal_volume(vol)
    with Journal() as j:
        report = verify_custody(j, S, dossier=vol)
    assert report.ok, report.summary()
    assert report.dossier["pages"] == [{"key": "0001.png", "raw_sha256": sha256_file(raw), "status": "captured"}]


def test_a_raw_page_changed_after_the_build_is_named(station):
    raw, manifest = _scanned(station)
    vol = _volume(station, manifest)
    _journal_volume(vol)
    raw.write_bytes(b"\x89PNG retouched")
    with Journal() as j:
        report = verify_custody(j, S, dossier=vol)
    assert any("the raw page" in p.message and "changed since it was built" in p.message for p in report.problems)


def test_a_manifest_edited_inside_the_dossier_is_detected(station):
    _, manifest = _scanned(station)
    manifest["events"][0]["detail_text"] = manifest["events"][0]["detail_text"].replace("pnm:0", "elsewhere")
    vol = _volume(station, manifest)
    _journal_volume(vol)  # even journaled as it is: the event inside no longer hashes to itself
    with Journal() as j:
        report = verify_custody(j, S, dossier=vol)
    assert any("was edited inside the dossier" in p.message for p in report.problems)


def test_missing_and_changed_files_are_reported_with_files(station):
    a = _volume(station)
    _journal_volume(a)
    b = station / "out" / "b.pdf"
    b.write_bytes(a.read_bytes())
    _journal_volume(b)
    a.unlink()
    b.write_bytes(b.read_bytes() + b"\n%")
    with Journal() as j:
        report = verify_custody(j, S, files=True)
    assert {p.kind for p in report.problems} == {"missing", "changed"}
    with Journal() as j:
        report = verify_custody(j, S, dossier=station / "nowhere.pdf")
    assert [p.kind for p in report.problems] == ["missing"]


def test_each_volume_of_a_multi_volume_build_carries_its_own_pages_and_events():
    from dossier_station.core.custody import parse_manifest
    from dossier_station.station.custody import volume_attachments

    ev = {"time": "t", "kind": "captured", "subject": "s", "sha256": None, "detail_text": "{}", "prev_hash": "0" * 64,
          "hash": "1" * 64, "station": "s", "operator": "o", "v": 2}
    manifest = {"format": "dossier-custody-manifest/1", "station": S.identity,
                "volumes": [{"volume": 1, "pages": ["a"]}, {"volume": 2, "pages": ["b"]}],
                "pages": [{"key": "a", "raw_sha256": "a" * 64, "captured_event": 1, "processed_event": 3},
                          {"key": "b", "raw_sha256": "b" * 64, "captured_event": 2, "processed_event": 4}],
                "events": [dict(ev, id=i) for i in (1, 2, 3, 4)]}
    report = Attachment("build-report.json", b"{}", "application/json", "report", "/Supplement")
    atts = [report, Attachment(MANIFEST_NAME, json.dumps(manifest).encode(), "application/json", "custody", "/Data")]
    second = volume_attachments(atts, 2)
    assert second[0] is report
    narrowed = parse_manifest(second[1].data)
    assert [p["key"] for p in narrowed["pages"]] == ["b"] and [e["id"] for e in narrowed["events"]] == [2, 4]
    assert narrowed["volumes"] == [{"volume": 2, "pages": ["b"]}]
