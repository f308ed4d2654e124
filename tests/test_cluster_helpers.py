"""Real Redis servers and real `dossier worker` processes for the cluster tests (no tests here).

Each Redis is Debian's redis-server on a free loopback port with its own temporary folder
and no persistence (`--save ""`); each worker is `dossier worker` in its own session, so a
test can SIGKILL it together with its pool processes. Everything is stopped by the caller's
fixture in a `finally`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOSSIER = [sys.executable, "-m", "dossier_station.station"]
SAMPLES = REPO.parent / "shared" / "data" / "pages"
PASSWORD = "s3cret-Broker-Pw"

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed (make installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, folder: Path, password: str | None = None) -> None:
        self.port = free_port()
        self.folder = folder
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        if self.password:
            cmd += ["--requirepass", self.password]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self, down_for: float = 0.5) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def client(self):  # type: ignore[no-untyped-def]
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=120)


class Worker:
    """`dossier worker` as a separate process in its own session."""

    def __init__(self, url: str, name: str, folder: Path, *extra: str, concurrency: int = 1) -> None:
        self.name = f"{name}@test"
        self.log = folder / f"{name}.jsonl"
        self.out = folder / f"{name}.out"
        cmd = [*DOSSIER, "worker", "--broker", url, "-c", str(concurrency), "-n", self.name, "--log-file", str(self.log), *extra]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)

    def wait_ready(self, client, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not client.exists(f"dossier:worker:{self.name}"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker {self.name} did not start:\n{self.out.read_text(errors='replace')}")
            time.sleep(0.1)

    def events(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text("utf-8").splitlines() if line.strip()]

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes together (its session's process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):  # pool children left behind
            os.killpg(self.proc.pid, signal.SIGKILL)


def small_pages(folder: Path, n: int) -> Path:
    """n small real pages (a strip of text cut from the samples, 150 dpi): OCR in ~1-2 s each."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    names = ["dev_002.jpg", "dev_004.jpg", "dev_006.jpg", "dev_008.jpg", "dev_009.jpg", "dev_010.jpg"]
    for i in range(n):
        with Image.open(SAMPLES / names[i % len(names)]) as im:
            w, h = im.size
            top = 400 + (i // len(names)) * (h // 7)
            strip = im.crop((200, top, w - 200, top + h // 7)).convert("L")
            strip = strip.resize((strip.width // 2, strip.height // 2))
            strip.save(folder / f"p{i + 1:02d}.png", dpi=(150, 150))
    return folder
