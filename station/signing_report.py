"""The human side of verification: a summary a clerk or a judge's assistant can read, and escrow
extraction for the examiner (which needs the event certificate the verifier reads)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from dossier_station.core.errors import InputFileError
from dossier_station.signing.verify import FileReport


def _mark(ok: bool) -> str:
    return "[green]✓[/]" if ok else "[bold red]✗[/]"


def print_report(r: FileReport, console: Console, indent: str = "") -> None:
    verdict = "[bold green]VALID[/]" if r.ok else "[bold red]NOT VALID[/]"
    console.print(f"{indent}{verdict}  {escape(r.path)}", soft_wrap=True)
    console.print(f"{indent}  sha256 {r.sha256}", soft_wrap=True)
    pdfa = f"PDF/A-{r.pdfa_claim}" if r.pdfa_claim else "no PDF/A claim"
    console.print(f"{indent}  {_mark(not r.pdfa_violations)} {pdfa}"
                  + (f" — {escape(r.pdfa_violations[0])}" if r.pdfa_violations else " (no violations found)"), soft_wrap=True)
    for s in r.signatures:
        head = "signature" if s.kind == "signature" else "document timestamp"
        console.print(f"{indent}  {_mark(s.ok)} {head} [bold]{escape(s.field)}[/] by {escape(s.signer)}"
                      + (f" (issued by {escape(s.issuer)})" if s.issuer else ""), soft_wrap=True)
        if s.signing_time:
            console.print(f"{indent}      time {s.signing_time} — {s.time_source}")
        crypto = "intact" if s.intact else "ALTERED"
        cert = "revoked" if s.revoked else ("trusted" if s.trusted else "NOT trusted")
        console.print(f"{indent}      bytes {crypto}; certificate {cert}; covers {s.coverage.lower().replace('_', ' ') or '?'}; "
                      f"changes after it: {s.modifications or '?'}" + (f"; AdES {s.ades}" if s.ades else ""), soft_wrap=True)
        if s.event_certificate:
            e = s.event_certificate
            console.print(f"{indent}      event certificate: transcript {e['document_sha256'][:16]}…, capture "
                          f"{e['capture_sha256'][:16]}…, signed revision {'matches' if e['content_matches'] else 'DIFFERS'}"
                          + ("; SOFTWARE key (test station)" if e["software_key"] else "; key made in the token"), soft_wrap=True)
        for p in s.problems:
            console.print(f"{indent}      [yellow]![/] {escape(p)}", soft_wrap=True)
    for b in r.biometrics:
        console.print(f"{indent}  {_mark(b['matches_certificate'])} biometric envelope {b['attachment']} "
                      + ("matches the event certificate" if b["matches_certificate"] else "MISSING or REPLACED"))
    for sub in r.attached_originals:
        console.print(f"{indent}  attached signed original:")
        print_report(sub, console, indent + "    ")
    for p in r.problems:
        console.print(f"{indent}  [bold red]✗[/] {escape(p)}", soft_wrap=True)


def extract_biometrics(signed: Path, key: Path, cert_path: Path | None, out: Path) -> list[Path]:
    """Find the event signature's envelope, decrypt it, check it against the certificate's hashes."""
    import pikepdf
    from pyhanko.pdf_utils.reader import PdfFileReader

    from dossier_station.signing import escrow
    from dossier_station.signing.event import read_binding

    data = signed.read_bytes()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        bindings = [b for s in reader.embedded_regular_signatures if (b := read_binding(s.signer_cert))]
        with pikepdf.open(io.BytesIO(data)) as pdf:
            spec = pdf.attachments.get(escrow.ESCROW_NAME)
            blob = spec.get_file().read_bytes() if spec is not None else None
    except (pikepdf.PdfError, ValueError) as exc:
        raise InputFileError(f"{signed}: not a readable signed PDF ({exc})", hint="check the file") from None
    if blob is None or not bindings:
        raise InputFileError(f"{signed}: no biometric envelope or no event signature in this file",
                             hint="only transcripts signed in the ceremony carry one")
    cert_path = cert_path or _beside(key)
    cert = escrow.load_escrow_cert(cert_path)
    b = bindings[0]
    return escrow.extract(blob, cert, key.read_bytes(), out, b["capture_sha256"], b["biometric_sha256"])


def _beside(key: Path) -> Path:
    for candidate in (key.with_name(key.name.replace(".key.pem", ".pem")), key.with_suffix(".crt"), key.parent / "escrow.pem"):
        if candidate.exists() and candidate != key:
            return candidate
    raise InputFileError(f"{key}: no escrow certificate beside the key", hint="pass --escrow-cert CERT")
