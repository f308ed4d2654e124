"""Long-lived signing keys: a PKCS#12 file or an object in a PKCS#11 token, and their PIN.

The PIN never comes from the command line (it would sit in the shell history and in ``ps``):
it is read from an environment variable (``DOSSIER_PIN`` unless the profile names another) or
asked for on the terminal. A wrong PIN, a missing file or an absent token is a
:class:`KeyAccessError` naming the key and what to do.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, unquote_to_bytes

from dossier_station.core.errors import BadArgsError, DossierError, ExitCode, MissingDependencyError

PIN_ENV = "DOSSIER_PIN"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


class KeyAccessError(DossierError):
    """The signing key cannot be used: wrong PIN, missing file or token, unusable certificate."""

    exit_code = ExitCode.bad_args


class CertificateStatusError(DossierError):
    """The signer's certificate is expired, not yet valid, revoked or not trusted: no signature."""

    exit_code = ExitCode.bad_args


@dataclass(frozen=True)
class KeyRef:
    """``pkcs12`` + path, or ``pkcs11`` + token/object/id/module from an RFC 7512 URI."""

    kind: str
    path: Path | None = None
    token: str | None = None
    label: str | None = None
    key_id: bytes | None = None
    module: str = SOFTHSM_MODULE

    def describe(self) -> str:
        if self.kind == "pkcs12":
            return str(self.path)
        return f"pkcs11:token={self.token};object={self.label or ''}"


def parse_key_ref(text: str, module: str | None = None) -> KeyRef:
    """A PKCS#11 URI (``pkcs11:token=…;object=…[?module-path=…]``) or a PKCS#12 file path."""
    if text.startswith("pkcs11:"):
        body, _, query = text[len("pkcs11:"):].partition("?")
        attrs: dict[str, str] = {}
        raw_id: bytes | None = None
        for part in body.split(";"):
            if part:
                k, _, v = part.partition("=")
                attrs[k.strip()] = unquote(v)
                if k.strip() == "id":
                    raw_id = unquote_to_bytes(v)  # an id is bytes (RFC 7512 §2.3)
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        if "token" not in attrs:
            raise BadArgsError(f"{text}: the PKCS#11 URI names no token",
                               hint="write pkcs11:token=LABEL;object=KEYLABEL")
        key_id = raw_id
        return KeyRef("pkcs11", token=attrs["token"], label=attrs.get("object"), key_id=key_id,
                      module=q.get("module-path") or module or SOFTHSM_MODULE)
    path = Path(text)
    if not path.is_file():
        raise KeyAccessError(f"{path}: key file not found",
                             hint="give a PKCS#12 file (.p12) or a pkcs11: URI")
    return KeyRef("pkcs12", path=path)


def read_pin(what: str, env: str = PIN_ENV) -> str:
    """The PIN from ``$env``, else from a terminal prompt; never from an argument."""
    pin = os.environ.get(env)
    if pin is not None:
        return pin
    if sys.stdin.isatty():
        return getpass.getpass(f"PIN for {what}: ")
    raise KeyAccessError(f"{what}: no PIN", hint=f"set the environment variable {env} or run in a terminal")


def load_pkcs12(path: Path, pin: str):  # type: ignore[no-untyped-def]
    from pyhanko.sign import signers

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyAccessError(f"{path}: cannot read the key file ({exc.strerror})", hint="check the path") from None
    try:
        signer = signers.SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=pin.encode())
    except (ValueError, TypeError):
        signer = None
    if signer is None:
        raise KeyAccessError(f"{path}: wrong PIN or not a PKCS#12 key file",
                             hint="check the PIN (environment variable or prompt) and the file")
    return signer


@contextlib.contextmanager
def pkcs11_session(ref: KeyRef, pin: str) -> Iterator[object]:
    """An open, logged-in session on the token ``ref`` names (closed on exit)."""
    try:
        import pkcs11
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import open_pkcs11_session
    except ImportError as exc:  # pragma: no cover - installed with pyhanko[pkcs11]
        raise MissingDependencyError(f"PKCS#11 support is missing ({exc})",
                                     hint="pip install 'pyhanko[pkcs11]'") from None
    if not Path(ref.module).exists():
        raise MissingDependencyError(f"{ref.module}: PKCS#11 module not found",
                                     hint="install softhsm2 (Debian: apt install softhsm2) or set module-path")
    try:
        session = open_pkcs11_session(ref.module, token_criteria=TokenCriteria(label=ref.token), user_pin=pin)
    except pkcs11.exceptions.PinIncorrect:
        raise KeyAccessError(f"{ref.describe()}: wrong PIN", hint="check the PIN; the token may lock after repeated errors") from None
    except pkcs11.exceptions.PKCS11Error as exc:
        raise KeyAccessError(f"{ref.describe()}: cannot open the token ({type(exc).__name__})",
                             hint="check the token is present and SOFTHSM2_CONF points at its configuration") from None
    except Exception as exc:  # pyHanko raises PKCS11Error subclasses and its own errors for no token
        raise KeyAccessError(f"{ref.describe()}: token not found ({exc})",
                             hint="check the token label in the URI and that the token is plugged in") from None
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            session.close()


@contextlib.contextmanager
def open_signer(ref: KeyRef, pin: str) -> Iterator[object]:
    """A pyHanko ``Signer`` for the key; for PKCS#11 the session stays open inside the block."""
    if ref.kind == "pkcs12":
        assert ref.path is not None
        yield load_pkcs12(ref.path, pin)
        return
    from pyhanko.sign.pkcs11 import PKCS11Signer

    with pkcs11_session(ref, pin) as session:
        try:
            signer = PKCS11Signer(session, key_label=ref.label, cert_label=ref.label if ref.key_id is None else None,
                                  key_id=ref.key_id, other_certs_to_pull=None, use_raw_mechanism=True)
            _ = signer.signing_cert  # resolve now: a missing object is a clear error, not a late crash
        except Exception as exc:
            raise KeyAccessError(f"{ref.describe()}: no key/certificate pair with that label in the token ({exc})",
                                 hint="list the token's objects with pkcs11-tool --list-objects") from None
        yield signer
