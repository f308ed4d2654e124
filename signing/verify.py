"""``dossier verify``: every signature and timestamp of a file, judged the AdES way.

An event certificate lives ten minutes; a transcript must stand for decades. A validator that
asks "is the certificate valid *now*?" calls every ceremony signature invalid an hour later.
So each signature goes through pyHanko's AdES long-term validation (``ades_lta_validation``):
the signature timestamp, the DSS revocation data and the document timestamps prove the
certificate was valid when the signature was made. The report also says what each signature
covers, what changed after it (none / allowed / illegal), whether the PDF/A claim still holds,
whether the biometric envelope is the one the event certificate names, and — for a dossier
volume — the same for every signed original attached to it. ``ok`` only when all of it holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pikepdf

from dossier_station.core.errors import EncryptedPdfError, InputFileError
from dossier_station.signing.escrow import ESCROW_NAME
from dossier_station.signing.event import read_binding
from dossier_station.signing.pades import Trust, pdfa_claim, pdfa_violations

MOD_WORDS = {"NONE": "none", "LTA_UPDATES": "allowed (long-term validation data)",
             "FORM_FILLING": "allowed (later signatures / form filling)", "ANNOTATIONS": "allowed (annotations)",
             "OTHER": "ILLEGAL (content changed after signing)"}


@dataclass
class SignatureReport:
    field: str
    kind: str  # "signature" | "document timestamp"
    signer: str = ""
    issuer: str = ""
    signing_time: str | None = None  # from the signature timestamp (trusted), else claimed
    time_source: str = ""
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    revoked: bool = False
    coverage: str = ""
    modifications: str = ""
    ades: str = ""
    event_certificate: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    ok: bool = False


@dataclass
class FileReport:
    path: str
    sha256: str
    pdfa_claim: str | None = None
    pdfa_violations: list[str] = field(default_factory=list)
    signatures: list[SignatureReport] = field(default_factory=list)
    biometrics: list[dict[str, Any]] = field(default_factory=list)
    attached_originals: list[FileReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ok: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quiet_pyhanko() -> None:
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _spec(trust: Trust):  # type: ignore[no-untyped-def]
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
    from pyhanko.sign.validation.policy_decl import (
        LocalKnowledge,
        PdfSignatureValidationSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import (
        REQUIRE_REVINFO,
        CertRevTrustPolicy,
        FreshnessReqType,
    )
    from pyhanko_certvalidator.registry import SimpleTrustManager

    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=trust.roots),
        revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO, freshness=None,
                                          freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION))
    return PdfSignatureValidationSpec(SignatureValidationSpec(cert_validation_policy=policy,
                                                              local_knowledge=LocalKnowledge(known_certs=trust.others)),
                                      diff_policy=DEFAULT_DIFF_POLICY)


def _name(cert: Any) -> str:
    if cert is None:
        return "?"
    n = cert.subject.native
    return n.get("common_name") or cert.subject.human_friendly


def _dss_context(dss: Any, trust: Trust, moment: Any = None):  # type: ignore[no-untyped-def]
    """A validation context from the file's own DSS (no network), at ``moment`` if given."""
    return dss.as_validation_context({"trust_roots": trust.roots, "other_certs": trust.others, "allow_fetching": False,
                                      "revocation_mode": "hard-fail", "moment": moment, "retroactive_revinfo": True})


async def _offline(sig: Any, trust: Trust, dss: Any, moment: Any):  # type: ignore[no-untyped-def]
    """B-LT/B-LTA without the network: the revocation data the file carries, at the proven signing time."""
    from pyhanko.sign.validation import async_validate_pdf_signature

    try:
        st = await async_validate_pdf_signature(sig, signer_validation_context=_dss_context(dss, trust, moment))
    except Exception:
        return None
    return st if st.bottom_line else None


async def _check_signature(sig: Any, trust: Trust, data: bytes, dss: Any = None) -> SignatureReport:
    from pyhanko.sign.validation.ades import ades_lta_validation

    rep = SignatureReport(field=str(sig.field_name), kind="signature")
    try:
        cert = sig.signer_cert
        rep.signer, rep.issuer = _name(cert), (cert.issuer.native.get("common_name", "") if cert else "")
    except Exception as exc:  # the CMS container itself is damaged
        rep.problems.append(f"the signature container is damaged ({type(exc).__name__})")
        return rep
    try:
        res = await ades_lta_validation(sig, _spec(trust))
    except Exception as exc:  # a malformed signature must be reported, not crash the verifier
        rep.problems.append(f"cannot be validated: {exc}")
        return rep
    st = res.api_status
    rep.ades = str(res.ades_subindic).split(".")[-1]
    if st is None:
        rep.problems.append(res.failure_msg or "no validation result")
        return rep
    embedded = False
    if not st.bottom_line and dss is not None:  # e.g. offline: use the evidence the file carries
        moment = st.timestamp_validity.timestamp if st.timestamp_validity is not None else None
        alt = await _offline(sig, trust, dss, moment)
        if alt is not None:
            st, embedded = alt, True
    rep.intact, rep.valid, rep.trusted, rep.revoked = bool(st.intact), bool(st.valid), bool(st.trusted), bool(st.revoked)
    rep.coverage = st.coverage.name if st.coverage else ""
    rep.modifications = MOD_WORDS.get(st.modification_level.name, st.modification_level.name) if st.modification_level else ""
    ts = st.timestamp_validity
    if ts is not None:
        rep.signing_time, rep.time_source = ts.timestamp.isoformat(timespec="seconds"), "signature timestamp (RFC 3161)"
        if embedded:
            rep.time_source += "; certificates checked at that time with the revocation data embedded in the file"
        if not (ts.intact and ts.valid and ts.trusted):
            rep.problems.append("the signature timestamp is not valid or not trusted")
    elif st.signer_reported_dt is not None:
        rep.signing_time, rep.time_source = st.signer_reported_dt.isoformat(timespec="seconds"), "claimed by the signer"
    if not rep.intact:
        rep.problems.append("the signed bytes were changed (digest mismatch)")
    elif not rep.valid:
        rep.problems.append("the cryptographic signature does not verify")
    if rep.revoked:
        rep.problems.append("the signer's certificate is revoked")
    elif not rep.trusted:
        rep.problems.append("the signer's certificate does not chain to a trusted root or its status is unknown")
    if st.modification_level and st.modification_level.name == "OTHER" or not st.docmdp_ok:
        rep.problems.append("the document was changed after this signature in a way signatures do not allow")
    try:
        binding = read_binding(cert) if cert is not None else None
    except Exception:  # an EventBinding that does not parse is a damaged event certificate
        binding = None
        rep.problems.append("the event certificate's binding extension is damaged")
    if binding is not None:
        prefix = data[: binding["content_length"]]
        binding["content_matches"] = hashlib.sha256(prefix).hexdigest() == binding["content_sha256"]
        rep.event_certificate = binding
        if not binding["content_matches"]:
            rep.problems.append("the signed revision is not the one the event certificate names")
        if binding["software_key"]:
            rep.problems.append("note: TEST STATION software event key (not a token key)")
    rep.ok = bool(st.bottom_line) and not [p for p in rep.problems if not p.startswith("note:")]
    return rep


async def _check_timestamp(ts: Any, trust: Trust, dss: Any = None) -> SignatureReport:
    from pyhanko.sign.validation import async_validate_pdf_timestamp

    rep = SignatureReport(field=str(ts.field_name), kind="document timestamp")
    try:
        st = await async_validate_pdf_timestamp(ts, validation_context=trust.context(fetch=True))
        if not st.trusted and dss is not None:  # offline: the TSA's status from the file's DSS
            alt = await async_validate_pdf_timestamp(ts, validation_context=_dss_context(dss, trust))
            st = alt if alt.trusted else st
    except Exception as exc:
        rep.problems.append(f"cannot be validated: {exc}")
        return rep
    try:
        rep.signer = _name(ts.signer_cert)
    except Exception:
        rep.problems.append("the timestamp container is damaged")
        return rep
    rep.intact, rep.valid, rep.trusted = bool(st.intact), bool(st.valid), bool(st.trusted)
    rep.signing_time, rep.time_source = st.timestamp.isoformat(timespec="seconds"), "document timestamp"
    rep.coverage = st.coverage.name if getattr(st, "coverage", None) else ""
    lvl = getattr(st, "modification_level", None)
    rep.modifications = MOD_WORDS.get(lvl.name, lvl.name) if lvl else ""
    if not (rep.intact and rep.valid):
        rep.problems.append("the document timestamp does not verify")
    elif not rep.trusted:
        rep.problems.append("the TSA certificate does not chain to a trusted root")
    if lvl is not None and lvl.name == "OTHER":
        rep.problems.append("the document was changed after this timestamp")
    rep.ok = not rep.problems
    return rep


async def verify_bytes(data: bytes, name: str, trust: Trust, *, depth: int = 0) -> FileReport:
    from pyhanko.pdf_utils.reader import PdfFileReader

    from dossier_station.signing.pades import Services

    _quiet_pyhanko()
    rep = FileReport(path=name, sha256=hashlib.sha256(data).hexdigest())
    attachments: dict[str, bytes] = {}
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if pdf.is_encrypted:
                raise EncryptedPdfError(f"{name}: the PDF is encrypted", hint="verify the unencrypted file")
            rep.pdfa_claim = pdfa_claim(pdf)
            if rep.pdfa_claim:
                rep.pdfa_violations = pdfa_violations(pdf, rep.pdfa_claim)
            for key, spec in pdf.attachments.items():
                attachments[key] = spec.get_file().read_bytes()
    except pikepdf.PasswordError:
        raise EncryptedPdfError(f"{name}: the PDF is password-protected", hint="verify the unencrypted file") from None
    except pikepdf.PdfError as exc:
        raise InputFileError(f"{name}: not a readable PDF ({exc})", hint="check the file") from None
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        sigs, stamps = list(reader.embedded_regular_signatures), list(reader.embedded_timestamp_signatures)
    except Exception as exc:
        raise InputFileError(f"{name}: the PDF's signature structure is broken ({exc})", hint="the file was damaged or altered") from None
    dss = _read_dss(reader)
    async with Services(trust):
        for sig in sigs:
            rep.signatures.append(await _check_signature(sig, trust, data, dss))
        for ts in stamps:
            rep.signatures.append(await _check_timestamp(ts, trust, dss))
    if not sigs:
        rep.problems.append("the file carries no signature")
    if rep.pdfa_violations:
        rep.problems.append(f"PDF/A-{rep.pdfa_claim} broken: {rep.pdfa_violations[0]}")
    for s in rep.signatures:
        binding = s.event_certificate
        if binding is None:
            continue
        blob = attachments.get(ESCROW_NAME)
        entry = {"signature": s.field, "attachment": ESCROW_NAME, "present": blob is not None,
                 "matches_certificate": blob is not None and hashlib.sha256(blob).hexdigest() == binding["biometric_sha256"]}
        rep.biometrics.append(entry)
        if not entry["matches_certificate"]:
            rep.problems.append(f"biometric envelope {ESCROW_NAME} is missing or not the one signature {s.field} certifies")
    if depth == 0:
        for key, blob in attachments.items():
            if blob[:5] == b"%PDF-" and b"/ByteRange" in blob:
                sub = await verify_bytes(blob, f"{name} ▸ {key}", trust, depth=1)
                rep.attached_originals.append(sub)
                if not sub.ok:
                    rep.problems.append(f"attached signed original {key} does not verify")
    rep.ok = not rep.problems and all(s.ok for s in rep.signatures)
    return rep


def _read_dss(reader: Any):  # type: ignore[no-untyped-def]
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    try:
        return DocumentSecurityStore.read_dss(reader)
    except Exception:  # no DSS (B-B/B-T) or an unreadable one: validation goes online
        return None


def verify_file(path: Path, trust: Trust) -> FileReport:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})", hint="check the path") from None
    return asyncio.run(verify_bytes(data, str(path), trust))
