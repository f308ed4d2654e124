"""A worker's side of one page: check the task, fetch and check the bytes, OCR, store once.

Runs inside a Celery pool process. The OCR engine is loaded once per process (like the local
pool's initializer). The result is stored under a key made of the page hash and the settings,
so a page delivered twice (a worker killed mid-page, a broker restart, a station resending)
is OCR'd at most once more and appears once: a second run finds the result and only says so.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dossier_station.core.files import sha256_bytes
from dossier_station.station.cluster.config import (
    DONE_COUNT,
    FAILURES,
    build_key,
    done_list,
    held_hash,
    redis_client,
    result_key,
)
from dossier_station.station.cluster.payload import RESULT_FORMAT, PayloadRefused, check_task, sign
from dossier_station.station.cluster.transport import (
    RESULT_TTL,
    PageMissing,
    fetch_page,
    put_result_image,
)

log = logging.getLogger("dossier.worker")


@dataclass
class WorkerContext:
    """Set by ``dossier worker`` before the pool forks; every pool process inherits it."""

    broker: str = ""
    shared: Path | None = None
    secret: bytes | None = None
    hostname: str = ""
    _client: Any = None

    def client(self) -> Any:
        if self._client is None:
            self._client = redis_client(self.broker)
        return self._client


CONTEXT = WorkerContext()
_engines: dict[str, Any] = {}


class PageFailed(Exception):
    """Raised after the failure is recorded, so Celery's events show the task as failed."""


def _engine(name: str) -> Any:
    if name not in _engines:
        from dossier_station.ocr.engine import make_engine

        _engines[name] = make_engine(name, threads=1)
    return _engines[name]


def _notify(client: Any, build: str, record: dict[str, Any]) -> None:
    client.rpush(done_list(build), json.dumps(record))
    client.expire(done_list(build), RESULT_TTL)


def _record_failure(client: Any, record: dict[str, Any]) -> None:
    now = time.time()
    client.zadd(FAILURES, {json.dumps({**record, "time": round(now, 3)}): now})
    client.zremrangebyscore(FAILURES, 0, now - 86400)


def ocr_page(task_self: Any, payload: Any) -> dict[str, Any]:
    """The Celery task body (registered as ``dossier.ocr_page`` by ``app.make_app``)."""
    host = task_self.request.hostname or CONTEXT.hostname
    task_id = task_self.request.id
    client = CONTEXT.client()
    try:
        task = check_task(payload, CONTEXT.secret)
    except PayloadRefused as exc:
        log.error("task refused: %s", exc, extra={"event": "refused", "task_id": task_id})
        record = {"status": "refused", "error": str(exc), "worker": host, "task_id": task_id}
        _record_failure(client, record)
        build = payload.get("build") if isinstance(payload, dict) else None
        rk = payload.get("result_key") if isinstance(payload, dict) else None
        if isinstance(build, str) and isinstance(rk, str) and client.exists(build_key(build)):
            _notify(client, build, {**record, "result_key": rk})
        raise PageFailed(str(exc)) from None
    build, rk, name = task["build"], task["result_key"], task["name"]
    extra = {"task_id": task_id, "page": name, "page_index": task["index"], "sha256": task["sha256"], "build": build}
    if not client.exists(build_key(build)):
        log.info("page %s: its build is over; nothing to do", name, extra={**extra, "event": "obsolete"})
        return {"status": "obsolete", "result_key": rk}
    client.hset(held_hash(build), rk, json.dumps({"worker": host, "since": time.time()}))
    if client.exists(result_key(rk)):
        log.info("page %s: already done (same page hash and settings)", name, extra={**extra, "event": "cached"})
        _notify(client, build, {"status": "done", "result_key": rk, "worker": host, "cached": True})
        return {"status": "cached", "result_key": rk}
    log.info("page %s: started", name, extra={**extra, "event": "started"})
    t0 = time.perf_counter()
    try:
        data = fetch_page(client, CONTEXT.shared, task)
        result = _ocr(client, task, data, host)
    except PageMissing as exc:
        log.warning("page %s: %s", name, exc, extra={**extra, "event": "missing"})
        _notify(client, build, {"status": "missing", "result_key": rk, "worker": host, "error": str(exc)})
        raise PageFailed(str(exc)) from None
    except Exception as exc:
        refused = isinstance(exc, PayloadRefused)
        status = "refused" if refused else "failed"
        log.error("page %s: %s: %s", name, status, exc, extra={**extra, "event": status})
        record = {"status": status, "result_key": rk, "worker": host, "task_id": task_id, "page": name,
                  "error": str(exc), "error_class": type(exc).__name__, "hint": getattr(exc, "hint", None)}
        _record_failure(client, record)
        _notify(client, build, record)
        raise PageFailed(str(exc)) from None
    client.set(result_key(rk), json.dumps(result), ex=RESULT_TTL)
    _notify(client, build, {"status": "done", "result_key": rk, "worker": host})
    client.hincrby(DONE_COUNT, host, 1)
    seconds = round(time.perf_counter() - t0, 3)
    log.info("page %s: done in %.2f s", name, seconds, extra={**extra, "event": "done", "seconds": seconds})
    return {"status": "done", "result_key": rk, "seconds": seconds}


def _ocr(client: Any, task: dict[str, Any], data: bytes, host: str) -> dict[str, Any]:
    from dossier_station.ocr.loader import PageSource
    from dossier_station.ocr.page import process_page

    with tempfile.TemporaryDirectory(prefix="dossier-page-") as tmp:
        local = Path(tmp) / task["name"]
        local.write_bytes(data)
        work = Path(tmp) / "work"
        work.mkdir()
        src = PageSource(local, task["index"], task["count"], task["sha256"], task["kind"], turn=task.get("turn", 0))
        out = process_page(src, _engine(task["engine"]), work, task["seq"], task["images"])
        image = put_result_image(client, CONTEXT.shared, task, out.spec.image.data_path, local) if out.spec else None
        result = {
            "format": RESULT_FORMAT,
            "result_key": task["result_key"],
            "input_sha256": sha256_bytes(data),
            "index": task["index"],
            "engine": task["engine"],
            "images": task["images"],
            "worker": host,
            "outcome": out.report(),
            "spec": out.spec.to_json() if out.spec else None,
            "image": image,
        }
    return sign(result, CONTEXT.secret)
