"""A signed transcript that becomes a document of the dossier keeps its legal force: the signed
original is embedded, byte for byte, in the volume that holds its pages, and verify checks it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pikepdf
from signing_fixtures import *  # noqa: F403
from signing_fixtures import run_dossier

from dossier_station.core.files import sha256_file

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pages"


def _attachments(pdf_path: Path) -> dict[str, bytes]:
    with pikepdf.open(pdf_path) as pdf:
        return {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}


def test_signed_transcript_in_a_dossier_is_embedded_as_its_signed_original_and_verified(
    pki_server, station_profile, transcript, tmp_path: Path
) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    signed = pages / "02-transcript.pdf"
    r = run_dossier("sign", str(transcript), "-o", str(signed), "--pkcs12", str(pki_server.p12("officer")),
                    "--profile", str(station_profile))
    assert r.returncode == 0, r.stderr
    scan = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg"))[0]
    shutil.copy(scan, pages / f"01-scan{scan.suffix}")
    before = sha256_file(signed)

    out = tmp_path / "out"
    b = run_dossier("build", str(pages), "-o", str(out), "--engine", "tesseract", "-j", "1")
    assert b.returncode == 0, b.stdout + b.stderr
    assert sha256_file(signed) == before  # the input is untouched
    volume = next(out.glob("*.pdf"))
    att = _attachments(volume)
    originals = {k: v for k, v in att.items() if k.startswith("signed-original-")}
    assert len(originals) == 1
    (blob,) = originals.values()
    assert hashlib.sha256(blob).hexdigest() == before  # byte for byte: its signature still holds
    report = json.loads(next(out.glob("*.report.json")).read_text("utf-8"))
    assert report["signed_originals"][0]["sha256"] == before
    assert report["signed_originals"][0]["file"] == signed.name

    v = run_dossier("verify", str(volume), "--json", "--profile", str(station_profile))
    data = json.loads(v.stdout)
    subs = data.get("attached_originals") or data.get("files", [{}])[0].get("attached_originals")
    assert subs, v.stdout
    assert all(s["ok"] for s in subs), v.stdout


def test_unsigned_pdf_inputs_are_not_embedded_as_signed_originals(transcript, tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    shutil.copy(transcript, pages / "transcript.pdf")  # born digital, but nobody signed it
    out = tmp_path / "out"
    b = run_dossier("build", str(pages), "-o", str(out), "--engine", "tesseract", "-j", "1")
    assert b.returncode == 0, b.stdout + b.stderr
    volume = next(out.glob("*.pdf"))
    assert not [k for k in _attachments(volume) if k.startswith("signed-original-")]
