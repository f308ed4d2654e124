"""Event certificates: one key pair per signing ceremony, certified at once, destroyed after.

Art. 13 (1)(2) of the Electronic Signature Law asks that the creation data belong to the signer
alone and be under the signer's sole control when signing. A suspect has no smart card, so
the station makes one key for this one act: generated inside a PKCS#11 token as a sensitive,
non-extractable *session* object (it cannot leave the token and vanishes with the session),
certified for minutes by the station's issuing CA with the signer's name, a salted hash of the
ID number and the hashes of the document and the capture in a non-critical extension
(``EventBinding``), used for one signature, and destroyed. ``--software-key`` makes the key in
process memory instead — a test station only, and the signature's reason says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dossier_station.signing.keys import KeyAccessError, KeyRef, pkcs11_session

# Private-enterprise-style OID for the demo; a deployment registers its own arc.
EVENT_BINDING_OID = "1.3.6.1.4.1.59999.7.1"
SHA256_OID = "2.16.840.1.101.3.4.2.1"
P256_OID = "1.2.840.10045.3.1.7"


class EventBinding(core.Sequence):
    """What the event certificate vouches for, beside the name: this document, this capture."""

    _fields = [
        ("hash_alg", core.ObjectIdentifier),
        ("document_hash", core.OctetString),  # the transcript as presented to the signer
        ("content_hash", core.OctetString),  # the prepared revision that is signed (marks + escrow)
        ("content_length", core.Integer),
        ("capture_hash", core.OctetString),  # manifest.json of the capture package
        ("biometric_hash", core.OctetString),  # the encrypted escrow blob embedded in the PDF
        ("event_id", core.UTF8String),
        ("software_key", core.Boolean),
    ]


@dataclass(frozen=True)
class EventFacts:
    signer: str
    id_hash: str  # salted hash of the ID number (never the number itself)
    document_sha256: str
    content_sha256: str
    content_length: int
    capture_sha256: str
    biometric_sha256: str
    software_key: bool = False
    event_id: str = ""


def salted_id_hash(id_number: str, salt: bytes | None = None) -> str:
    """``salt-hex:sha256-hex`` (64 characters, the X.520 serialNumber limit) — enough to confirm a known ID, useless to read one off a certificate."""
    salt = salt or secrets.token_bytes(8)
    return f"{salt.hex()}:{hashlib.sha256(salt + id_number.strip().encode()).hexdigest()}"[:64]


def binding_der(f: EventFacts) -> bytes:
    return EventBinding({
        "hash_alg": SHA256_OID, "document_hash": bytes.fromhex(f.document_sha256),
        "content_hash": bytes.fromhex(f.content_sha256), "content_length": f.content_length,
        "capture_hash": bytes.fromhex(f.capture_sha256), "biometric_hash": bytes.fromhex(f.biometric_sha256),
        "event_id": f.event_id, "software_key": f.software_key}).dump()


def read_binding(cert: asn1_x509.Certificate) -> dict[str, Any] | None:
    """The EventBinding of an event certificate as hex strings, or None for other certificates."""
    for ext in cert["tbs_certificate"]["extensions"] or []:
        if ext["extn_id"].dotted == EVENT_BINDING_OID:
            b = EventBinding.load(ext["extn_value"].native)
            return {"document_sha256": b["document_hash"].native.hex(), "content_sha256": b["content_hash"].native.hex(),
                    "content_length": b["content_length"].native, "capture_sha256": b["capture_hash"].native.hex(),
                    "biometric_sha256": b["biometric_hash"].native.hex(), "event_id": b["event_id"].native,
                    "software_key": bool(b["software_key"].native)}
    return None


@dataclass
class IssuingCa:
    """The station's issuing CA (from a PKCS#12 file): key, certificate, chain, CRL URL."""

    key: Any  # cryptography private key, or a TokenCaKey (PKCS#11)
    cert: x509.Certificate
    chain: list[x509.Certificate]
    crl_url: str | None = None

    @classmethod
    def from_pkcs12(cls, data: bytes, pin: str, crl_url: str | None = None, where: str = "CA") -> IssuingCa:
        from cryptography.hazmat.primitives.serialization import pkcs12

        try:
            key, cert, chain = pkcs12.load_key_and_certificates(data, pin.encode())
        except (ValueError, TypeError):
            raise KeyAccessError(f"{where}: wrong PIN or not a PKCS#12 file", hint="check the CA's PIN and [signing] ca") from None
        if key is None or cert is None:
            raise KeyAccessError(f"{where}: the PKCS#12 file holds no key/certificate", hint="export the CA with its key")
        return cls(key, cert, list(chain or []), crl_url)

    @classmethod
    def from_token(cls, session: Any, ref: KeyRef, crl_url: str | None = None, chain: list[x509.Certificate] | None = None) -> IssuingCa:
        from dossier_station.signing.ca_token import TokenCaKey

        key = TokenCaKey(session, ref)
        return cls(key, key.cert, list(chain or []), crl_url)


def issue_event_cert(ca: IssuingCa, public_key: Any, facts: EventFacts, *, validity: timedelta = timedelta(minutes=10),
                     not_before: datetime | None = None) -> x509.Certificate:
    """Certify ``public_key`` for this event only: minutes of validity, the binding inside."""
    now = datetime.now(UTC)
    start = not_before or (now - timedelta(minutes=1))  # a minute of grace for clock skew
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.COMMON_NAME, facts.signer),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, facts.id_hash),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"event {facts.event_id}"),
    ])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.cert.subject).public_key(public_key)
         .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(now + validity)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()), critical=False)
         .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(EVENT_BINDING_OID), binding_der(facts)),
                        critical=False))
    if ca.crl_url:
        b = b.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(ca.crl_url)], relative_name=None, reasons=None, crl_issuer=None)]),
            critical=False)
    if hasattr(ca.key, "sign_tbs"):  # the CA key lives in a token
        from dossier_station.signing.ca_token import sign_in_token

        return sign_in_token(b, ca.key)
    return b.sign(ca.key, hashes.SHA256())


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def ca_chain_asn1(ca: IssuingCa) -> list[asn1_x509.Certificate]:
    return [to_asn1(c) for c in [ca.cert, *ca.chain]]


@dataclass
class EventKey:
    """A fresh event key: ``public_key`` to certify; ``signer(cert)`` gives the pyHanko signer."""

    public_key: Any
    software: bool
    _private: Any = None
    _session: Any = None
    key_id: bytes = b""

    def signer(self, cert: x509.Certificate, ca: IssuingCa):  # type: ignore[no-untyped-def]
        from pyhanko.sign import signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        chain = SimpleCertificateStore.from_certs(ca_chain_asn1(ca))
        if self.software:
            from asn1crypto import keys as asn1_keys

            pki = asn1_keys.PrivateKeyInfo.load(self._private.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            return signers.SimpleSigner(signing_cert=to_asn1(cert), signing_key=pki, cert_registry=chain)
        from pyhanko.sign.pkcs11 import PKCS11Signer

        return PKCS11Signer(self._session, signing_cert=to_asn1(cert), key_id=self.key_id,
                            ca_chain=list(chain), use_raw_mechanism=True)


@contextlib.contextmanager
def software_event_key() -> Iterator[EventKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    ek = EventKey(key.public_key(), True, _private=key)
    try:
        yield ek
    finally:
        ek._private = None  # Python cannot zeroise; dropping the reference is all it can do


@contextlib.contextmanager
def token_event_key(ref: KeyRef, pin: str) -> Iterator[EventKey]:
    """Generate a non-extractable P-256 session key in the token; destroy it on exit."""
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    key_id = b"ev" + os.urandom(8)
    with pkcs11_session(ref, pin) as session:
        params = session.create_domain_parameters(  # type: ignore[attr-defined]
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(P256_OID)}, local=True)
        pub, priv = params.generate_keypair(
            store=False, id=key_id, label="dossier-event",
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True})
        try:
            public = serialization.load_der_public_key(encode_ec_public_key(pub))
            yield EventKey(public, False, _session=session, key_id=key_id)
        finally:
            for obj in (priv, pub):
                with contextlib.suppress(Exception):
                    obj.destroy()
            leftovers = list(session.get_objects({Attribute.ID: key_id, Attribute.CLASS: ObjectClass.PRIVATE_KEY}))  # type: ignore[attr-defined]
            if leftovers:
                raise KeyAccessError(f"{ref.describe()}: the event key could not be destroyed",
                                     hint="remove objects labelled dossier-event from the token by hand")
