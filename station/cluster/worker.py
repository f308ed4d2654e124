"""Running ``dossier worker``: a Celery worker with our logging, heartbeat and settings.

Three things Celery does not do for us:

- a JSON-lines log per worker (one object per line: time, level, worker, event, page, task
  id …), which a centre ships to its log store; the broker password never reaches it;
- a heartbeat key in Redis (``dossier:worker:<name>``, a few seconds' expiry) so a station
  notices a worker that died mid-page at once and resends its pages, instead of waiting for
  Redis' visibility timeout;
- the page transport settings (shared folder, HMAC key), set before the pool forks so every
  pool process inherits them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dossier_station.station.cluster.config import (
    HEARTBEAT_EVERY,
    HEARTBEAT_TTL,
    redact,
    redis_client,
    secret_words,
    worker_key,
)
from dossier_station.station.cluster.tasks import CONTEXT

_EXTRA_FIELDS = ("event", "task_id", "page", "page_index", "sha256", "build", "seconds")


class JsonLinesHandler(logging.Handler):
    """One JSON object per line, appended (O_APPEND: pool processes share the file safely)."""

    def __init__(self, path: Path, worker: str, secrets: list[str]) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self.worker = worker
        self.secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, Any] = {
                "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(),
                "worker": self.worker,
                "pid": record.process,
                "logger": record.name,
                "message": record.getMessage(),
            }
            for key in _EXTRA_FIELDS:
                if hasattr(record, key):
                    entry[key] = getattr(record, key)
            if record.exc_info:
                entry["error"] = logging.Formatter().formatException(record.exc_info)
            line = json.dumps(entry, ensure_ascii=False, default=str)
            for word in self.secrets:
                line = line.replace(word, "***")
            os.write(self.fd, (line + "\n").encode())
        except Exception:
            self.handleError(record)


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            for word in self.secrets:
                msg = msg.replace(word, "***")
            record.msg, record.args = msg, ()
        return True


def setup_logging(log_file: Path, worker: str, broker: str, level: str) -> None:
    secrets = secret_words(broker)
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level.upper())
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s %(processName)s] %(message)s"))
    stderr.addFilter(_Redact(secrets))
    root.addHandler(stderr)
    root.addHandler(JsonLinesHandler(log_file, worker, secrets))


class Heartbeat:
    """Refreshes ``dossier:worker:<name>`` while the worker's main process lives."""

    def __init__(self, broker: str, name: str, info: dict[str, Any]) -> None:
        self.client = redis_client(broker, timeout=2)
        self.name, self.info = name, info
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="dossier-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self.stop.is_set():
            try:
                self.client.set(worker_key(self.name), json.dumps({**self.info, "beat": time.time()}), ex=HEARTBEAT_TTL)
            except Exception as exc:  # broker restarting: the next beat will do
                logging.getLogger("dossier.worker").warning("heartbeat failed (%s)", type(exc).__name__)
            self.stop.wait(HEARTBEAT_EVERY)

    def start(self) -> None:
        self.thread.start()

    def end(self) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            self.client.delete(worker_key(self.name))


def default_name() -> str:
    return f"dossier-{os.getpid()}@{socket.gethostname()}"


def default_log_file(name: str) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "dossier-station"
    return base / f"worker-{name.replace('@', '-')}.jsonl"


def run_worker(
    broker: str, *, name: str, concurrency: int, queues: list[str], shared: Path | None, secret: bytes | None,
    log_file: Path, loglevel: str = "info",
) -> None:
    """Start the Celery worker in this process (blocks until it is stopped)."""
    from celery import signals

    from dossier_station.station.cluster.app import make_app

    CONTEXT.broker, CONTEXT.shared, CONTEXT.secret, CONTEXT.hostname = broker, shared, secret, name
    info = {"name": name, "queues": queues, "concurrency": concurrency, "pid": os.getpid(), "host": socket.gethostname(),
            "shared": str(shared) if shared else None, "started": time.time()}
    heartbeat = Heartbeat(broker, name, info)

    @signals.setup_logging.connect(weak=False)
    def _logging(**_: Any) -> None:  # replaces Celery's own logging set-up
        setup_logging(log_file, name, broker, loglevel)

    @signals.worker_ready.connect(weak=False)
    def _ready(**_: Any) -> None:
        heartbeat.start()
        logging.getLogger("dossier.worker").info(
            "worker %s ready on %s, queues %s, concurrency %d", name, redact(broker), ",".join(queues), concurrency,
            extra={"event": "ready"},
        )

    @signals.worker_shutdown.connect(weak=False)
    def _shutdown(**_: Any) -> None:
        heartbeat.end()
        logging.getLogger("dossier.worker").info("worker %s stopped", name, extra={"event": "stopped"})

    app = make_app(broker)
    argv = [
        "worker", "--hostname", name, "--concurrency", str(concurrency), "--queues", ",".join(queues),
        "--loglevel", loglevel.upper(), "--without-mingle", "--without-gossip", "--task-events", "--pool", "prefork",
    ]
    app.worker_main(argv)
