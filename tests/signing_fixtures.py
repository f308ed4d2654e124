"""Fixtures for the signing tests: real components only.

* a DEMO PKI made by ``dossier pki init`` and served by ``dossier pki serve`` as a real HTTP
  server on a free loopback port (TSA, OCSP, CRL), stopped at the end;
* SoftHSM2 tokens in a temporary folder (``SOFTHSM2_CONF``), never the system's;
* a born-digital PDF/A transcript; a capture from the emulated pads on pseudo-terminals.

Import the fixtures into a test module with ``from signing_fixtures import *``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOSSIER = [sys.executable, "-m", "dossier_station.station"]
PIN = "1234"

__all__ = ["PIN", "run_dossier", "free_port", "pki", "pki_server", "transcript", "capture_pkg", "softhsm", "station_profile",
           "pin_env"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_dossier(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "DOSSIER_PIN": PIN, "COLUMNS": "400", **(env or {})}  # no wrapped messages
    return subprocess.run([*DOSSIER, *args], capture_output=True, text=True, cwd=cwd, env=full, timeout=300, check=False)


@pytest.fixture(scope="session")
def pin_env():  # type: ignore[no-untyped-def]
    old = os.environ.get("DOSSIER_PIN")
    os.environ["DOSSIER_PIN"] = PIN
    yield
    if old is None:
        os.environ.pop("DOSSIER_PIN", None)
    else:
        os.environ["DOSSIER_PIN"] = old


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory):
    from dossier_station.signing.pki import init_pki

    return init_pki(tmp_path_factory.mktemp("pki") / "pki", free_port())


@pytest.fixture(scope="session")
def pki_server(pki, pin_env):
    """``dossier pki serve`` in its own process, on the PKI's loopback port."""
    from dossier_station.signing.pki_serve import wait_for_port

    proc = subprocess.Popen([*DOSSIER, "pki", "serve", str(pki.root), "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        if not wait_for_port("127.0.0.1", pki.port, timeout=30):
            proc.kill()
            raise RuntimeError(f"pki serve did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
        yield pki
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dossier_station.station.signing_transcript import make_transcript

    return make_transcript(tmp_path_factory.mktemp("transcript") / "transcript.pdf")


@pytest.fixture(scope="session")
def capture_pkg(tmp_path_factory: pytest.TempPathFactory, transcript: Path) -> Path:
    """A capture from the emulated pen pad and fingerprint sensor, bound to the transcript."""
    from dossier_station.capture.signature import SignatureCaptureOptions, capture_signature
    from dossier_station.core.files import sha256_file
    from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
    from dossier_station.devices.emulators.pen import PenEmulator

    out = tmp_path_factory.mktemp("capture") / "capture"
    with PenEmulator(speed=3.0).start() as pen, FingerprintEmulator(finger_delay=0.2).start() as finger:
        opts = SignatureCaptureOptions(pen_port=pen.port, finger_port=finger.port, signer="王小明", operator="test",
                                       pen_idle=0.3)
        capture_signature(opts, out, document={"sha256": sha256_file(transcript), "name": transcript.name})
    return out


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory, pki):
    """Two SoftHSM2 tokens in a temp dir: ``event-token`` (empty) and ``seal-token`` (the seal key)."""
    if shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2 not installed (apt-get install softhsm2)")
    from asn1crypto import pem

    from dossier_station.signing.softhsm import import_key, init_token

    folder = tmp_path_factory.mktemp("softhsm")
    old_conf = os.environ.get("SOFTHSM2_CONF")
    init_token(folder, "event-token", PIN)  # sets SOFTHSM2_CONF for this process and its children
    init_token(folder, "seal-token", PIN)
    init_token(folder, "ca-token", PIN)  # the issuing CA's key in a token (HSM-held CA)
    _, _, ca_der = pem.unarmor((pki.root / "certs" / "interm.pem").read_bytes())
    import_key("ca-token", "ca", pki.root / "keys" / "interm.key.pem", ca_der, PIN)
    _, _, der = pem.unarmor((pki.root / "certs" / "seal.pem").read_bytes())
    import_key("seal-token", "seal", pki.root / "keys" / "seal.key.pem", der, PIN)
    for i, name in enumerate(("interm", "root"), start=2):
        from dossier_station.signing.softhsm import write_cert

        _, _, cder = pem.unarmor((pki.root / "certs" / f"{name}.pem").read_bytes())
        write_cert("seal-token", name, cder, PIN, f"0{i}")
    yield folder
    if old_conf is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old_conf


@pytest.fixture(scope="session")
def station_profile(pki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("station") / "station.toml"
    r = pki.root
    p.write_text(f"""[signing]
ca = "{r / 'ca.p12'}"
crl_url = "{pki.crl_url}"
tsa_url = "{pki.tsa_url}"
escrow_cert = "{r / 'escrow.pem'}"
seal = "{r / 'seal.p12'}"
seal_unit = "DEMO 示范公安局"
trust = ["{r / 'root.pem'}"]
event_token = "pkcs11:token=event-token"
""", encoding="utf-8")
    return p
