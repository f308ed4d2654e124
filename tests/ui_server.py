"""A real ``dossier ui`` app on a free loopback port, in a thread, for the browser tests.

Not a test module: shared by tests/test_ui*.py and bench/bench_ui.py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(data_dir: Path, **cfg: Any) -> Iterator[str]:
    """Start the app with uvicorn in a thread; always stopped on the way out."""
    import uvicorn

    from dossier_station.ui.app import UiConfig, create_app

    for _attempt in range(5):
        # A free port can be taken between our probe and the server's bind (any process's
        # outgoing connection draws from the same range): then the server thread ends at
        # once, and another port is tried.
        port = free_port()
        app = create_app(UiConfig(data_dir=data_dir, port=port, **cfg))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1))
        thread = threading.Thread(target=server.run, name="ui-test-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the UI server did not start within 20 s")
            time.sleep(0.05)
        if server.started:
            break
    else:
        raise RuntimeError("the UI server did not start: no free port in 5 tries")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
