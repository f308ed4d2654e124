"""``dossier sign``, ``dossier verify``, ``dossier seal``, ``dossier biometrics extract``.

Two kinds of ``sign``: with a long-lived key (``--pkcs12 FILE`` / ``--key pkcs11:…``: officers,
the unit) it adds one PAdES signature; with ``--signer`` it runs the interrogation-room
ceremony (pads or ``--capture``, event key, escrow, marks on every page). PINs come from the
environment variable the profile names (default ``DOSSIER_PIN``) or a prompt, never an option.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from dossier_station.core.errors import BadArgsError, ExitCode
from dossier_station.signing.pades import LEVELS

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

trust_option = click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                            help="Trusted root certificate (PEM/DER); repeatable. Default: [signing] trust.")


@click.command("sign")
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="The signed file (new).")
@click.option("--pkcs12", type=click.Path(path_type=Path), default=None, help="Long-lived key: a PKCS#12 file.")
@click.option("--key", default=None, help="Long-lived key: pkcs11:token=…;object=… URI.")
@click.option("--signer", default=None, help="Ceremony: the signer's name (e.g. 王小明); makes an event key.")
@click.option("--id-number", default=None, help="Ceremony: the signer's ID number (only a salted hash is kept).")
@click.option("--pen", "pen_port", default=None, help="Ceremony: pen pad port.")
@click.option("--finger", "finger_port", default=None, help="Ceremony: fingerprint sensor port.")
@click.option("--capture", "capture_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Ceremony: a capture package made with `capture-signature --document` for this file.")
@click.option("--at", "at", default=None, help="Place the mark/appearance at PAGE,X,Y,W,H (points; page -1 = last).")
@click.option("--anchor", default=None, help="Ceremony: sign next to this text of the transcript (e.g. 签名).")
@click.option("--software-key", is_flag=True, help="Ceremony on a TEST station: event key in memory, not in a token.")
@click.option("--escrow-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Escrow certificate (default: [signing] escrow_cert).")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="PAdES level (default: [signing] level, B-T).")
@click.option("--tsa", default=None, help="Timestamp authority URL (default: [signing] tsa_url).")
@click.option("--reason", default=None, help="Reason written into the signature.")
@click.option("--location", default=None, help="Location written into the signature.")
@trust_option
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
def sign(document: Path, out: Path, pkcs12: Path | None, key: str | None, signer: str | None, id_number: str | None,
         pen_port: str | None, finger_port: str | None, capture_dir: Path | None, at: str | None, anchor: str | None,
         software_key: bool, escrow_cert: Path | None, level: str | None, tsa: str | None, reason: str | None,
         location: str | None, trust_files: tuple[Path, ...], profile_path: str | None) -> None:
    """Sign DOCUMENT into -o OUT: a long-lived key, or the signing ceremony with --signer."""
    from dossier_station.station.signing_setup import load_setup

    setup = load_setup(profile_path)
    if signer is not None:
        if pkcs12 or key:
            raise BadArgsError("--signer runs the ceremony with an event key; --pkcs12/--key sign with a long-lived key",
                               hint="use one or the other")
        _ceremony(setup, document, out, signer, id_number or "", pen_port, finger_port, capture_dir, at, anchor,
                  software_key, escrow_cert, tsa, trust_files)
        return
    _sign_long_lived(setup, document, out, pkcs12, key, level, tsa, reason, location, at, trust_files)


def _sign_long_lived(setup, document, out, pkcs12, key, level, tsa, reason, location, at, trust_files) -> None:  # type: ignore[no-untyped-def]
    from dossier_station.core.journal import Journal
    from dossier_station.signing.appearance import signer_mark
    from dossier_station.signing.keys import open_signer
    from dossier_station.signing.pades import SignRequest, sign_file, trust_from_signer
    from dossier_station.station.signing_ceremony import parse_at

    ref = setup.key_ref(pkcs12, key, what="key")
    level = level or setup.table.level
    url = setup.tsa(tsa, level)
    placement = parse_at(at) if at else None
    with open_signer(ref, setup.pin(ref.describe())) as s:
        trust = setup.trust(trust_files)
        trust = trust_from_signer(s, trust.roots)
        name = s.signing_cert.subject.native.get("common_name", "")
        image = signer_mark((placement.box[2] - placement.box[0], placement.box[3] - placement.box[1]),
                            signature_png=None, fingerprint_png=None, lines=[name, reason or ""]) if placement else None
        req = SignRequest(level=level, reason=reason, location=location or setup.table.location, placement=placement,
                          image=image, tsa_url=url)
        sign_file(document, out, s, req, trust)
    from dossier_station.core.files import sha256_file

    sha = sha256_file(out)
    with Journal() as j:
        j.record("sign", str(out.resolve()), sha, source=str(document.resolve()), source_sha256=sha256_file(document),
                 signer=name, level=level)
    console.print(f"[green]✓[/] signed by {escape(name)} ({level}) → {escape(str(out))}  sha256 {sha[:16]}…", soft_wrap=True)


def _ceremony(setup, document, out, signer, id_number, pen_port, finger_port, capture_dir, at, anchor,  # type: ignore[no-untyped-def]
              software_key, escrow_cert, tsa, trust_files) -> None:
    import pikepdf

    from dossier_station.core.files import sha256_file
    from dossier_station.station.signing_ceremony import (
        ceremony_config,
    )

    if at and anchor:
        raise BadArgsError("give --at or --anchor, not both", hint="one place for the signature")
    if (capture_dir is None) == (pen_port is None and finger_port is None):
        raise BadArgsError("give the pads (--pen PORT --finger PORT) or a prior capture (--capture DIR)",
                           hint="one source for the signature and fingerprint")
    sha = sha256_file(document)
    try:
        with pikepdf.open(document) as pdf:
            pages = len(pdf.pages)
            title = str(pdf.docinfo.get("/Title", document.name))
    except pikepdf.PdfError:
        pages, title = 0, document.name
    console.print(f"[bold]document[/] {escape(title)} — {pages} page(s) — sha256 {sha}", soft_wrap=True)
    with contextlib.ExitStack() as stack:  # a PKCS#11 CA stays logged in until the signature is made
        cfg = ceremony_config(setup, trust_files=trust_files, tsa=tsa, software_key=software_key, escrow_cert=escrow_cert,
                              stack=stack)
        _ceremony_with(cfg, setup, document, out, signer, id_number, pen_port, finger_port, capture_dir, at, anchor, sha)


def _ceremony_with(cfg, setup, document, out, signer, id_number, pen_port, finger_port, capture_dir, at, anchor, sha) -> None:  # type: ignore[no-untyped-def]
    from dossier_station.core.journal import Journal
    from dossier_station.station.signing_ceremony import (
        capture_now,
        load_capture,
        parse_at,
        run_ceremony,
    )

    place = parse_at(at) if at else None
    if capture_dir is not None:
        capture, done = load_capture(capture_dir, sha), None
    else:
        if not pen_port or not finger_port:
            raise BadArgsError("both pads are needed", hint="pass --pen PORT and --finger PORT")
        from dossier_station.capture.signature import SignatureCaptureOptions
        from dossier_station.core.profile import load_profile

        opts = SignatureCaptureOptions.from_profile(load_profile(str(setup.profile.path) if setup.profile.path else None),
                                                    pen_port=pen_port, finger_port=finger_port, signer=signer)

        def report(level: str, message: str) -> None:
            if level != "progress":
                console.print(f"  {escape(message)}", soft_wrap=True)

        capture, done = capture_now(opts, document, sha, report)
    result = asyncio.run(run_ceremony(document, out, signer=signer, id_number=id_number, capture=capture, cfg=cfg,
                                      at=place, anchor=anchor, capture_done=done))
    with Journal() as j:
        j.record("sign", str(out.resolve()), result.sha256, source=str(document.resolve()), source_sha256=sha,
                 signer=signer, event_cert_serial=result.event_cert_serial, software_key=result.software_key)
    key_kind = "SOFTWARE event key (test station)" if result.software_key else "event key generated in the token, destroyed"
    console.print(f"[green]✓[/] {escape(signer)} signed ({key_kind}; event certificate {result.event_cert_serial[:16]}…) "
                  f"→ {escape(str(out))} in {result.seconds['total']:.2f} s", soft_wrap=True)


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report on stdout.")
@trust_option
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
def verify(files: tuple[Path, ...], as_json: bool, trust_files: tuple[Path, ...], profile_path: str | None) -> None:
    """Check every signature and timestamp, the PDF/A claim and the biometric binding; exit 0 only if all hold."""
    from dossier_station.signing.verify import verify_file
    from dossier_station.station.signing_report import print_report
    from dossier_station.station.signing_setup import load_setup

    setup = load_setup(profile_path)
    trust = setup.trust(trust_files)
    if not trust.roots:
        raise BadArgsError("no trusted root certificate", hint="pass --trust ROOT.pem or set [signing] trust")
    reports = [verify_file(f, trust) for f in files]
    from dossier_station.station.custody import record_access

    for f, r in zip(files, reports, strict=True):  # custody: every opening of a dossier is recorded
        record_access(f, "verified", ok=r.ok, by="dossier verify")
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in reports] if len(reports) > 1 else reports[0].as_dict(),
                              ensure_ascii=False, indent=1))
    else:
        for r in reports:
            print_report(r, console)
    if not all(r.ok for r in reports):
        raise SystemExit(int(ExitCode.other_error))


@click.group("biometrics")
def biometrics() -> None:
    """The encrypted biometric capture inside a signed transcript."""


@biometrics.command("extract")
@click.argument("signed", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--escrow-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The escrow examiner's private key (PEM).")
@click.option("--escrow-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The escrow certificate (default: the .pem beside the key, e.g. escrow.pem).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="New folder for the capture.")
def extract(signed: Path, escrow_key: Path, escrow_cert: Path | None, out: Path) -> None:
    """Decrypt the biometric capture for an examiner and check it against the event certificate."""
    from dossier_station.station.signing_report import extract_biometrics

    written = extract_biometrics(signed, escrow_key, escrow_cert, out)
    from dossier_station.station.custody import record_access

    record_access(signed, "viewed", by="biometrics extract", extracted_to=str(out))  # custody: recorded
    for p in written:
        console.print(f"  {escape(str(p))}")
    console.print(f"[green]✓[/] capture decrypted and matches the event certificate → {escape(str(out))}")


def _seal_cmd():  # type: ignore[no-untyped-def]
    from dossier_station.station.signing_seal import seal

    return seal


COMMANDS = [sign, verify, biometrics, _seal_cmd()]
