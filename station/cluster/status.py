"""``dossier workers status``: who is in the pool, on which queues, doing what, and what failed.

Combines Celery's remote control (``inspect``: queues, tasks in progress, tasks done per worker
since it started) with our own records in Redis (heartbeats, pages done per worker, failures
of the last hour) — the latter still answer when a worker is too busy to reply to ``inspect``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from dossier_station.station.cluster.config import DONE_COUNT, FAILURES, PREFIX, ping_broker, redact


def pool_status(broker: str, *, timeout: float = 1.5, window: float = 3600.0) -> dict[str, Any]:
    client = ping_broker(broker)
    from dossier_station.station.cluster.app import make_app

    app = make_app(broker)
    inspect = app.control.inspect(timeout=timeout)
    replies: dict[str, dict[str, Any]] = {}
    for what in ("ping", "active_queues", "active", "reserved", "stats"):
        try:
            replies[what] = getattr(inspect, what)() or {}
        except Exception:  # a worker mid-restart: the heartbeat still tells
            replies[what] = {}
    heartbeats = {}
    for key in client.keys(f"{PREFIX}worker:*"):
        raw = client.get(key)
        if raw:
            info = json.loads(raw)
            heartbeats[info["name"]] = info
    done = {k.decode(): int(v) for k, v in client.hgetall(DONE_COUNT).items()}
    names = sorted(set(heartbeats) | set(replies["ping"]) | set(replies["stats"]))
    workers = []
    for name in names:
        beat = heartbeats.get(name, {})
        queues = [q["name"] for q in replies["active_queues"].get(name, [])] or beat.get("queues", [])
        active = replies["active"].get(name, [])
        stats = replies["stats"].get(name, {})
        workers.append({
            "name": name,
            "alive": bool(beat) or name in replies["ping"],
            "answers_inspect": name in replies["ping"],
            "queues": queues,
            "concurrency": beat.get("concurrency") or stats.get("pool", {}).get("max-concurrency"),
            "in_progress": [{"task_id": t.get("id"), "page": _page_name(t)} for t in active],
            "reserved": len(replies["reserved"].get(name, [])),
            "tasks_since_start": sum(stats.get("total", {}).values()) if stats else None,
            "pages_done": done.get(name, 0),
        })
    since = time.time() - window
    failures = [json.loads(m) for m in client.zrangebyscore(FAILURES, since, "+inf")]
    queued = {q: int(client.llen(q)) for q in ("ocr", "assemble")}
    return {"broker": redact(broker), "queued": queued, "workers": workers, "failures_last_hour": failures}


def _page_name(task: dict[str, Any]) -> str | None:
    args = task.get("args")
    if isinstance(args, list | tuple) and args and isinstance(args[0], dict):
        return args[0].get("name")
    return None
