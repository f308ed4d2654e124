"""The demo's signing steps (after the build): DEMO PKI, ceremony, unit seal, verification.

Everything real, nothing mocked: the PKI's TSA/OCSP/CRL answer over HTTP on 127.0.0.1 for the
run, the event key is generated in a SoftHSM2 token kept in the demo folder, the capture is
the one the emulated pads made, bound to the demo transcript. Afterwards
``dossier pki serve demo-out/pki`` brings the services back for ``dossier seal``/``verify``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path

from rich.console import Console

from dossier_station.signing.pki import DEFAULT_PORT, DEMO_P12_PASSWORD


def _port() -> int:
    """9000 when free (the documented one), else any free loopback port."""
    for port in (DEFAULT_PORT, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise OSError("no free loopback port")


def station_profile(out: Path, pki, token: bool) -> Path:  # type: ignore[no-untyped-def]
    """demo-out/station.toml: [signing] pointing at the demo PKI (paths relative to it)."""
    lines = ["# DEMO station profile written by `dossier demo` — the keys are DEMO keys, not for real cases",
             "[signing]", 'ca = "pki/ca.p12"', f'crl_url = "{pki.crl_url}"', f'tsa_url = "{pki.tsa_url}"',
             'escrow_cert = "pki/escrow.pem"', 'seal = "pki/seal.p12"', 'seal_unit = "DEMO 示范公安局"',
             'trust = ["pki/root.pem"]', 'location = "DEMO 示范市公安局"']
    if token:
        lines.append('event_token = "pkcs11:token=dossier-event"  # SoftHSM2: export SOFTHSM2_CONF=softhsm/softhsm2.conf')
    from dossier_station.core.files import write_bytes_atomic

    return write_bytes_atomic(out / "station.toml", ("\n".join(lines) + "\n").encode()).path


def run_signing_demo(out: Path, volumes: list[Path], package: Path, transcript: Path, console: Console) -> list[Path]:
    from dossier_station.core.journal import Journal
    from dossier_station.signing.pki import init_pki
    from dossier_station.signing.pki_serve import BackgroundPki
    from dossier_station.signing.verify import verify_file
    from dossier_station.station.signing_ceremony import ceremony_config, load_capture, run_ceremony
    from dossier_station.station.signing_report import print_report
    from dossier_station.station.signing_seal import prepare_seal, seal_files, seal_request
    from dossier_station.station.signing_setup import load_setup

    os.environ.setdefault("DOSSIER_PIN", DEMO_P12_PASSWORD)  # DEMO: the demo PKI's PIN
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    pki = init_pki(out / "pki", _port())
    console.print(f"  DEMO PKI in {pki.root} (root certificate {pki.root / 'root.pem'}), services on {pki.prefix}")
    token = True
    try:
        from dossier_station.signing.softhsm import init_token

        init_token(out / "softhsm", "dossier-event", os.environ["DOSSIER_PIN"])
    except Exception as exc:  # no SoftHSM2: the demo says so and uses a software event key
        console.print(f"  [yellow]![/] no SoftHSM2 token ({exc}); software event key (test station)")
        token = False
    profile = station_profile(out, pki, token)
    setup = load_setup(str(profile))
    signed = out / "signed"
    signed.mkdir(exist_ok=True)
    outputs: list[Path] = []
    with BackgroundPki(pki.root), Journal() as journal:
        from dossier_station.core.files import sha256_file

        doc_sha = sha256_file(transcript)
        cfg = ceremony_config(setup, trust_files=(), tsa=None, software_key=not token, escrow_cert=None)
        result = asyncio.run(run_ceremony(transcript, signed / transcript.name, signer="王小明",
                                          id_number="110101199003051234", capture=load_capture(package, doc_sha),
                                          cfg=cfg, at=None, anchor=None, capture_done=None))
        journal.record("sign", str(result.output.resolve()), result.sha256, source=str(transcript.resolve()),
                       source_sha256=doc_sha, signer="王小明", event_cert_serial=result.event_cert_serial)
        console.print(f"  transcript signed by 王小明 (event key in the token, destroyed) in "
                      f"{result.seconds['total']:.2f} s → {result.output}")
        outputs.append(result.output)
        ref, pin, trust, unit = prepare_seal(setup, None, None, ())
        req = seal_request(setup, setup.table.seal_level, None, False, unit)
        for o in seal_files([(v, signed / v.name) for v in volumes], setup, ref, pin, trust, req, jobs=1, show=False):
            if o.ok:
                outputs.append(o.dst)
        console.print("[bold]verification[/] (dossier verify --trust pki/root.pem):")
        for path in outputs:
            print_report(verify_file(path, setup.trust()), console, "  ")
    return outputs
