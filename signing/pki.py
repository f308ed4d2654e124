"""A demo PKI for tests and the demo: root, issuing (event) CA, TSA, OCSP, escrow, unit seal.

Everything it makes is marked DEMO in its names, because a station that signs with these keys
signs nothing a court should trust. Certomancer describes the PKI (``certomancer.yml``) and
serves its TSA, OCSP and CRLs (``dossier pki serve``); the keys are generated here with
``cryptography`` (certomancer does not generate keys). The files a station needs are dumped
next to the config, so signing never depends on certomancer being importable:

```
DIR/certomancer.yml   the PKI description (arch "demo"), URLs under http://127.0.0.1:PORT
DIR/keys/*.key.pem    PKCS#8 keys (unencrypted: DEMO ONLY)
DIR/root.pem          the root certificate (--trust for dossier verify)
DIR/certs/*.pem       every certificate
DIR/ca.p12            the issuing CA's key + certificate (issues event certificates)
DIR/seal.p12          the unit seal key, certificate and chain
DIR/officer.p12, officer-revoked.p12, officer-expired.p12   long-lived officer keys (tests)
DIR/escrow.pem, DIR/escrow.key.pem   the RSA escrow recipient (biometric envelope)
DIR/pki.json          ports, URLs, the PKCS#12 password
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from dossier_station.core.errors import BadArgsError, InputFileError
from dossier_station.core.files import write_bytes_atomic, write_json_atomic

ARCH = "demo"
DEMO_P12_PASSWORD = "1234"  # DEMO: the PIN of every PKCS#12 file the demo PKI writes
DEFAULT_PORT = 9000
EC_KEYS = ("tsa", "ocsp", "seal", "officer", "officer2")
# The CAs sign with RSA (PKCS#1 v1.5 is deterministic), so certomancer re-derives byte-identical
# certificates every time it loads the config: the files dumped here and the ones it serves agree.
RSA_KEYS = {"root": 2048, "interm": 2048, "escrow": 3072}
CERT_LABELS = ("root", "interm", "ocsp", "tsa", "seal", "officer", "officer2", "officer-revoked",
               "officer-expired", "escrow")
P12_FILES = {"ca": "interm", "seal": "seal", "officer": "officer", "officer-revoked": "officer-revoked",
             "officer-expired": "officer-expired", "officer2": "officer2"}


@dataclass(frozen=True)
class DemoPki:
    """Where a demo PKI lives and the URLs its services answer on."""

    root: Path
    port: int

    @property
    def prefix(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def tsa_url(self) -> str:
        return f"{self.prefix}/{ARCH}/tsa/tsa"

    @property
    def crl_url(self) -> str:
        """The issuing CA's CRL; event certificates point here (certomancer has no OCSP for them)."""
        return f"{self.prefix}/{ARCH}/crls/interm/latest.crl"

    @property
    def config(self) -> Path:
        return self.root / "certomancer.yml"

    def p12(self, name: str) -> Path:
        return self.root / f"{name}.p12"


def open_pki(root: Path) -> DemoPki:
    try:
        info = json.loads((root / "pki.json").read_text())
    except (OSError, ValueError):
        raise InputFileError(f"{root}: not a demo PKI folder (no pki.json)",
                             hint="create one with `dossier pki init DIR`") from None
    return DemoPki(root, int(info["port"]))


def _ku(*usages: str) -> dict:
    return {"id": "key_usage", "critical": True, "smart-value": {"schema": "key-usage", "params": list(usages)}}


def _leaf_ext(usages: tuple[str, ...], ocsp: bool = True) -> list[dict]:
    ext = [_ku(*usages), {"id": "crl_distribution_points",
                          "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["interm"]}}}]
    if ocsp:
        ext.append({"id": "authority_information_access",
                    "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": ["interm"]}}})
    return ext


def certomancer_config(pki: DemoPki, now: datetime) -> dict:
    """The PKI as certomancer YAML (a dict): who issues what, and which services answer."""
    iso = "%Y-%m-%dT%H:%M:%S+0000"
    start = (now - timedelta(days=1)).strftime(iso)
    end = (now + timedelta(days=3650)).strftime(iso)
    long = {"valid-from": start, "valid-to": end}
    ca_ext = [{"id": "basic_constraints", "critical": True, "value": {"ca": True}},
              _ku("digital_signature", "key_cert_sign", "crl_sign")]
    keys = {k: {"path": f"keys/{k}.key.pem"} for k in (*EC_KEYS, *RSA_KEYS)}
    o = "DEMO 示范公安局 (NOT FOR REAL CASES)"
    entities = {
        "root": {"common-name": "DEMO Root CA — not for real cases"},
        "interm": {"common-name": "DEMO Issuing CA (event certificates)"},
        "tsa": {"common-name": "DEMO Time Stamping Authority"},
        "ocsp": {"common-name": "DEMO OCSP responder"},
        "seal": {"organizational-unit-name": "DEMO 办案单位", "common-name": "DEMO 示范公安局 单位印章"},
        "officer": {"organizational-unit-name": "DEMO 侦查员", "common-name": "DEMO 张警官"},
        "officer2": {"organizational-unit-name": "DEMO 侦查员", "common-name": "DEMO 李警官"},
        "escrow": {"organizational-unit-name": "DEMO 司法鉴定", "common-name": "DEMO Biometric escrow"},
    }
    certs: dict[str, dict] = {
        "root": {"subject": "root", "subject-key": "root", "issuer": "root", "authority-key": "root",
                 "validity": long, "extensions": ca_ext},
        "interm": {"issuer": "root", "validity": long, "extensions": [
            *ca_ext, {"id": "crl_distribution_points",
                      "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}}}]},
        "ocsp": {"issuer": "interm", "validity": long, "extensions": [
            _ku("digital_signature"), {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
            {"id": "ocsp_no_check"}]},
        "tsa": {"issuer": "root", "validity": long, "extensions": [
            _ku("digital_signature"), {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
            {"id": "crl_distribution_points",
             "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}}}]},
        "seal": {"issuer": "interm", "validity": long, "extensions": _leaf_ext(("digital_signature", "non_repudiation"))},
        "officer": {"issuer": "interm", "validity": long, "extensions": _leaf_ext(("digital_signature", "non_repudiation"))},
        "officer2": {"issuer": "interm", "validity": long, "extensions": _leaf_ext(("digital_signature", "non_repudiation"))},
        "officer-revoked": {"template": "officer", "subject": "officer", "subject-key": "officer",
                            "revocation": {"revoked-since": start, "reason": "key_compromise"}},
        "officer-expired": {"template": "officer", "subject": "officer", "subject-key": "officer",
                            "validity": {"valid-from": (now - timedelta(days=30)).strftime(iso),
                                         "valid-to": (now - timedelta(days=2)).strftime(iso)}},
        "escrow": {"issuer": "root", "validity": long, "extensions": [_ku("key_encipherment", "data_encipherment")]},
    }
    return {
        "external-url-prefix": pki.prefix,
        "keysets": {"demo": {"path-prefix": ".", "keys": keys}},
        "pki-architectures": {ARCH: {
            "keyset": "demo",
            "entity-defaults": {"country-name": "CN", "organization-name": o},
            "entities": entities,
            "certs": certs,
            "services": {
                "ocsp": {"interm": {"for-issuer": "interm", "responder-cert": "ocsp", "signing-key": "ocsp"}},
                "crl-repo": {"root": {"for-issuer": "root", "signing-key": "root", "simulated-update-schedule": "P1D"},
                             "interm": {"for-issuer": "interm", "signing-key": "interm",
                                        "simulated-update-schedule": "P1D"}},
                "cert-repo": {"root": {"for-issuer": "root", "publish-issued-certs": True}},
                "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
            },
        }},
    }


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init_pki(root: Path, port: int = DEFAULT_PORT) -> DemoPki:
    """Create a DEMO PKI in an empty folder (refuses one that holds anything)."""
    import yaml  # certomancer's own dependency

    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise BadArgsError(f"{root}: exists and is not empty", hint="give a new folder for the demo PKI")
    if not 0 < port < 65536:
        raise BadArgsError(f"--port {port}: not a TCP port", hint="give a port between 1 and 65535")
    pki = DemoPki(root, port)
    (root / "keys").mkdir(parents=True)
    (root / "certs").mkdir()
    for name in EC_KEYS:
        write_bytes_atomic(root / "keys" / f"{name}.key.pem", _pem_key(ec.generate_private_key(ec.SECP256R1())))
    rsa_keys = {name: rsa.generate_private_key(public_exponent=65537, key_size=bits)
                for name, bits in RSA_KEYS.items()}
    for name, key in rsa_keys.items():
        write_bytes_atomic(root / "keys" / f"{name}.key.pem", _pem_key(key))
    now = datetime.now(UTC)
    text = "# DEMO PKI made by `dossier pki init` — NOT FOR REAL CASES\n" + yaml.safe_dump(
        certomancer_config(pki, now), allow_unicode=True, sort_keys=False)
    write_bytes_atomic(pki.config, text.encode())
    arch = load_arch(pki)
    for name in CERT_LABELS:
        write_bytes_atomic(root / "certs" / f"{name}.pem", _pem_cert(arch.get_cert(_label(name)).dump()))
    write_bytes_atomic(root / "root.pem", _pem_cert(arch.get_cert(_label("root")).dump()))
    write_bytes_atomic(root / "escrow.pem", _pem_cert(arch.get_cert(_label("escrow")).dump()))
    write_bytes_atomic(root / "escrow.key.pem", _pem_key(rsa_keys["escrow"]))
    for name, cert in P12_FILES.items():
        data = arch.package_pkcs12(_label(cert), password=DEMO_P12_PASSWORD.encode())
        write_bytes_atomic(pki.p12(name), data)
    write_json_atomic(root / "pki.json", {
        "format": "dossier-demo-pki/1", "demo": True, "warning": "DEMO PKI: NOT FOR REAL CASES",
        "port": port, "arch": ARCH, "tsa_url": pki.tsa_url, "crl_url": pki.crl_url,
        "p12_password": DEMO_P12_PASSWORD, "created": now.isoformat(timespec="seconds")})
    return pki


def _label(name: str):  # type: ignore[no-untyped-def]
    from certomancer.registry import CertLabel

    return CertLabel(name)


def _pem_cert(der: bytes) -> bytes:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", der)


def load_arch(pki: DemoPki):  # type: ignore[no-untyped-def]
    """The certomancer architecture (certificates are re-derived from the config and keys)."""
    from certomancer.registry import ArchLabel, CertomancerConfig

    cfg = CertomancerConfig.from_file(str(pki.config), key_search_dir=str(pki.root))
    return cfg.get_pki_arch(ArchLabel(ARCH))
