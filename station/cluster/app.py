"""The Celery app both ends share: JSON only, late acks, one message at a time per process.

Settings and why (measured on this kind of machine, see /work/shared/specs/ui-and-workers.md):

- ``task_serializer``/``accept_content`` JSON only: a pickle message would let whoever can
  write to Redis run code on every worker. Workers refuse any other content type outright.
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged only when the
  page is done, so a worker killed mid-page leaves its message to be delivered again.
- ``worker_prefetch_multiplier = 1``: a worker holds no page it is not working on; a killed
  worker strands at most one page per process, and an idle worker never waits behind a busy one.
- ``visibility_timeout``: with Redis, an unacknowledged message is redelivered only after this
  long. It must exceed the longest task, or a slow page is run twice while still running; it
  is ``2 × PAGE_TIME_LIMIT`` and the hard time limit makes "longest task" a fact, not a hope.
  The station does not wait for it to notice a dead worker: it watches worker heartbeats and
  resends that worker's pages itself (results are idempotent, so a late duplicate is harmless).
- task events on (``worker_send_task_events``, ``task_send_sent_event``): Flower and
  ``celery inspect`` see the pool.
"""

from __future__ import annotations

from typing import Any

TASK_OCR = "dossier.ocr_page"
QUEUES = ("ocr", "assemble")
# A 600 dpi A3 page takes ~15 s here; four minutes means something is wrong with the page.
PAGE_TIME_LIMIT = 240
VISIBILITY_TIMEOUT = 2 * PAGE_TIME_LIMIT


def celery_config(broker_url: str) -> dict[str, Any]:
    transport = {"visibility_timeout": VISIBILITY_TIMEOUT, "socket_connect_timeout": 5, "socket_keepalive": True}
    return {
        "broker_url": broker_url,
        "result_backend": None,
        "task_ignore_result": True,  # results travel as our own signed JSON (see payload.py)
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "broker_transport_options": transport,
        "task_time_limit": PAGE_TIME_LIMIT,
        "task_soft_time_limit": PAGE_TIME_LIMIT - 15,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "task_default_queue": "ocr",
        "task_routes": {TASK_OCR: {"queue": "ocr"}},
        "task_create_missing_queues": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_channel_error_retry": True,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_enable_remote_control": True,
        "enable_utc": True,
    }


def make_app(broker_url: str) -> Any:
    """A Celery app for this broker with the page task registered under its stable name."""
    from celery import Celery

    from dossier_station.station.cluster.tasks import ocr_page

    app = Celery("dossier", set_as_current=False)
    app.conf.update(celery_config(broker_url))
    app.task(name=TASK_OCR, bind=True, acks_late=True, reject_on_worker_lost=True)(ocr_page)
    return app
