"""Biometric escrow: the raw capture, encrypted to an examiner, inside the signed PDF.

The handwriting dynamics (pen samples with timing and pressure, the raw ISDV4 stream) and the
fingerprint image are what a forensic examiner compares if the signature is ever disputed, and
what nobody else should read. They are zipped, encrypted as CMS EnvelopedData (AES-256-CBC,
RSA key transport — the only recipient type ``cryptography`` builds) to the escrow
certificate, and embedded as a PDF/A-3 associated file **before** the signature, so the
signature covers the blob and the event certificate carries its hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from dossier_station.core.errors import BadArgsError, InputFileError, OutputError
from dossier_station.core.files import sha256_bytes, write_bytes_atomic

ESCROW_NAME = "biometric-escrow.p7m"
ESCROW_MIME = "application/pkcs7-mime"
ESCROW_DESCRIPTION = "Encrypted biometric capture (CMS EnvelopedData) — for the escrow examiner only"
PARTS = ("manifest.json", "signature.json", "signature.isdv4", "signature.png", "fingerprint.png")


def load_escrow_cert(path: Path | None) -> x509.Certificate:
    if path is None:
        raise BadArgsError("no escrow certificate: the biometric capture cannot be sealed for the examiner",
                           hint="set [signing] escrow_cert (or --escrow-cert) to the examiner's RSA certificate")
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: escrow certificate not readable ({exc.strerror})", hint="check [signing] escrow_cert") from None
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError:
        raise InputFileError(f"{path}: not a certificate", hint="give the escrow certificate (PEM or DER)") from None
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise InputFileError(f"{path}: the escrow certificate's key is not RSA",
                             hint="CMS envelopes can be made for RSA recipients only; issue an RSA escrow certificate")
    return cert


def capture_zip(package: Path) -> bytes:
    """The package's parts in a deterministic zip (stored: PNGs and JSON gain little from deflate)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name in PARTS:
            p = package / name
            if p.exists():
                info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
                z.writestr(info, p.read_bytes())
    return buf.getvalue()


def envelope(payload: bytes, cert: x509.Certificate) -> bytes:
    return (pkcs7.PKCS7EnvelopeBuilder().set_data(payload).add_recipient(cert)
            .set_content_encryption_algorithm(algorithms.AES256)
            .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))  # Binary: no MIME line-ending rewrite


def open_envelope(blob: bytes, cert: x509.Certificate, key_pem: bytes, where: str) -> bytes:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise InputFileError(f"{where}: the escrow key is not an unencrypted PEM private key",
                             hint="give the examiner's key file (PEM, PKCS#8)") from None
    try:
        return pkcs7.pkcs7_decrypt_der(blob, cert, key, [])  # type: ignore[arg-type]
    except ValueError:
        raise InputFileError(f"{where}: this escrow key does not open the biometric envelope",
                             hint="use the key of the escrow certificate the envelope was made for") from None


def extract(blob: bytes, cert: x509.Certificate, key_pem: bytes, out_dir: Path,
            expected_capture_sha256: str | None, expected_blob_sha256: str | None) -> list[Path]:
    """Decrypt, check against the event certificate's hashes, write the parts into ``out_dir``."""
    if expected_blob_sha256 and sha256_bytes(blob) != expected_blob_sha256:
        raise InputFileError("the embedded biometric envelope is not the one the signature's certificate names",
                             hint="the file was altered after signing; do not rely on it")
    payload = open_envelope(blob, cert, key_pem, "escrow key")
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as z:
            files = {n: z.read(n) for n in z.namelist()}
    except (zipfile.BadZipFile, OSError):
        raise InputFileError("the decrypted biometric capture is damaged", hint="do not rely on it") from None
    manifest = files.get("manifest.json", b"")
    if expected_capture_sha256 and hashlib.sha256(manifest).hexdigest() != expected_capture_sha256:
        raise InputFileError("the decrypted capture's manifest does not match the event certificate",
                             hint="the envelope was replaced; do not rely on it")
    for part in json.loads(manifest or b"{}").get("parts", []):
        data = files.get(part.get("file", ""))
        if data is None or sha256_bytes(data) != part.get("sha256"):
            raise InputFileError(f"capture part {part.get('file')} does not match its manifest hash",
                                 hint="the capture is damaged; do not rely on it")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise OutputError(f"{out_dir}: exists and is not empty", hint="give a new folder for the extracted capture")
    return [write_bytes_atomic(out_dir / name, data).path for name, data in files.items()]
