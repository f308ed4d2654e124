"""The worker pool of a digitisation centre: page OCR on Celery workers over Redis.

A single station needs none of this — its pages run on its own cores (``station.pages``).
A centre with a backlog points ``dossier build --broker redis://…`` (or ``[cluster] broker``)
at one Redis and starts ``dossier worker`` on as many machines as it has. The pieces:

- ``config``   — the cluster settings, the broker URL redacted for anything printed, the
  reachability check, the Redis key names;
- ``payload``  — the task and result formats (versioned JSON, optional HMAC signature) that
  both ends validate; never pickle;
- ``transport``— page bytes through a shared folder or through Redis, checked against the hash;
- ``app``      — the Celery app (JSON only, late acks, prefetch 1, visibility timeout);
- ``tasks``    — the worker's side of a page: fetch, check, OCR, store the result once;
- ``dispatch`` — the station's side: a drop-in for the local process pool;
- ``lease``    — a Redis lease so hot-folder daemons on several machines claim a job once.

Celery and redis are imported only when a broker is actually used: a station without one
loads none of it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dossier_station.station.cluster.dispatch import ClusterExecutor

log = logging.getLogger("dossier.cluster")


def cluster_settings(profile: Any, broker: str | None = None, fallback: str | None = None, shared: str | None = None) -> Any:
    """Settings from the command line over the profile's ``[cluster]`` table; None = no pool."""
    from pathlib import Path

    from dossier_station.station.cluster.config import (
        ClusterSettings,
        check_broker_url,
        load_secret,
    )

    table = profile.table("cluster") if profile is not None else None
    broker = broker or (table.broker if table else None)
    if not broker:
        return None
    shared_dir = shared or (table.shared if table else None)
    return ClusterSettings(
        broker=check_broker_url(broker),
        shared=Path(shared_dir) if shared_dir else None,
        redis_page_limit=(table.redis_page_limit_mb if table else 16) * 1024 * 1024,
        secret=load_secret(table.secret_file if table else None),
        fallback=fallback or (table.fallback if table else "none"),
    )


def page_executor(profile: Any, broker: str | None = None, fallback: str | None = None, shared: str | None = None) -> ClusterExecutor | None:
    """The pool's executor, or None for this machine's own cores.

    Checks the broker at once (an unreachable one is said in seconds, before any OCR) and that
    at least one worker listens; with ``fallback="local"`` either failure builds locally.
    """
    settings = cluster_settings(profile, broker, fallback, shared)
    if settings is None:
        return None
    import time

    from dossier_station.station.cluster.config import ClusterError, any_worker, ping_broker
    from dossier_station.station.cluster.dispatch import ClusterExecutor
    from dossier_station.station.cluster.transport import shared_from_env

    try:
        shared_from_env(settings.shared)
        client = ping_broker(settings.broker)
        deadline = time.monotonic() + settings.no_worker_wait
        while not any_worker(client):
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"no dossier worker is listening on {settings.safe_broker}",
                    hint="start one with: dossier worker --broker URL (or add --fallback local)",
                )
            time.sleep(0.5)
    except ClusterError as exc:
        if settings.fallback != "local":
            raise
        log.warning("%s — building on this machine instead (--fallback local)", exc.message)
        return None
    return ClusterExecutor(settings, client)
