"""A small RFC 3161 client: ask a TSA to timestamp a digest, and check a stored token later.

Used by custody anchors (``station.custody``): the journal's chain head is a SHA-256, sent as
the message imprint as it is, so a token proves that exactly that head existed at the TSA's
``genTime``. pyHanko does the protocol (request, nonce, response status) and the CMS signature
check; this module adds what custody needs around it — a synchronous call with a clear error
when the TSA is unreachable, and a verdict that separates "the token is intact and signed over
this digest" from "the TSA is trusted" (a station may check the first without a trust root).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from asn1crypto import cms, pem, tsp, x509

from dossier_station.core.errors import DossierError, ExitCode


class TimestampError(DossierError):
    """The TSA could not be reached or refused the request; nothing was timestamped."""

    exit_code = ExitCode.other_error


@dataclass(frozen=True)
class TokenCheck:
    """What a stored token proves: ``intact`` (signature valid, imprint = the digest given),
    ``trusted`` (TSA certificate chains to a given root; None when no root was given)."""

    intact: bool
    trusted: bool | None
    gen_time: datetime | None
    tsa: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.intact and self.trusted is not False


def _run(coro):  # type: ignore[no-untyped-def]
    """Run a coroutine from sync code, also when called inside a running loop (a web handler)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def request_token(url: str, digest: bytes, *, timeout: float = 10.0) -> tuple[bytes, datetime]:
    """Timestamp a SHA-256 ``digest`` at the TSA ``url``; returns (DER token, the TSA's genTime)."""
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError
    from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

    if len(digest) != 32:
        raise ValueError("digest must be a SHA-256 (32 bytes)")
    stamper = RequestsHTTPTimeStamper(url, timeout=timeout)
    try:
        token = _run(stamper.async_timestamp(digest, "sha256"))
    except TimestampRequestError as exc:
        if "communication" in str(exc):  # pyHanko wraps connection failures in this error
            raise TimestampError(f"TSA {url} is unreachable", hint="check the network and the [custody] tsa URL; the anchor will be retried") from None
        raise TimestampError(f"TSA {url} refused the timestamp request ({exc})", hint="check the [custody] tsa URL and the TSA's status") from None
    except OSError as exc:  # requests' errors are IOErrors: unreachable, timeout, HTTP error
        raise TimestampError(f"TSA {url} is unreachable ({type(exc).__name__})", hint="check the network and the [custody] tsa URL; the anchor will be retried") from None
    return token.dump(), _gen_time(token)


def _gen_time(token: cms.ContentInfo) -> datetime:
    info = token["content"]["encap_content_info"]["content"].parsed
    return info["gen_time"].native


def load_certs(paths: list[Path]) -> list[x509.Certificate]:
    certs = []
    for p in paths:
        data = Path(p).read_bytes()
        if pem.detect(data):
            certs += [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
        else:
            certs.append(x509.Certificate.load(data))
    return certs


def verify_token(token: bytes, digest: bytes, *, trust_roots: list[Path] | None = None) -> TokenCheck:
    """Check a stored token against ``digest``: CMS signature, message imprint, and (given roots)
    the TSA's certificate path. Never raises for a bad token: the verdict says what is wrong."""
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    try:
        info = cms.ContentInfo.load(token)
        signed = info["content"]
        tst = signed["encap_content_info"]["content"].parsed
        if not isinstance(tst, tsp.TSTInfo):
            return TokenCheck(False, None, None, "?", "not a timestamp token")
        gen_time = tst["gen_time"].native
        tsa = _tsa_name(signed)
        imprint = tst["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint["hashed_message"].native != digest:
            return TokenCheck(False, None, gen_time, tsa, "the token timestamps a different chain head")
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        return TokenCheck(False, None, None, "?", f"the token is unreadable ({type(exc).__name__})")
    roots = load_certs(trust_roots) if trust_roots else None
    vc = ValidationContext(trust_roots=roots) if roots else ValidationContext()
    try:
        with _quiet_pyhanko():
            status = _run(validate_tst_signed_data(signed, vc, lambda _alg: digest))
    except Exception as exc:  # pyHanko raises several families for malformed CMS
        return TokenCheck(False, None, gen_time, tsa, f"the token's signature cannot be checked ({exc})")
    intact = bool(status.get("intact")) and bool(status.get("valid"))
    trusted = bool(status.get("trust_problem_indic") is None) if roots else None
    reason = "" if intact else "the token's signature does not verify"
    if intact and trusted is False:
        reason = f"the TSA ({tsa}) does not chain to the trusted root"
    return TokenCheck(intact, trusted, gen_time, tsa, reason)


@contextlib.contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """pyHanko logs a traceback when it cannot build a path to a root; the verdict says it already."""
    loggers = [logging.getLogger(n) for n in ("pyhanko", "pyhanko_certvalidator")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _tsa_name(signed: cms.SignedData) -> str:
    for c in signed["certificates"] or []:
        cert = c.chosen
        if isinstance(cert, x509.Certificate) and "time_stamping" in (cert.extended_key_usage_value.native if cert.extended_key_usage_value else []):
            return str(cert.subject.human_friendly)
    return "unknown TSA"
