"""A real RFC 3161 TSA for the custody tests: certomancer's animator on a free loopback port.

The keys are generated here (certomancer does not make keys) into a temporary folder beside a
copy of ``certomancer.yml``; the server is a subprocess the caller must stop (``LocalTsa.stop``,
done by the fixtures in a ``finally``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = Path(__file__).resolve().parent
CERTOMANCER = Path(sys.executable).with_name("certomancer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalTsa:
    url: str
    root_pem: Path
    other_root_pem: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_tsa(folder: Path) -> LocalTsa:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "keys").mkdir(exist_ok=True)
    for name in ("root", "tsa", "other-root"):
        key = ec.generate_private_key(ec.SECP256R1())
        (folder / "keys" / f"{name}.key.pem").write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    config = folder / "certomancer.yml"
    shutil.copy(HERE / "certomancer.yml", config)
    for label in ("root", "other-root"):
        subprocess.run([str(CERTOMANCER), "--config", str(config), "summon", "custody", label, str(folder / f"{label}.pem")],
                       check=True, capture_output=True, timeout=60)
    port = free_port()
    proc = subprocess.Popen([str(CERTOMANCER), "--config", str(config), "--service-url-prefix", f"http://127.0.0.1:{port}",
                             "animate", "--port", str(port), "--no-web-ui"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    tsa = LocalTsa(f"http://127.0.0.1:{port}/custody/tsa/tsa", folder / "root.pem", folder / "other-root.pem", proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"certomancer animate exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return tsa
        except OSError:
            time.sleep(0.1)
    tsa.stop()
    raise RuntimeError("certomancer animate did not start within 30 s")
