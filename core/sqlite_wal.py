"""Switching a SQLite file to WAL when several processes open it for the first time together.

The journal and the watch state are SQLite files in WAL mode, opened by several processes
(two watch daemons on one output folder, a build and the UI on one journal). Turning a new
file to WAL needs a moment's exclusive lock, and SQLite refuses it at once with "database is
locked" instead of waiting out the busy timeout. The loser of that race used to exit; here it
waits and tries again until the caller's busy timeout has passed.
"""

from __future__ import annotations

import random
import sqlite3
import time


def enable_wal(db: sqlite3.Connection, timeout: float) -> None:
    """``PRAGMA journal_mode=WAL`` and ``synchronous=FULL`` on ``db``, retried while another
    process holds the lock for its own switch (raises ``sqlite3.OperationalError`` after
    ``timeout`` seconds, as any other busy wait would)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() and "busy" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.01 + random.random() * 0.04)  # jittered: the contenders do not retry in step
    db.execute("PRAGMA synchronous=FULL")
