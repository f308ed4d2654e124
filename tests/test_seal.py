"""`dossier seal`: the unit seal on many files; failures listed, others sealed, journal per file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pikepdf
from signing_fixtures import *  # noqa: F403
from signing_fixtures import run_dossier

from dossier_station.core.files import sha256_file


def test_seal_folder_lists_failures_and_seals_the_rest(pki_server, station_profile, transcript, tmp_path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.pdf", "b.pdf"):
        shutil.copy(transcript, src / name)
    (src / "c.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf")
    before = {p.name: sha256_file(p) for p in src.iterdir()}
    journal = tmp_path / "journal.sqlite3"
    out = tmp_path / "out"
    r = run_dossier("seal", str(src), "-o", str(out), "--profile", str(station_profile), "-j", "2",
                    env={"DOSSIER_JOURNAL": str(journal)})
    assert r.returncode == 15, r.stdout + r.stderr
    assert "2 sealed, 1 failed" in r.stdout and "c.pdf" in r.stdout and "not a readable PDF" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["a.pdf", "b.pdf"]  # nothing half-written for c.pdf
    assert {p.name: sha256_file(p) for p in src.iterdir()} == before  # inputs untouched
    from dossier_station.core.journal import Journal

    with Journal(journal) as j:
        seals = [e for e in j.events() if e["kind"] == "seal"]
    assert len(seals) == 2 and {e["sha256"] for e in seals} == {sha256_file(out / "a.pdf"), sha256_file(out / "b.pdf")}
    v = run_dossier("verify", str(out / "a.pdf"), "--json", "--profile", str(station_profile))
    assert v.returncode == 0, v.stdout
    rep = json.loads(v.stdout)
    assert [s["kind"] for s in rep["signatures"]] == ["signature", "document timestamp"]  # B-LTA
    with pikepdf.open(out / "a.pdf") as pdf:
        assert [a for a in pdf.pages[-1].Annots if a.get("/FT") == "/Sig"]  # the seal is visible
        flavour = f"{pdf.open_metadata()['pdfaid:part']}b"
        assert not [f for f in pikepdf.pdfa.check(pdf, flavour).findings if f.kind == "violation"]


def test_seal_with_a_token_key_invisible(pki_server, station_profile, softhsm, transcript, tmp_path) -> None:
    out = tmp_path / "out"
    r = run_dossier("seal", str(transcript), "-o", str(out), "--key", "pkcs11:token=seal-token;object=seal",
                    "--invisible", "--level", "B-T", "--profile", str(station_profile))
    assert r.returncode == 0, r.stdout + r.stderr
    assert run_dossier("verify", str(out / transcript.name), "--profile", str(station_profile)).returncode == 0


def test_seal_refuses_to_write_over_its_inputs(pki_server, station_profile, transcript, tmp_path) -> None:
    shutil.copy(transcript, tmp_path / "t.pdf")
    r = run_dossier("seal", str(tmp_path), "-o", str(tmp_path), "--profile", str(station_profile))
    assert r.returncode == 1 and "originals are kept" in r.stderr


def test_seal_with_the_tsa_down_seals_nothing(pki, station_profile, transcript, tmp_path) -> None:
    from signing_fixtures import free_port

    out = tmp_path / "out"
    r = run_dossier("seal", str(transcript), "-o", str(out), "--tsa", f"http://127.0.0.1:{free_port()}/x",
                    "--profile", str(station_profile))
    assert r.returncode != 0
    assert not out.exists() or not any(Path(out).iterdir())


def test_build_seal_replaces_each_volume_with_its_sealed_version(pki_server, station_profile, transcript, tmp_path) -> None:
    """What `dossier build --seal` runs after the volumes are placed (OCR is not the point here)."""
    from dossier_station.core.journal import Journal
    from dossier_station.station.signing_seal import seal_volumes

    vol = tmp_path / "case" / "volume.pdf"
    vol.parent.mkdir()
    shutil.copy(transcript, vol)
    before = sha256_file(vol)
    seal_volumes([vol], str(station_profile))
    after = sha256_file(vol)
    assert after != before and not [p for p in vol.parent.iterdir() if p.name.startswith(".sealing")]
    with Journal() as j:
        assert any(e["kind"] == "seal" and e["sha256"] == after for e in j.events())
    v = run_dossier("verify", str(vol), "--json", "--profile", str(station_profile))
    assert v.returncode == 0 and json.loads(v.stdout)["signatures"][-1]["kind"] == "document timestamp"
