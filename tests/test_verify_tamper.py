"""`dossier verify` catches every change after signing (art. 13 (3)(4)); pdfsig agrees on integrity."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signing_fixtures import *  # noqa: F403
from signing_fixtures import run_dossier

from dossier_station.core.errors import DossierError


@pytest.fixture(scope="session")
def trust(pki):
    from dossier_station.signing.pades import Trust, load_certs

    return Trust(roots=load_certs(pki.root / "root.pem"))


@pytest.fixture(scope="session")
def signed(pki_server, transcript, tmp_path_factory, trust) -> Path:
    """The transcript signed by an officer (B-T), in-process."""
    from dossier_station.signing.keys import load_pkcs12
    from dossier_station.signing.pades import SignRequest, sign_file, trust_from_signer

    out = tmp_path_factory.mktemp("signed") / "signed.pdf"
    s = load_pkcs12(pki_server.p12("officer"), "1234")
    sign_file(transcript, out, s, SignRequest(level="B-T", tsa_url=pki_server.tsa_url), trust_from_signer(s, trust.roots))
    return out


def verify(path: Path, trust):  # type: ignore[no-untyped-def]
    from dossier_station.signing.verify import verify_file

    return verify_file(path, trust)


def pdfsig(path: Path) -> str:
    if shutil.which("pdfsig") is None:
        pytest.skip("poppler-utils (pdfsig) not installed")
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout


def test_untouched_file_verifies(signed, trust) -> None:
    rep = verify(signed, trust)
    assert rep.ok, rep.problems
    assert rep.signatures[0].modifications == "none"


def test_byte_flipped_in_signed_range_is_detected(signed, trust, tmp_path) -> None:
    data = bytearray(signed.read_bytes())
    at = data.index(b"stream", 2000) + 20  # inside a content stream, within the first signed range
    data[at] ^= 0x01
    bad = tmp_path / "flipped.pdf"
    bad.write_bytes(bytes(data))
    rep = verify(bad, trust)
    assert not rep.ok
    assert any("changed" in p for s in rep.signatures for p in s.problems)
    assert "Digest Mismatch" in pdfsig(bad)
    r = run_dossier("verify", str(bad), "--trust", str(trust_path(signed)))
    assert r.returncode != 0 and "NOT VALID" in r.stdout


def trust_path(signed: Path) -> Path:
    import os

    return Path(os.environ["DOSSIER_TEST_ROOT"])


@pytest.fixture(autouse=True)
def _root_env(pki, monkeypatch) -> None:
    monkeypatch.setenv("DOSSIER_TEST_ROOT", str(pki.root / "root.pem"))


def _incremental(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    change(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_page_changed_in_a_later_update_is_illegal(signed, trust, tmp_path) -> None:
    from pyhanko.pdf_utils import generic

    def draw(w) -> None:  # type: ignore[no-untyped-def]
        w.add_stream_to_page(0, w.add_object(generic.StreamObject(stream_data=b"0 0 1 rg 100 100 200 50 re f")))

    bad = tmp_path / "page.pdf"
    bad.write_bytes(_incremental(signed.read_bytes(), draw))
    rep = verify(bad, trust)
    assert not rep.ok
    assert "ILLEGAL" in rep.signatures[0].modifications
    # poppler only sees that the signed bytes are intact; it cannot judge later revisions
    assert "Signature is Valid" in pdfsig(bad)


def test_attachment_added_after_signing_is_detected(signed, trust, tmp_path) -> None:
    from pyhanko.pdf_utils import embed

    def attach(w) -> None:  # type: ignore[no-untyped-def]
        data = embed.EmbeddedFileObject.from_file_data(w, b"forged statement", mime_type="text/plain")
        embed.embed_file(w, embed.FileSpec(file_spec_string="forged.txt", embedded_data=data))

    bad = tmp_path / "attached.pdf"
    bad.write_bytes(_incremental(signed.read_bytes(), attach))
    rep = verify(bad, trust)
    assert not rep.ok
    assert any("changed after" in p for s in rep.signatures for p in s.problems)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4000))
def test_any_bytes_give_a_report_or_a_clear_error(trust, tmp_path_factory, blob) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "f.pdf"
    p.write_bytes(blob)
    try:
        rep = verify(p, trust)
    except DossierError:
        return
    assert not rep.ok


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_is_never_reported_valid(signed, trust, tmp_path_factory, where, xor) -> None:
    data = bytearray(signed.read_bytes())
    i = where % len(data)
    data[i] ^= xor
    p = tmp_path_factory.mktemp("flip") / "f.pdf"
    p.write_bytes(bytes(data))
    try:
        rep = verify(p, trust)
    except DossierError:
        return
    sig_bytes = signed.read_bytes()
    start = sig_bytes.index(b"/Contents <")  # the signature value itself is outside the signed range
    end = sig_bytes.index(b">", start)
    if start <= i <= end:
        return
    assert not rep.ok, f"byte {i} changed and the file still verifies"


def _volume_with(original: bytes, transcript: Path, out: Path, pki, trust) -> Path:  # type: ignore[no-untyped-def]
    """A sealed file carrying ``original`` as a PDF/A-3 associated file (a dossier volume's shape)."""
    from datetime import datetime

    from dossier_station.signing.keys import load_pkcs12
    from dossier_station.signing.pades import SignRequest, sign_file, trust_from_signer
    from dossier_station.signing.prepare import prepare

    vol = prepare(transcript.read_bytes(), marks=[], mark_image=None, when=datetime.now().astimezone(),
                  attachment=("signed-transcript.pdf", original, "application/pdf", "signed original"))
    src = out.with_suffix(".unsigned.pdf")
    src.write_bytes(vol)
    s = load_pkcs12(pki.p12("seal"), "1234")
    sign_file(src, out, s, SignRequest(level="B-T", tsa_url=pki.tsa_url), trust_from_signer(s, trust.roots))
    return out


def test_signed_original_attached_to_a_volume_is_verified_too(signed, transcript, pki_server, trust, tmp_path) -> None:
    good = verify(_volume_with(signed.read_bytes(), transcript, tmp_path / "vol.pdf", pki_server, trust), trust)
    assert good.ok, good.problems
    assert len(good.attached_originals) == 1 and good.attached_originals[0].ok
    data = bytearray(signed.read_bytes())
    data[data.index(b"stream", 2000) + 20] ^= 1  # the original was altered before it was attached
    bad = verify(_volume_with(bytes(data), transcript, tmp_path / "vol2.pdf", pki_server, trust), trust)
    assert not bad.ok and any("attached signed original" in p for p in bad.problems)


def test_lta_file_verifies_with_its_pki_offline_and_a_b_t_file_does_not(transcript, tmp_path) -> None:
    """Long-term validity: B-LTA carries its revocation evidence; B-T needs the OCSP/CRL service."""
    from signing_fixtures import free_port

    from dossier_station.signing.keys import load_pkcs12
    from dossier_station.signing.pades import (
        SignRequest,
        Trust,
        load_certs,
        sign_file,
        trust_from_signer,
    )
    from dossier_station.signing.pki import init_pki
    from dossier_station.signing.pki_serve import BackgroundPki

    pki = init_pki(tmp_path / "pki", free_port())
    with BackgroundPki(pki.root):  # the services answer only while signing
        s = load_pkcs12(pki.p12("seal"), "1234")
        for level in ("B-T", "B-LTA"):
            sign_file(transcript, tmp_path / f"{level}.pdf", s, SignRequest(level=level, tsa_url=pki.tsa_url),
                      trust_from_signer(s, load_certs(pki.root / "root.pem")))
    offline = Trust(roots=load_certs(pki.root / "root.pem"))
    lta = verify(tmp_path / "B-LTA.pdf", offline)
    assert lta.ok, [p for s in lta.signatures for p in s.problems]
    assert "embedded in the file" in lta.signatures[0].time_source
    assert not verify(tmp_path / "B-T.pdf", offline).ok  # its status cannot be known offline: not claimed valid
