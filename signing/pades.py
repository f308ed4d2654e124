"""PAdES signing that keeps PDF/A: B-B, B-T (RFC 3161 timestamp), B-LT and B-LTA.

Three things pyHanko does by default would break the archive format or the law's tests, so
this layer does them differently:

* ``PdfASigner`` registers only the ESIC extension: pyHanko's default, for an ECDSA P-256 key,
  adds ISO/TS 32002 and sets catalog ``/Version /2.0``, which no PDF/A part allows.
* The signer's certificate is checked *before* signing (validity now, chain to a trusted root,
  revocation with hard-fail), so an expired or revoked certificate, or an unreachable OCSP/CRL
  service, is a clear refusal instead of a signature that fails later.
* Every signed file is written through ``AtomicOutput`` and verified (whole, same page count,
  PDF/A claim kept, no pikepdf PDF/A "violation") before it takes its final name.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pikepdf

from dossier_station.core.errors import (
    DossierError,
    EncryptedPdfError,
    ExitCode,
    InputFileError,
    OutputError,
)
from dossier_station.core.files import AtomicOutput
from dossier_station.core.pdfcheck import check_pdf
from dossier_station.signing.keys import CertificateStatusError

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
RESERVE, RESERVE_TS = 12288, 16384  # hex digits for /Contents: CMS with chain; plus an RFC 3161 token


class ServiceError(DossierError):
    """A TSA, OCSP or CRL service did not answer: nothing was signed."""

    exit_code = ExitCode.other_error


@dataclass(frozen=True)
class Placement:
    """Where the visible appearance goes: page index (negative from the end) and box in pt."""

    page: int
    box: tuple[float, float, float, float]
    from_right: bool = False  # x measured leftwards from the page's right edge (pages differ in width)


@dataclass(frozen=True)
class SignRequest:
    level: str = "B-T"
    field_name: str | None = None
    reason: str | None = None
    location: str | None = None
    name: str | None = None
    placement: Placement | None = None
    image: Any = None  # PIL image for the appearance (raster)
    tsa_url: str | None = None


@dataclass
class Trust:
    """Roots and intermediates for the pre-sign check, LT revocation data and verification.

    ``http`` is the one aiohttp session every TSA, OCSP and CRL request of a run goes through
    (set by :class:`Services`); without it pyHanko opens a session per request and leaks it.
    """

    roots: list = field(default_factory=list)  # asn1crypto x509.Certificate
    others: list = field(default_factory=list)
    http: Any = None

    def context(self, *, fetch: bool = True, moment: datetime | None = None):  # type: ignore[no-untyped-def]
        from pyhanko_certvalidator import ValidationContext

        backend = None
        if fetch and self.http is not None:
            from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend

            backend = AIOHttpFetcherBackend(self.http)
        return ValidationContext(trust_roots=self.roots or None, other_certs=self.others, allow_fetching=fetch,
                                 revocation_mode="hard-fail", moment=moment, fetcher_backend=backend)


class Services:
    """``async with Services(trust, tsa_url) as svc:`` — one HTTP session for a run's requests."""

    def __init__(self, trust: Trust, tsa_url: str | None = None) -> None:
        self.trust, self.tsa_url = trust, tsa_url
        self.timestamper: Any = None

    async def __aenter__(self) -> Services:
        import aiohttp

        self.trust.http = aiohttp.ClientSession()
        if self.tsa_url:
            from pyhanko.sign.timestamps import HTTPTimeStamper

            self.timestamper = HTTPTimeStamper(self.tsa_url, timeout=10, session=self.trust.http)
        return self

    async def __aexit__(self, *exc: object) -> None:
        http, self.trust.http = self.trust.http, None
        if http is not None:
            await http.close()


def load_certs(path: Path) -> list:
    from pyhanko.keys import load_certs_from_pemder

    try:
        return list(load_certs_from_pemder([str(path)]))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{path}: not a PEM/DER certificate file ({exc})", hint="give the root certificate, e.g. pki/root.pem") from None


def trust_from_signer(signer: Any, extra_roots: list | None = None) -> Trust:
    """Roots = given ones, else the self-signed certificates the key file carries with it."""
    certs = list(getattr(signer, "cert_registry", None) or [])
    roots = list(extra_roots or []) or [c for c in certs if c.self_issued]
    return Trust(roots=roots, others=[c for c in certs if not c.self_issued])


def _ensure_esic(w) -> None:  # type: ignore[no-untyped-def]
    from pyhanko.sign.signers.pdf_signer import (
        _ensure_esic_ext,  # pinned pyHanko 0.38 (underscore API)
    )

    _ensure_esic_ext(w)


def pdfa_signer_class():  # type: ignore[no-untyped-def]
    from pyhanko.sign import fields, signers

    class PdfASigner(signers.PdfSigner):
        def register_extensions(self, pdf_out, *, md_algorithm):  # type: ignore[no-untyped-def]
            if self.signature_meta.subfilter == fields.SigSeedSubFilter.PADES:
                _ensure_esic(pdf_out)

    return PdfASigner


async def check_certificate(cert: Any, trust: Trust, *, fetch: bool = True, moment: datetime | None = None) -> None:
    """Refuse an expired, not-yet-valid, revoked or untrusted signer certificate before signing."""
    from pyhanko_certvalidator import CertificateValidator
    from pyhanko_certvalidator.errors import (
        ExpiredError,
        InvalidCertificateError,
        NotYetValidError,
        PathBuildingError,
        RevokedError,
    )

    who = cert.subject.native.get("common_name") or cert.subject.human_friendly
    now = moment or datetime.now(UTC)
    if cert.not_valid_after < now:
        raise CertificateStatusError(f"certificate of {who} expired on {cert.not_valid_after:%Y-%m-%d %H:%M:%S} UTC",
                                     hint="a new signature needs a valid certificate; renew the key's certificate")
    if cert.not_valid_before > now:
        raise CertificateStatusError(f"certificate of {who} is not valid before {cert.not_valid_before:%Y-%m-%d %H:%M} UTC",
                                     hint="check the station clock")
    validator = CertificateValidator(cert, intermediate_certs=trust.others,
                                     validation_context=trust.context(fetch=fetch, moment=moment))
    try:
        await validator.async_validate_usage({"digital_signature"})
    except RevokedError as exc:
        raise CertificateStatusError(f"certificate of {who} is revoked ({exc})",
                                     hint="this key must not sign; use another key") from None
    except (ExpiredError, NotYetValidError) as exc:
        raise CertificateStatusError(f"certificate of {who}: {exc}", hint="renew the certificate") from None
    except PathBuildingError as exc:
        raise CertificateStatusError(f"certificate of {who} does not chain to a trusted root ({exc})",
                                     hint="give the root with --trust or [signing] trust") from None
    except InvalidCertificateError as exc:
        msg = str(exc)
        if "revocation" in msg.lower() or "fetch" in msg.lower() or "crl" in msg.lower() or "ocsp" in msg.lower():
            raise ServiceError(f"certificate of {who}: revocation status unavailable ({msg})",
                               hint="the OCSP/CRL service did not answer; start it (dossier pki serve) or check the network") from None
        raise CertificateStatusError(f"certificate of {who} is not usable ({msg})", hint="check the certificate") from None


def open_input(data: bytes, src: Path) -> int:
    """Page count of a readable, unencrypted PDF; refuse anything else before work starts."""
    return inspect_input(data, src)[0]


def inspect_input(data: bytes, src: Path) -> tuple[int, str | None]:
    """Page count and PDF/A claim of a readable, unencrypted PDF (one parse)."""
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if pdf.is_encrypted:
                raise EncryptedPdfError(f"{src}: the PDF is encrypted", hint="sign the unencrypted original")
            return len(pdf.pages), pdfa_claim(pdf)
    except pikepdf.PasswordError:
        raise EncryptedPdfError(f"{src}: the PDF is password-protected", hint="sign the unencrypted original") from None
    except pikepdf.PdfError as exc:
        why = str(exc).split(": ", 1)[-1] if str(exc).startswith("stream <") else str(exc)
        raise InputFileError(f"{src}: not a readable PDF ({why})", hint="check the file; nothing was signed") from None


def pdfa_claim(pdf: pikepdf.Pdf) -> str | None:
    """The PDF/A flavour the XMP claims (``2b``, ``3b``…), or None."""
    try:
        meta = pdf.open_metadata()
        part, conf = meta.get("pdfaid:part"), meta.get("pdfaid:conformance")
    except Exception:
        return None
    return f"{part}{str(conf or '').lower()}" if part else None


def pdfa_violations(pdf: pikepdf.Pdf, flavour: str) -> list[str]:
    """pikepdf's allowlist check; "unsupported" (AcroForm, DSS…) is expected after signing."""
    report = pikepdf.pdfa.check(pdf, flavour)
    return [f"{f.rule} at {f.where}: {f.message}" for f in report.findings if f.kind == "violation"]


def verify_signed(pages: int, claim: str | None):  # type: ignore[no-untyped-def]
    """The AtomicOutput verify step for a signed file."""

    def check(tmp: Path) -> None:
        check_pdf(tmp, pages=pages, what="signed PDF")
        if claim:
            with pikepdf.open(tmp) as pdf:
                now = pdfa_claim(pdf)
                if now != claim:
                    raise OutputError(f"{tmp}: signing changed the PDF/A claim {claim} → {now}", hint="this is a bug; please report it")
                bad = pdfa_violations(pdf, claim)
                if bad:
                    raise OutputError(f"{tmp}: the signed file breaks PDF/A-{claim}: {bad[0]}", hint="this is a bug; please report it")

    return check


async def sign_bytes(data: bytes, signer: Any, req: SignRequest, trust: Trust, *, timestamper: Any = None) -> bytes:
    """One PAdES signature as an incremental update of ``data``; returns the new file's bytes."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.timestamps import TimestampRequestError

    from dossier_station.signing.appearance import stamp_style

    if req.level not in LEVELS:
        raise DossierError(f"signature level {req.level!r} unknown", hint=f"use one of {', '.join(LEVELS)}")
    lt = req.level in ("B-LT", "B-LTA")
    if req.level != "B-B" and timestamper is None:
        raise DossierError(f"PAdES {req.level} needs a timestamp authority", hint="set [signing] tsa_url or pass --tsa URL, or use --level B-B")
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    existing = {f[0] for f in fields.enumerate_sig_fields(w.prev)}
    name = req.field_name or _free_name(existing)
    spec = None
    if req.placement is not None:
        page = _page_index(w, req.placement.page)
        box = req.placement.box
        if req.placement.from_right:
            page_obj = w.prev.find_page_for_modification(page)[0].get_object()
            right = float((page_obj.get("/MediaBox") or [0, 0, 595.28, 841.89])[2])
            box = (right - box[2], box[1], right - box[0], box[3])
        spec = fields.SigFieldSpec(name, on_page=page, box=box)
    elif name not in existing:
        spec = fields.SigFieldSpec(name)
    meta = signers.PdfSignatureMetadata(
        field_name=name, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        reason=req.reason, location=req.location, name=req.name,
        embed_validation_info=lt, use_pades_lta=req.level == "B-LTA",
        validation_context=trust.context() if lt else None)
    style = stamp_style(req.image) if (req.image is not None and req.placement is not None) else None
    pdf_signer = pdfa_signer_class()(meta, signer=signer, timestamper=timestamper if req.level != "B-B" else None,
                                     stamp_style=style, new_field_spec=spec)
    out = io.BytesIO()
    try:
        try:
            # A fixed reservation spares pyHanko its size estimate, a whole dry-run CMS per file.
            await pdf_signer.async_sign_pdf(w, output=out, bytes_reserved=RESERVE_TS if timestamper else RESERVE)
        except SigningError as exc:
            if "reserved" not in str(exc).lower() and "too small" not in str(exc).lower() and "larger" not in str(exc).lower():
                raise
            w, out = IncrementalPdfFileWriter(io.BytesIO(data), strict=False), io.BytesIO()
            await pdf_signer.async_sign_pdf(w, output=out)  # an unusually large CMS: let pyHanko measure it
    except TimestampRequestError as exc:
        raise ServiceError(f"timestamp authority {req.tsa_url or ''} did not answer ({exc})",
                           hint="start the TSA (dossier pki serve DIR) or check [signing] tsa_url; nothing was signed") from None
    except DossierError:
        raise
    except Exception as exc:
        msg = f"{type(exc).__name__}: {exc}"
        if "fetch" in msg.lower() or "revocation" in msg.lower() or "ClientConnector" in msg:
            raise ServiceError(f"revocation data unavailable ({msg})", hint="start the OCSP/CRL service; nothing was signed") from None
        raise DossierError(f"signing failed ({msg})", hint="nothing was written; check the key and the input") from exc
    return out.getvalue()


def _page_index(w, page: int) -> int:  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader: PdfFileReader = w.prev
    n = int(reader.root["/Pages"]["/Count"])
    idx = page if page >= 0 else n + page
    if not 0 <= idx < n:
        raise DossierError(f"page {page + 1 if page >= 0 else page} does not exist (the PDF has {n} pages)", hint="check --at PAGE")
    return idx


def _free_name(existing: set[str]) -> str:
    i = 1
    while f"Signature{i}" in existing:
        i += 1
    return f"Signature{i}"


async def sign_file_async(src: Path, dst: Path, signer: Any, req: SignRequest, trust: Trust, *,
                          timestamper: Any = None, precheck: bool = True, data: bytes | None = None) -> Path:
    """Sign ``src`` into ``dst`` (atomic, verified); ``src`` is never modified."""
    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise DossierError(f"{dst}: the output would overwrite the input", hint="give another -o; the original is kept as evidence")
    if data is None:
        try:
            data = src.read_bytes()
        except OSError as exc:
            raise InputFileError(f"{src}: cannot read ({exc.strerror})", hint="check the path") from None
    pages, claim = inspect_input(data, src)
    if precheck:
        await check_certificate(signer.signing_cert, trust)
    signed = await sign_bytes(data, signer, req, trust, timestamper=timestamper)
    with AtomicOutput(dst, verify=verify_signed(pages, claim)) as tmp:
        tmp.write_bytes(signed)
    return dst


def sign_file(src: Path, dst: Path, signer: Any, req: SignRequest, trust: Trust, **kw: Any) -> Path:
    """One file, one event loop, one HTTP session (the CLI's single ``dossier sign``)."""

    async def run() -> Path:
        async with Services(trust, req.tsa_url) as svc:
            return await sign_file_async(src, dst, signer, req, trust, timestamper=svc.timestamper, **kw)

    return asyncio.run(run())
