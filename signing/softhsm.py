"""SoftHSM2, the software PKCS#11 token the tests and the demo use (wrapped, version-probed).

A token lives in a folder of its own: ``SOFTHSM2_CONF`` points at a config naming that folder,
so a test or the demo never touches the system's tokens. A real station uses its HSM or smart
card's PKCS#11 module instead; nothing else in the signing code changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from dossier_station.core.errors import DossierError, MissingDependencyError
from dossier_station.core.files import write_bytes_atomic
from dossier_station.signing.keys import SOFTHSM_MODULE


def softhsm_version() -> str:
    exe = shutil.which("softhsm2-util")
    if exe is None or not Path(SOFTHSM_MODULE).exists():
        raise MissingDependencyError("SoftHSM2 is not installed", hint="apt-get install softhsm2")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def init_token(folder: Path, label: str, pin: str, so_pin: str = "5678") -> Path:
    """Create a token in ``folder``; set ``SOFTHSM2_CONF`` for this process; return the config path."""
    softhsm_version()
    folder = Path(folder).resolve()
    (folder / "tokens").mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    write_bytes_atomic(conf, (f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n"
                              "log.level = ERROR\nslots.removable = false\n").encode())
    os.environ["SOFTHSM2_CONF"] = str(conf)
    res = subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
                          "--so-pin", so_pin], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise DossierError(f"softhsm2-util could not create token {label}: {res.stderr.strip() or res.stdout.strip()}",
                           hint="check the folder is writable")
    return conf


def import_key(token: str, label: str, key_pem: Path, cert_der: bytes, pin: str, *, key_id: str = "01") -> None:
    """Put a PKCS#8 key and its certificate into ``token`` under ``label`` (for a seal key)."""
    res = subprocess.run(["softhsm2-util", "--import", str(key_pem), "--token", token, "--label", label,
                          "--id", key_id, "--pin", pin], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise DossierError(f"softhsm2-util --import failed: {res.stderr.strip() or res.stdout.strip()}", hint="check the key file")
    write_cert(token, label, cert_der, pin, key_id)


def write_cert(token_label: str, label: str, cert_der: bytes, pin: str, key_id: str) -> None:
    """Store a certificate object with opensc's pkcs11-tool, in its own process: a PKCS#11 module
    initialised in this process keeps its own view of the token store, so writes go elsewhere."""
    import tempfile

    tool = shutil.which("pkcs11-tool")
    if tool is None:
        raise MissingDependencyError("pkcs11-tool is not installed", hint="apt-get install opensc")
    with tempfile.NamedTemporaryFile(suffix=".der") as f:
        f.write(cert_der)
        f.flush()
        res = subprocess.run([tool, "--module", SOFTHSM_MODULE, "--token-label", token_label, "--login", "--pin", pin,
                              "--write-object", f.name, "--type", "cert", "--id", key_id, "--label", label],
                             capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise DossierError(f"pkcs11-tool could not store certificate {label}: {res.stderr.strip()}", hint="check the token")
