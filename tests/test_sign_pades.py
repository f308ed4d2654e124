"""`dossier sign --pkcs12/--key`: PAdES signatures that keep PDF/A and refuse bad keys and inputs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pikepdf
import pytest
from signing_fixtures import *  # noqa: F403
from signing_fixtures import run_dossier

from dossier_station.core.files import sha256_file


def pdfa_violations(path: Path) -> list:
    with pikepdf.open(path) as pdf:
        meta = pdf.open_metadata()
        flavour = f"{meta['pdfaid:part']}{meta['pdfaid:conformance'].lower()}"
        return [f for f in pikepdf.pdfa.check(pdf, flavour).findings if f.kind == "violation"]


def pdfsig(path: Path) -> str:
    if shutil.which("pdfsig") is None:
        pytest.skip("poppler-utils (pdfsig) not installed")
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout


def test_pkcs12_signature_b_t_keeps_pdfa_and_pdfsig_agrees(pki_server, station_profile, transcript, tmp_path) -> None:
    out = tmp_path / "signed.pdf"
    before = sha256_file(transcript)
    r = run_dossier("sign", str(transcript), "-o", str(out), "--pkcs12", str(pki_server.p12("officer")),
                    "--profile", str(station_profile))
    assert r.returncode == 0, r.stderr
    assert sha256_file(transcript) == before  # the input is evidence: untouched
    with pikepdf.open(out) as pdf:
        assert pdf.Root.get("/Version") != "/2.0"  # pyHanko's default for ECDSA would break PDF/A
    assert pdfa_violations(out) == []
    assert "Signature is Valid" in pdfsig(out)
    v = run_dossier("verify", str(out), "--profile", str(station_profile))
    assert v.returncode == 0, v.stdout + v.stderr
    assert "signature timestamp" in v.stdout


def test_four_signatures_in_sequence_each_stays_valid(pki_server, station_profile, transcript, tmp_path) -> None:
    """Officer, second officer, unit seal (B-LTA): every earlier signature still verifies."""
    a, b, c = tmp_path / "a.pdf", tmp_path / "b.pdf", tmp_path / "c.pdf"
    prof = ["--profile", str(station_profile)]
    assert run_dossier("sign", str(transcript), "-o", str(a), "--pkcs12", str(pki_server.p12("officer")), *prof).returncode == 0
    assert run_dossier("sign", str(a), "-o", str(b), "--pkcs12", str(pki_server.p12("officer2")), "--at", "-1,60,60,160,50",
                       *prof).returncode == 0
    r = run_dossier("sign", str(b), "-o", str(c), "--pkcs12", str(pki_server.p12("seal")), "--level", "B-LTA", *prof)
    assert r.returncode == 0, r.stderr
    v = run_dossier("verify", str(c), "--json", *prof)
    assert v.returncode == 0, v.stdout
    import json

    rep = json.loads(v.stdout)
    kinds = [s["kind"] for s in rep["signatures"]]
    assert kinds.count("signature") == 3 and kinds.count("document timestamp") == 1
    assert all(s["ok"] for s in rep["signatures"])
    assert pdfa_violations(c) == []
    assert pdfsig(c).count("Signature is Valid") >= 3


def test_pkcs11_seal_key_in_softhsm_signs(pki_server, station_profile, softhsm, transcript, tmp_path) -> None:
    out = tmp_path / "hsm.pdf"
    r = run_dossier("sign", str(transcript), "-o", str(out), "--key", "pkcs11:token=seal-token;object=seal",
                    "--profile", str(station_profile))
    assert r.returncode == 0, r.stderr
    v = run_dossier("verify", str(out), "--profile", str(station_profile))
    assert v.returncode == 0 and "单位印章" in v.stdout


@pytest.mark.parametrize("pin", ["0000", ""])
def test_wrong_pin_is_a_clear_error_and_writes_nothing(pki_server, station_profile, transcript, tmp_path, pin) -> None:
    out = tmp_path / "x.pdf"
    r = run_dossier("sign", str(transcript), "-o", str(out), "--pkcs12", str(pki_server.p12("officer")),
                    "--profile", str(station_profile), env={"DOSSIER_PIN": pin})
    assert r.returncode != 0 and "wrong PIN" in r.stderr
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_pin_on_the_command_line_is_not_an_option(pki_server, transcript, tmp_path) -> None:
    r = run_dossier("sign", str(transcript), "-o", str(tmp_path / "x.pdf"), "--pkcs12", str(pki_server.p12("officer")),
                    "--pin", "1234")
    assert r.returncode != 0 and "No such option" in r.stderr


@pytest.mark.parametrize(("key", "words"), [("officer-revoked", "revoked"), ("officer-expired", "expired")])
def test_revoked_or_expired_certificate_is_refused(pki_server, station_profile, transcript, tmp_path, key, words) -> None:
    out = tmp_path / "x.pdf"
    r = run_dossier("sign", str(transcript), "-o", str(out), "--pkcs12", str(pki_server.p12(key)),
                    "--profile", str(station_profile))
    assert r.returncode != 0 and words in r.stderr
    assert not out.exists()


def test_tsa_unreachable_is_refused_and_nothing_written(pki, station_profile, transcript, tmp_path) -> None:
    from signing_fixtures import free_port

    out = tmp_path / "x.pdf"
    dead = f"http://127.0.0.1:{free_port()}/tsa"
    r = run_dossier("sign", str(transcript), "-o", str(out), "--pkcs12", str(pki.p12("officer")), "--tsa", dead,
                    "--level", "B-T", "--trust", str(pki.root / "root.pem"))
    assert r.returncode != 0
    assert "did not answer" in r.stderr or "unavailable" in r.stderr
    assert not out.exists()


def test_encrypted_and_broken_pdfs_are_refused(pki_server, station_profile, transcript, tmp_path) -> None:
    enc = tmp_path / "enc.pdf"
    with pikepdf.open(transcript) as pdf:
        pdf.save(enc, encryption=pikepdf.Encryption(owner="o", user="u"))
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(transcript.read_bytes()[:3000])
    for src, code, words in ((enc, 8, "password"), (broken, 2, "not a readable PDF")):
        r = run_dossier("sign", str(src), "-o", str(tmp_path / "out.pdf"), "--pkcs12", str(pki_server.p12("officer")),
                        "--profile", str(station_profile))
        assert r.returncode == code, r.stderr
        assert words in r.stderr
    assert not (tmp_path / "out.pdf").exists()
