"""The interrogation-room ceremony, composed: the pads (capture/) → the signature (signing/).

``dossier sign TRANSCRIPT --signer … --id-number … --pen P --finger P`` captures now, bound to
the transcript's SHA-256; ``--capture DIR`` uses a package made earlier with
``dossier capture-signature --document TRANSCRIPT`` and refuses one bound to another document.
The anchor search (``--anchor 签名``) reads the transcript's text layer with pdfium here, so
signing/ needs no text extractor.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from dossier_station.core.errors import BadArgsError, InputFileError
from dossier_station.signing import escrow
from dossier_station.signing.ceremony import (
    Capture,
    CeremonyConfig,
    CeremonyResult,
    sign_transcript,
)
from dossier_station.signing.event import IssuingCa
from dossier_station.signing.keys import parse_key_ref
from dossier_station.signing.pades import Placement
from dossier_station.station.signing_setup import SigningSetup


def parse_at(text: str) -> Placement:
    """``PAGE,X,Y,W,H`` (page from 1, or -1 for the last; points from the bottom left)."""
    try:
        page, x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise BadArgsError(f"--at {text}: expected PAGE,X,Y,W,H", hint="e.g. --at -1,380,80,170,56 (points)") from None
    if not all(math.isfinite(v) for v in (page, x, y, w, h)) or page != int(page) or page == 0:
        raise BadArgsError(f"--at {text}: PAGE is 1, 2, … or -1 (last), X Y W H finite numbers", hint="e.g. --at -1,380,80,170,56")
    if w <= 0 or h <= 0:
        raise BadArgsError(f"--at {text}: width and height must be positive", hint="W and H are in points")
    p = int(page)
    return Placement(p - 1 if p > 0 else p, (x, y, x + w, y + h))


def find_anchor(pdf: Path, anchor: str, size: tuple[float, float] = (170.0, 56.0)) -> Placement:
    """Right of the line holding ``anchor`` (last occurrence, searched from the last page)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    try:
        for index in range(len(doc) - 1, -1, -1):
            page = doc[index]
            tp = page.get_textpage()
            hit, found = tp.search(anchor), None
            while (r := hit.get_next()) is not None:
                found = r
            if found is None:
                continue
            start, count = found
            x0, y0, x1, y1 = tp.get_charbox(start + count - 1)
            i = start + count
            while i < tp.count_chars():  # to the end of that text line
                bx0, by0, bx1, by1 = tp.get_charbox(i)
                if abs(by0 - y0) > 3 or bx1 <= 0:
                    break
                x1 = max(x1, bx1)
                i += 1
            pw, _ = page.get_size()
            w, h = size
            left = min(x1 + 6, pw - w - 20)
            return Placement(index, (left, y0 - h / 2 + 4, left + w, y0 + h / 2 + 4))
    finally:
        doc.close()
    raise InputFileError(f"{pdf}: the text {anchor!r} is not in the transcript's text layer",
                         hint="check the anchor text, or use --at PAGE,X,Y,W,H")


def load_capture(folder: Path, document_sha256: str) -> Capture:
    """A finished capture package bound to this document, its parts checked against the manifest."""
    from dossier_station.core.formats.capture_package import read_capture_package

    manifest = read_capture_package(folder)  # format, every part's size and SHA-256
    bound = ((manifest.model_extra or {}).get("document") or {}).get("sha256")
    if not bound:
        raise InputFileError(f"{folder}: the capture is not bound to a document",
                             hint="capture with `dossier capture-signature --document TRANSCRIPT.pdf`")
    if bound != document_sha256:
        raise InputFileError(f"{folder}: the capture was made for another document (SHA-256 {bound[:16]}…, "
                             f"this transcript is {document_sha256[:16]}…)",
                             hint="the signer must sign the transcript they read; capture again for this file")
    return Capture((folder / "signature.png").read_bytes(), (folder / "fingerprint.png").read_bytes(),
                   (folder / "manifest.json").read_bytes(), escrow.capture_zip(folder))


def capture_now(opts, document: Path, document_sha256: str, report) -> tuple[Capture, float]:  # type: ignore[no-untyped-def]
    """Run the pads now, bound to the document; returns the capture and when it ended."""
    from dossier_station.capture.signature import capture_signature

    with tempfile.TemporaryDirectory(prefix="dossier-capture-") as tmp:
        pkg = capture_signature(opts, Path(tmp) / "capture", report,
                                document={"sha256": document_sha256, "name": document.name})
        done = time.monotonic()
        return load_capture(pkg, document_sha256), done


def ceremony_config(setup: SigningSetup, *, trust_files: tuple[Path, ...], tsa: str | None, software_key: bool,
                    escrow_cert: Path | None, stack: contextlib.ExitStack | None = None) -> CeremonyConfig:
    """The ceremony's keys and services from the profile; a PKCS#11 CA's session lives in ``stack``."""
    t = setup.table
    if not t.ca:
        raise BadArgsError("no issuing CA for event certificates", hint="set [signing] ca = \"ca.p12\" (or a pkcs11: URI) in the profile")
    if str(t.ca).startswith("pkcs11:"):
        if stack is None:
            raise BadArgsError("[signing] ca is a PKCS#11 URI: this caller cannot keep the token open",
                               hint="use `dossier sign`, or a PKCS#12 CA")
        from dossier_station.signing.keys import pkcs11_session

        ref = parse_key_ref(t.ca, module=t.pkcs11_module)
        pin = setup.pin(f"issuing CA {ref.describe()}")
        ca = IssuingCa.from_token(stack.enter_context(pkcs11_session(ref, pin)), ref, crl_url=t.crl_url)
    else:
        ca_path = setup.path(t.ca)
        assert ca_path is not None
        try:
            ca_bytes = ca_path.read_bytes()
        except OSError as exc:
            raise InputFileError(f"{ca_path}: issuing CA not readable ({exc.strerror})", hint="check [signing] ca") from None
        pin = setup.pin(f"issuing CA {ca_path.name}")
        ca = IssuingCa.from_pkcs12(ca_bytes, pin, crl_url=t.crl_url, where=str(ca_path))
    token = None if software_key else (parse_key_ref(t.event_token, module=t.pkcs11_module) if t.event_token else None)
    level = t.level
    return CeremonyConfig(ca=ca, trust=setup.trust(trust_files), tsa_url=setup.tsa(tsa, level),
                          escrow_cert=escrow.load_escrow_cert(escrow_cert or setup.path(t.escrow_cert)),
                          token=token, token_pin=setup.pin("event token") if token else "", software_key=software_key,
                          validity=timedelta(minutes=t.event_minutes), location=t.location, level=level)


async def run_ceremony(document: Path, out: Path, *, signer: str, id_number: str, capture: Capture, cfg: CeremonyConfig,
                       at: Placement | None, anchor: str | None, capture_done: float | None) -> CeremonyResult:
    try:
        data = document.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{document}: cannot read ({exc.strerror})", hint="check the path") from None
    where = find_anchor(document, anchor) if anchor else None
    return await sign_transcript(data, document, out, signer_name=signer, id_number=id_number, capture=capture, cfg=cfg,
                                 at=at, anchor=where, capture_done=capture_done)
