"""An issuing CA whose key stays in a PKCS#11 token (HSM): certificates signed inside the token.

``cryptography``'s certificate builder signs only with keys it holds, so the event certificate
is built and signed with a throwaway key of the CA's key type (same signature algorithm, hence
the same TBSCertificate bytes), and its TBS part is then signed by the token and the certificate
reassembled. The CA's certificate is read from the token object with the same label.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from dossier_station.signing.keys import KeyAccessError, KeyRef


class TokenCaKey:
    """The CA key as an object in an open PKCS#11 session (``sign_tbs`` signs inside the token)."""

    def __init__(self, session: Any, ref: KeyRef) -> None:
        from pkcs11 import Attribute, KeyType, ObjectClass

        label = ref.label or ""
        try:
            self.key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
            cert_obj = next(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}))
        except Exception as exc:
            raise KeyAccessError(f"{ref.describe()}: no CA key and certificate labelled {label!r} in the token ({exc})",
                                 hint="import the CA key and its certificate under one label") from None
        self.cert = x509.load_der_x509_certificate(cert_obj[Attribute.VALUE])
        self.kind = "rsa" if self.key.key_type == KeyType.RSA else "ec"

    def sign_tbs(self, tbs: bytes) -> bytes:
        from pkcs11 import Mechanism
        from pkcs11.util.ec import encode_ecdsa_signature

        if self.kind == "rsa":
            return bytes(self.key.sign(tbs, mechanism=Mechanism.SHA256_RSA_PKCS))
        return encode_ecdsa_signature(bytes(self.key.sign(hashlib.sha256(tbs).digest(), mechanism=Mechanism.ECDSA)))


@cache
def _throwaway(kind: str) -> Any:
    return rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())


def sign_in_token(builder: x509.CertificateBuilder, key: TokenCaKey) -> x509.Certificate:
    draft = builder.sign(_throwaway(key.kind), hashes.SHA256())
    tbs = draft.tbs_certificate_bytes
    cert = asn1_x509.Certificate({
        "tbs_certificate": asn1_x509.TbsCertificate.load(tbs),
        "signature_algorithm": {"algorithm": "sha256_rsa" if key.kind == "rsa" else "sha256_ecdsa"},
        "signature_value": key.sign_tbs(tbs),
    })
    return x509.load_der_x509_certificate(cert.dump())
