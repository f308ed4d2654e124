"""The interrogation-room ceremony: pads on ptys → event key in SoftHSM2 → one PAdES signature.

Each test pins a part of art. 13: the key is the signer's alone and never leaves the token
(1)(2); any change to the signature or document is detected (3)(4); the capture is bound to
the document; the biometric envelope is the one the event certificate names.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
from signing_fixtures import *  # noqa: F403
from signing_fixtures import PIN, run_dossier

from dossier_station.core.errors import DossierError
from dossier_station.core.files import sha256_file


def token_private_keys() -> int:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    from dossier_station.signing.keys import SOFTHSM_MODULE

    tok = pkcs11.lib(SOFTHSM_MODULE).get_token(token_label="event-token")
    with tok.open(user_pin=PIN) as s:
        return len(list(s.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})))


def test_ceremony_on_emulated_pads_signs_every_page_with_a_token_event_key(
        pki_server, station_profile, softhsm, transcript, tmp_path) -> None:
    from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
    from dossier_station.devices.emulators.pen import PenEmulator

    out = tmp_path / "signed.pdf"
    with PenEmulator(speed=3.0).start() as pen, FingerprintEmulator(finger_delay=0.3).start() as finger:
        r = run_dossier("sign", str(transcript), "--signer", "王小明", "--id-number", "110101199003051234",
                        "--pen", pen.port, "--finger", finger.port, "-o", str(out), "--profile", str(station_profile))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "destroyed" in r.stdout and sha256_file(transcript) in r.stdout
    assert token_private_keys() == 0  # the event key is gone
    v = run_dossier("verify", str(out), "--json", "--profile", str(station_profile))
    assert v.returncode == 0, v.stdout
    rep = json.loads(v.stdout)
    ev = rep["signatures"][0]["event_certificate"]
    assert ev["document_sha256"] == sha256_file(transcript) and ev["content_matches"] and not ev["software_key"]
    assert rep["biometrics"][0]["matches_certificate"] and rep["pdfa_claim"] == "3b" and not rep["pdfa_violations"]
    with pikepdf.open(out) as pdf:
        first, last = pdf.pages[0], pdf.pages[-1]
        assert any(str(k).startswith("/DsMark") for k in first.Resources.XObject)  # mark on page 1
        widgets = [a for a in last.get("/Annots", []) if a.get("/FT") == "/Sig"]
        assert widgets and float(widgets[0].Rect[2]) > float(widgets[0].Rect[0])  # visible on the last page
    assert b"110101199003051234" not in out.read_bytes()  # only a salted hash of the ID number is kept


def test_event_key_cannot_be_exported_from_the_token(softhsm) -> None:
    import pkcs11.exceptions
    from pkcs11 import Attribute, ObjectClass

    from dossier_station.signing.event import token_event_key
    from dossier_station.signing.keys import parse_key_ref

    with token_event_key(parse_key_ref("pkcs11:token=event-token"), PIN) as ek:
        session = ek._session
        priv = next(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: ek.key_id}))
        assert priv[Attribute.EXTRACTABLE] is False and priv[Attribute.SENSITIVE] is True
        assert priv[Attribute.TOKEN] is False  # a session object: never written to the token's storage
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            priv[Attribute.VALUE]  # the attempt to read the private scalar out
    assert token_private_keys() == 0


def test_capture_made_for_another_document_is_refused(pki_server, station_profile, capture_pkg, tmp_path) -> None:
    from dossier_station.station.signing_transcript import make_transcript

    other = make_transcript(tmp_path / "other.pdf", suspect="李四", pages=3)
    out = tmp_path / "x.pdf"
    r = run_dossier("sign", str(other), "--signer", "李四", "--id-number", "1", "--capture", str(capture_pkg),
                    "--software-key", "-o", str(out), "--profile", str(station_profile))
    assert r.returncode == 2 and "another document" in r.stderr
    assert not out.exists()


@pytest.fixture(scope="module")
def ceremony_file(pki_server, station_profile, capture_pkg, transcript, tmp_path_factory) -> Path:
    """From a prior capture, next to the text anchor 签名, software key (test station)."""
    out = tmp_path_factory.mktemp("cer") / "signed.pdf"
    r = run_dossier("sign", str(transcript), "--signer", "王小明", "--id-number", "110101199003051234",
                    "--capture", str(capture_pkg), "--anchor", "签名", "--software-key", "-o", str(out),
                    "--profile", str(station_profile))
    assert r.returncode == 0, r.stderr
    assert "SOFTWARE" in r.stdout
    return out


def test_software_key_is_said_in_the_signature_and_the_report(ceremony_file, station_profile) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    with open(ceremony_file, "rb") as f:
        sig = PdfFileReader(f).embedded_regular_signatures[0]
        assert "TEST STATION" in str(sig.sig_object["/Reason"])
    v = run_dossier("verify", str(ceremony_file), "--profile", str(station_profile))
    assert v.returncode == 0 and "SOFTWARE key" in v.stdout


def test_biometrics_extract_round_trip_and_a_wrong_key_is_refused(ceremony_file, pki, capture_pkg, tmp_path) -> None:
    out = tmp_path / "bio"
    r = run_dossier("biometrics", "extract", str(ceremony_file), "--escrow-key", str(pki.root / "escrow.key.pem"),
                    "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "signature.isdv4").read_bytes() == (capture_pkg / "signature.isdv4").read_bytes()
    wrong = run_dossier("biometrics", "extract", str(ceremony_file), "--escrow-key", str(pki.root / "keys" / "root.key.pem"),
                        "--escrow-cert", str(pki.root / "escrow.pem"), "-o", str(tmp_path / "bio2"))
    assert wrong.returncode == 2 and "does not open" in wrong.stderr


def test_replaced_biometric_envelope_is_detected(ceremony_file, pki, tmp_path) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    from dossier_station.signing.pades import Trust, load_certs
    from dossier_station.signing.verify import verify_file

    w = IncrementalPdfFileWriter(io.BytesIO(ceremony_file.read_bytes()), strict=False)
    names = w.root["/Names"]["/EmbeddedFiles"]["/Names"]
    spec_ref = names.raw_get(1)
    spec = spec_ref.get_object()
    fake = w.add_object(generic.StreamObject({generic.NameObject("/Type"): generic.NameObject("/EmbeddedFile")},
                                             stream_data=b"not the capture"))
    for key in ("/F", "/UF"):  # both names of the embedded stream, as an attacker would
        spec["/EF"][key] = fake
    w.mark_update(spec_ref)
    buf = io.BytesIO()
    w.write(buf)
    bad = tmp_path / "swapped.pdf"
    bad.write_bytes(buf.getvalue())
    rep = verify_file(bad, Trust(roots=load_certs(pki.root / "root.pem")))
    assert not rep.ok
    assert any("biometric envelope" in p for p in rep.problems)


def _config(pki, *, validity: timedelta, level: str = "B-T"):  # type: ignore[no-untyped-def]
    from dossier_station.signing import escrow
    from dossier_station.signing.ceremony import CeremonyConfig
    from dossier_station.signing.event import IssuingCa
    from dossier_station.signing.pades import Trust, load_certs

    return CeremonyConfig(ca=IssuingCa.from_pkcs12(pki.p12("ca").read_bytes(), PIN, crl_url=pki.crl_url),
                          trust=Trust(roots=load_certs(pki.root / "root.pem")), tsa_url=pki.tsa_url,
                          escrow_cert=escrow.load_escrow_cert(pki.root / "escrow.pem"), software_key=True,
                          validity=validity, level=level)




def test_expired_event_certificate_refused_but_earlier_lta_file_still_verifies(
        pki_server, capture_pkg, transcript, tmp_path) -> None:
    from dossier_station.signing.ceremony import sign_transcript
    from dossier_station.signing.keys import CertificateStatusError
    from dossier_station.signing.verify import verify_file
    from dossier_station.station.signing_ceremony import load_capture

    capture = load_capture(capture_pkg, sha256_file(transcript))
    data = transcript.read_bytes()
    with pytest.raises(CertificateStatusError, match="expired"):
        asyncio.run(sign_transcript(data, transcript, tmp_path / "late.pdf", signer_name="王小明", id_number="1",
                                    capture=capture, cfg=_config(pki_server, validity=timedelta(seconds=-5))))
    assert not (tmp_path / "late.pdf").exists()

    cfg = _config(pki_server, validity=timedelta(seconds=8), level="B-LTA")
    res = asyncio.run(sign_transcript(data, transcript, tmp_path / "lta.pdf", signer_name="王小明", id_number="1",
                                      capture=capture, cfg=cfg))
    rep0 = verify_file(res.output, cfg.trust)
    from pyhanko.pdf_utils.reader import PdfFileReader

    with open(res.output, "rb") as f:
        cert = PdfFileReader(f).embedded_regular_signatures[0].signer_cert
    wait = (cert.not_valid_after - datetime.now(UTC)).total_seconds() + 1
    time.sleep(max(0.0, wait))
    assert cert.not_valid_after < datetime.now(UTC)  # the event certificate has expired now
    rep = verify_file(res.output, cfg.trust)
    assert rep0.ok and rep.ok, rep.problems + [p for s in rep.signatures for p in s.problems]


def test_no_token_and_no_software_key_is_a_clear_error(pki_server, capture_pkg, transcript, tmp_path) -> None:
    from dataclasses import replace

    from dossier_station.signing.ceremony import sign_transcript
    from dossier_station.station.signing_ceremony import load_capture

    cfg = replace(_config(pki_server, validity=timedelta(minutes=5)), software_key=False, token=None)
    with pytest.raises(DossierError, match="no PKCS#11 token"):
        asyncio.run(sign_transcript(transcript.read_bytes(), transcript, tmp_path / "x.pdf", signer_name="王小明",
                                    id_number="1", capture=load_capture(capture_pkg, sha256_file(transcript)), cfg=cfg))


def test_missing_escrow_certificate_and_missing_pad_are_refused(pki_server, station_profile, capture_pkg, transcript,
                                                               tmp_path) -> None:
    prof = tmp_path / "noescrow.toml"
    prof.write_text("\n".join(line for line in station_profile.read_text(encoding="utf-8").splitlines()
                              if not line.startswith("escrow_cert")), encoding="utf-8")
    out = tmp_path / "x.pdf"
    r = run_dossier("sign", str(transcript), "--signer", "王小明", "--id-number", "1", "--capture", str(capture_pkg),
                    "--software-key", "-o", str(out), "--profile", str(prof))
    assert r.returncode == 1 and "no escrow certificate" in r.stderr
    r = run_dossier("sign", str(transcript), "--signer", "王小明", "--id-number", "1", "--pen", "/dev/ttyNOPE0",
                    "--finger", "/dev/ttyNOPE1", "--software-key", "-o", str(out), "--profile", str(station_profile))
    assert r.returncode in (10, 11) and "ttyNOPE0" in r.stderr
    assert not out.exists()


def test_silent_pad_is_a_device_error_and_nothing_is_written(pki_server, station_profile, transcript, tmp_path) -> None:
    import os

    pen_master, pen = os.openpty()  # a port where nothing answers
    finger_master, finger = os.openpty()
    try:
        out = tmp_path / "x.pdf"
        r = run_dossier("sign", str(transcript), "--signer", "王小明", "--id-number", "1", "--pen", os.ttyname(pen),
                        "--finger", os.ttyname(finger), "--software-key", "-o", str(out), "--profile", str(station_profile))
        assert r.returncode == 10 and "no pen pad answered" in r.stderr
        assert not out.exists()
    finally:
        for fd in (pen_master, pen, finger_master, finger):
            os.close(fd)


def test_an_already_signed_transcript_is_refused_for_the_ceremony(ceremony_file, station_profile, capture_pkg,
                                                                  tmp_path) -> None:
    """Marks and the envelope would break the earlier signature; later signers use --pkcs12/--key."""
    from dossier_station.signing.prepare import prepare

    with pytest.raises(DossierError, match="already signed"):
        prepare(ceremony_file.read_bytes(), marks=[], mark_image=None, attachment=None,
                when=datetime.now().astimezone())


def test_issuing_ca_held_in_a_token_certifies_the_event_key(pki_server, station_profile, softhsm, capture_pkg, transcript,
                                                           tmp_path) -> None:
    prof = tmp_path / "hsm-ca.toml"
    prof.write_text("\n".join('ca = "pkcs11:token=ca-token;object=ca"' if line.startswith("ca =") else line
                              for line in station_profile.read_text(encoding="utf-8").splitlines()), encoding="utf-8")
    out = tmp_path / "signed.pdf"
    r = run_dossier("sign", str(transcript), "--signer", "王小明", "--id-number", "1", "--capture", str(capture_pkg),
                    "-o", str(out), "--profile", str(prof))
    assert r.returncode == 0, r.stdout + r.stderr
    v = run_dossier("verify", str(out), "--json", "--profile", str(prof))
    assert v.returncode == 0, v.stdout
    sig = json.loads(v.stdout)["signatures"][0]
    assert sig["issuer"].startswith("DEMO Issuing CA") and sig["trusted"]
    assert token_private_keys() == 0
