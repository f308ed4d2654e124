"""``dossier pki init|serve``: a DEMO PKI for tests and the demo (root, CA, TSA, OCSP, escrow, seal)."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.console import Console

console = Console(highlight=False)


@click.group("pki")
def pki() -> None:
    """A DEMO public-key infrastructure (never for real cases)."""


@pki.command("init")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--port", type=int, default=9000, show_default=True,
              help="Loopback port `pki serve` will use (written into the certificates' URLs).")
def init(folder: Path, port: int) -> None:
    """Create a DEMO PKI in FOLDER: root.pem, CA, TSA, OCSP, escrow, unit seal, officers."""
    from dossier_station.signing.pki import DEMO_P12_PASSWORD, init_pki

    p = init_pki(folder, port)
    console.print(f"[bold yellow]DEMO PKI[/] — not for real cases — in {folder}")
    console.print(f"  root certificate   {folder / 'root.pem'}   (dossier verify --trust)")
    console.print(f"  issuing CA         {p.p12('ca')}    unit seal {p.p12('seal')}")
    console.print(f"  escrow certificate {folder / 'escrow.pem'}  (key: {folder / 'escrow.key.pem'})")
    console.print(f"  PKCS#12 PIN        {DEMO_P12_PASSWORD}  (export DOSSIER_PIN={DEMO_P12_PASSWORD})")
    console.print(f"  TSA {p.tsa_url}  — start the services with: dossier pki serve {folder}")


@pki.command("serve")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="Do not log each request.")
def serve(folder: Path, quiet: bool) -> None:
    """Serve FOLDER's TSA, OCSP and CRLs over HTTP on 127.0.0.1 until Ctrl-C."""
    from dossier_station.signing.pki import open_pki
    from dossier_station.signing.pki_serve import serve_forever

    p = open_pki(folder)
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    console.print(f"[bold yellow]DEMO PKI[/] serving on {p.prefix}: TSA {p.tsa_url}, CRL {p.crl_url}; Ctrl-C to stop",
                  soft_wrap=True)
    try:
        serve_forever(folder)
    except KeyboardInterrupt:
        console.print("[dim]stopped[/]")


COMMANDS = [pki]
