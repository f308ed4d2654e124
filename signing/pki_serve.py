"""Serve a demo PKI's TSA, OCSP and CRLs over real HTTP on the loopback interface.

Certomancer's ``Animator`` is a WSGI app; Werkzeug's threaded server runs it. ``serve_forever``
is ``dossier pki serve``; :class:`BackgroundPki` runs the same server on a thread for the demo,
which needs the services only while it signs.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from dossier_station.core.errors import BusyError
from dossier_station.signing.pki import DemoPki, open_pki


def make_app(pki: DemoPki):  # type: ignore[no-untyped-def]
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig

    cfg = CertomancerConfig.from_file(str(pki.config), key_search_dir=str(pki.root))
    animator = Animator(AnimatorArchStore(cfg.pki_archs), with_web_ui=False, allow_time_override=False)
    return _fast_tsa(animator, cfg.get_pki_arch(_arch_label()))


def _arch_label():  # type: ignore[no-untyped-def]
    from certomancer.registry import ArchLabel

    from dossier_station.signing.pki import ARCH

    return ArchLabel(ARCH)


def _fast_tsa(animator, arch):  # type: ignore[no-untyped-def]
    """The TSA endpoint answered by one long-lived certomancer ``TimeStamper`` whose certificate
    is parsed from DER: certomancer's own path rebuilds the signer per request and re-serialises
    its freshly built certificate on every token (~10× the cost). Same protocol, same key."""
    from asn1crypto import tsp, x509
    from certomancer.registry import CertLabel, KeyLabel
    from certomancer.services import TimeStamper

    from dossier_station.signing.pki import ARCH

    stamper = TimeStamper(tsa_cert=x509.Certificate.load(arch.get_cert(CertLabel("tsa")).dump()),
                          tsa_key=arch.key_set.get_private_key(KeyLabel("tsa")))
    path = f"/{ARCH}/tsa/tsa"

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO") != path or environ.get("REQUEST_METHOD") != "POST":
            return animator(environ, start_response)
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            req = tsp.TimeStampReq.load(environ["wsgi.input"].read(size))
            body = stamper.request_tsa_response(req).dump()
        except Exception:  # a malformed request: 400, as certomancer answers
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"bad timestamp request"]
        start_response("200 OK", [("Content-Type", "application/timestamp-reply"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def make_server(pki: DemoPki, host: str = "127.0.0.1", port: int | None = None):  # type: ignore[no-untyped-def]
    from werkzeug.serving import make_server as wz_make_server

    port = pki.port if port is None else port
    try:
        return wz_make_server(host, port, make_app(pki), threaded=True)
    except (OSError, SystemExit) as exc:
        raise BusyError(f"{host}:{port}: cannot listen ({exc})",
                        hint="another program (perhaps another `dossier pki serve`) holds the port; stop it") from None


def serve_forever(root: Path, host: str = "127.0.0.1") -> None:
    server = make_server(open_pki(root), host)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class BackgroundPki:
    """``with BackgroundPki(dir) as pki:`` — the PKI's services answer until the block ends."""

    def __init__(self, root: Path) -> None:
        self.pki = open_pki(root)
        self.server = make_server(self.pki)
        self.thread = threading.Thread(target=self.server.serve_forever, name="pki-serve", daemon=True)

    def __enter__(self) -> DemoPki:
        self.thread.start()
        wait_for_port("127.0.0.1", self.pki.port)
        return self.pki

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
