"""`dossier pki init|serve`: a DEMO PKI whose services answer over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from asn1crypto import crl, x509
from signing_fixtures import *  # noqa: F403
from signing_fixtures import run_dossier


def test_pki_init_marks_everything_demo_and_writes_root(pki) -> None:
    root = x509.Certificate.load(__import__("asn1crypto").pem.unarmor((pki.root / "root.pem").read_bytes())[2])
    assert "DEMO" in root.subject.native["common_name"]
    assert root.self_issued
    info = json.loads((pki.root / "pki.json").read_text())
    assert info["demo"] is True and "NOT FOR REAL CASES" in info["warning"]
    for name in ("ca", "seal", "officer"):
        assert pki.p12(name).stat().st_size > 0
    assert "NOT FOR REAL CASES" in pki.config.read_text(encoding="utf-8")


def test_pki_certificates_are_stable_across_loads(pki) -> None:
    """The files a station uses and the certificates `pki serve` re-derives must be the same bytes."""
    from certomancer.registry import CertLabel

    from dossier_station.signing.pki import load_arch

    a, b = load_arch(pki), load_arch(pki)
    assert a.get_cert(CertLabel("seal")).dump() == b.get_cert(CertLabel("seal")).dump()


def test_pki_serve_answers_crl_and_timestamps_over_http(pki_server) -> None:
    data = urllib.request.urlopen(pki_server.crl_url, timeout=10).read()
    assert crl.CertificateList.load(data)["tbs_cert_list"]["issuer"].native["common_name"].startswith("DEMO Issuing CA")

    from pyhanko.sign.timestamps import HTTPTimeStamper

    async def stamp() -> object:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            return await HTTPTimeStamper(pki_server.tsa_url, session=session).async_timestamp(b"\0" * 32, "sha256")

    token = asyncio.run(stamp())
    assert token["content_type"].native == "signed_data"


def test_pki_init_refuses_a_folder_that_is_not_empty(tmp_path) -> None:
    (tmp_path / "x").write_text("keep me")
    r = run_dossier("pki", "init", str(tmp_path))
    assert r.returncode != 0 and "not empty" in r.stderr
    assert (tmp_path / "x").read_text() == "keep me"
