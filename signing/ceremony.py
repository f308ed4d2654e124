"""The interrogation-room signature, from a capture to a signed transcript (plain data in, file out).

Order matters and each step serves art. 13 of the Electronic Signature Law:
envelope the raw capture to the escrow examiner → draw the signer's mark on the pages and
attach the envelope (the prepared revision) → make the event key in the token → certify it
with the hashes of the transcript, the prepared revision, the capture and the envelope → sign
once (PAdES B-T, visible on the last page) → destroy the key. The capture package and the
reading of pads belong to ``capture/``; ``station/`` hands the bytes in.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pikepdf

from dossier_station.core.errors import BadArgsError, DossierError
from dossier_station.core.files import AtomicOutput
from dossier_station.signing import escrow
from dossier_station.signing.appearance import signer_mark
from dossier_station.signing.event import (
    EventFacts,
    IssuingCa,
    ca_chain_asn1,
    issue_event_cert,
    salted_id_hash,
    software_event_key,
    to_asn1,
    token_event_key,
)
from dossier_station.signing.keys import KeyRef
from dossier_station.signing.pades import (
    Placement,
    Services,
    SignRequest,
    Trust,
    check_certificate,
    open_input,
    pdfa_claim,
    sign_bytes,
    verify_signed,
)
from dossier_station.signing.prepare import Mark, foot_box, page_boxes, prepare


@dataclass(frozen=True)
class Capture:
    """What the pads produced, as bytes (read from a capture package by the station)."""

    signature_png: bytes
    fingerprint_png: bytes
    manifest: bytes  # manifest.json of the package, hashed into the event certificate
    raw_zip: bytes  # every part, zipped, for the escrow envelope


@dataclass
class CeremonyConfig:
    ca: IssuingCa
    trust: Trust
    tsa_url: str | None
    escrow_cert: Any  # cryptography certificate (RSA)
    token: KeyRef | None = None
    token_pin: str = ""
    software_key: bool = False
    validity: timedelta = timedelta(minutes=10)
    location: str | None = None
    level: str = "B-T"


@dataclass
class CeremonyResult:
    output: Path
    sha256: str
    event_cert_serial: str
    event_cert_sha256: str
    software_key: bool
    seconds: dict[str, float] = field(default_factory=dict)


def plan_marks(data: bytes, *, at: Placement | None, anchor: Placement | None) -> tuple[list[Mark], Placement]:
    """Foot of every page by default, the last page's mark being the signature itself;
    ``anchor``: the last page signs next to the anchor instead; ``at``: only there."""
    boxes = page_boxes(data)
    if at is not None:
        return [], at
    last = len(boxes) - 1
    marks = [Mark(i, foot_box(b)) for i, b in enumerate(boxes) if i != last]
    if anchor is not None:
        if anchor.page % len(boxes) != last:
            marks.append(Mark(last, foot_box(boxes[last])))
        return marks, anchor
    return marks, Placement(last, foot_box(boxes[last]))


async def sign_transcript(document: bytes, src: Path, out: Path, *, signer_name: str, id_number: str, capture: Capture,
                          cfg: CeremonyConfig, at: Placement | None = None, anchor: Placement | None = None,
                          capture_done: float | None = None) -> CeremonyResult:
    """The whole signature after the capture; nothing is written unless every step succeeds."""
    t0 = capture_done or time.monotonic()
    if not signer_name.strip():
        raise DossierError("the signer's name is empty", hint="pass --signer 姓名")
    if not id_number.strip():
        raise DossierError("the signer's ID number is empty", hint="pass --id-number (only a salted hash is kept)")
    if cfg.token is None and not cfg.software_key:
        raise BadArgsError("no PKCS#11 token for the event key is configured",
                           hint="set [signing] event_token = \"pkcs11:token=…\" or, on a test station only, pass --software-key")
    pages = open_input(document, src)
    doc_sha = hashlib.sha256(document).hexdigest()
    blob = escrow.envelope(capture.raw_zip, cfg.escrow_cert)
    when = datetime.now().astimezone()
    marks, widget = plan_marks(document, at=at, anchor=anchor)
    size = (widget.box[2] - widget.box[0], widget.box[3] - widget.box[1])
    mark = signer_mark(size, signature_png=capture.signature_png, fingerprint_png=capture.fingerprint_png,
                       lines=[signer_name, when.strftime("%Y-%m-%d %H:%M")])
    prepared = prepare(document, marks=marks, mark_image=mark,
                       attachment=(escrow.ESCROW_NAME, blob, escrow.ESCROW_MIME, escrow.ESCROW_DESCRIPTION), when=when)
    with pikepdf.open(io.BytesIO(prepared)) as pdf:
        claim = pdfa_claim(pdf)
    t_prepared = time.monotonic()
    facts = EventFacts(signer=signer_name, id_hash=salted_id_hash(id_number), document_sha256=doc_sha,
                       content_sha256=hashlib.sha256(prepared).hexdigest(), content_length=len(prepared),
                       capture_sha256=hashlib.sha256(capture.manifest).hexdigest(),
                       biometric_sha256=hashlib.sha256(blob).hexdigest(), software_key=cfg.software_key,
                       event_id=f"{when:%Y%m%d%H%M%S}-{doc_sha[:8]}")
    reason = "本人确认笔录内容 / signer confirms the transcript"
    if cfg.software_key:
        reason += " — TEST STATION: software event key, not for real cases"
    known = {c.dump() for c in cfg.trust.others}
    cfg.trust.others += [c for c in ca_chain_asn1(cfg.ca) if c.dump() not in known and not c.self_issued]
    keys = software_event_key() if cfg.software_key else token_event_key(cfg.token, cfg.token_pin)  # type: ignore[arg-type]
    async with Services(cfg.trust, cfg.tsa_url) as svc:
        with keys as ek:
            cert = issue_event_cert(cfg.ca, ek.public_key, facts, validity=cfg.validity)
            asn1_cert = to_asn1(cert)
            await check_certificate(asn1_cert, cfg.trust)
            req = SignRequest(level=cfg.level, field_name="Signature-" + facts.event_id, reason=reason,
                              location=cfg.location, name=signer_name, placement=widget, image=mark, tsa_url=cfg.tsa_url)
            signed = await sign_bytes(prepared, ek.signer(cert, cfg.ca), req, cfg.trust, timestamper=svc.timestamper)
    t_signed = time.monotonic()
    w = AtomicOutput(out, verify=verify_signed(pages, claim))
    with w as tmp:
        tmp.write_bytes(signed)
    assert w.result is not None
    done = time.monotonic()
    return CeremonyResult(out, w.result.sha256, format(cert.serial_number, "x"), hashlib.sha256(asn1_cert.dump()).hexdigest(),
                          cfg.software_key, {"prepare": t_prepared - t0, "key+cert+sign": t_signed - t_prepared,
                                             "write": done - t_signed, "total": done - t0})
