"""The watch state: one SQLite row per job, and the leases on jobs in hand.

Lives in ``OUT/.dossier-watch/state.sqlite3`` (the output disk is the station's own; SQLite on
an SMB/NFS hot folder would not lock reliably). A row is written *before* the claiming rename
(state ``claiming``), so a second daemon recovering the processing area never mistakes a job
being claimed for an orphan, and it carries the content hash, attempts and times that make
crash recovery and duplicate detection possible. WAL + ``synchronous=FULL``: a row the daemon
acted on survives a power cut.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dossier_station.core.errors import FileAccessError
from dossier_station.core.sqlite_wal import enable_wal
from dossier_station.watch_folders.lease import owner_is_gone

ACTIVE = ("claiming", "claimed", "running", "placed")
FINAL = ("done", "failed")
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    folder TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    seen REAL,
    claimed REAL,
    started REAL,
    finished REAL,
    dest TEXT,
    reason TEXT,
    duplicate_of TEXT
);
CREATE INDEX IF NOT EXISTS jobs_sha ON jobs (sha256);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (folder, state);
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class JobRow:
    id: str
    folder: str
    name: str
    kind: str
    state: str
    sha256: str | None
    size: int | None
    attempts: int
    seen: float | None
    claimed: float | None
    started: float | None
    finished: float | None
    dest: str | None
    reason: str | None
    duplicate_of: str | None


COLUMNS = ", ".join(JobRow.__dataclass_fields__)


class StateStore:
    """Job rows and leases in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
            enable_wal(self._db, 60)
            # The schema in one write transaction: two daemons starting together on a new
            # output folder would otherwise race, and in WAL mode the loser's read-then-write
            # fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait) and its daemon exits.
            self._db.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nCOMMIT;")
        except (OSError, sqlite3.Error) as exc:
            raise FileAccessError(f"{self.path}: cannot open the watch state ({exc})", hint="check that the output folder is writable and on a local disk") from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- leases (the JobLeases protocol) ------------------------------------------------------
    def claim(self, key: str, owner: str, ttl: float) -> bool:
        now = time.time()
        with self._tx() as cur:
            row = cur.execute("SELECT owner, expires FROM leases WHERE key = ?", (key,)).fetchone()
            if row and row[0] != owner and row[1] > now and not owner_is_gone(row[0], owner):
                return False
            cur.execute("INSERT OR REPLACE INTO leases (key, owner, expires) VALUES (?, ?, ?)", (key, owner, now + ttl))
            return True

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        with self._tx() as cur:
            cur.execute("UPDATE leases SET expires = ? WHERE key = ? AND owner = ?", (time.time() + ttl, key, owner))
            return cur.rowcount == 1

    def release(self, key: str, owner: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM leases WHERE key = ? AND owner = ?", (key, owner))

    def drop_dead_leases(self, me: str) -> int:
        """Forget leases whose holder is gone or expired (a crash between a job's last steps)."""
        now = time.time()
        with self._tx() as cur:
            dead = [k for k, owner, expires in cur.execute("SELECT key, owner, expires FROM leases")
                    if owner != me and (expires <= now or owner_is_gone(owner, me))]
            cur.executemany("DELETE FROM leases WHERE key = ?", [(k,) for k in dead])
        return len(dead)

    def holder(self, key: str) -> tuple[str, float] | None:
        with self._lock:
            row = self._db.execute("SELECT owner, expires FROM leases WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else None

    # -- job rows ----------------------------------------------------------------------------
    def add(self, job_id: str, folder: str, name: str, kind: str, seen: float | None) -> None:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO jobs (id, folder, name, kind, state, attempts, seen) VALUES (?, ?, ?, ?, 'claiming', 0, ?)",
                (job_id, folder, name, kind, seen),
            )

    def mark_claimed(self, job_id: str, sha256: str, size: int) -> JobRow | None:
        """Record the content hash; return the job this one duplicates, if any.

        One transaction: of two identical files claimed at the same moment, exactly one is
        the original and the other its duplicate.
        """
        with self._tx() as cur:
            dup = cur.execute(
                f"SELECT {COLUMNS} FROM jobs WHERE sha256 = ? AND id != ? AND duplicate_of IS NULL AND state IN ('claimed', 'running', 'placed', 'done') ORDER BY claimed LIMIT 1",
                (sha256, job_id),
            ).fetchone()
            cur.execute(
                "UPDATE jobs SET state = CASE state WHEN 'claiming' THEN 'claimed' ELSE state END, sha256 = ?, size = ?, claimed = ?, duplicate_of = ? WHERE id = ?",
                (sha256, size, time.time(), dup[0] if dup else None, job_id),
            )
        return JobRow(*dup) if dup else None

    def update(self, job_id: str, **fields: Any) -> None:
        if not fields:
            return
        unknown = set(fields) - set(JobRow.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown job fields {unknown}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as cur:
            cur.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*fields.values(), job_id))

    def start_attempt(self, job_id: str) -> int:
        with self._tx() as cur:
            cur.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, started = ? WHERE id = ?", (time.time(), job_id))
            row = cur.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return int(row[0]) if row else 0

    def delete(self, job_id: str) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

    def get(self, job_id: str) -> JobRow | None:
        with self._lock:
            row = self._db.execute(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRow(*row) if row else None

    def rows(self, folder: str | None = None, states: tuple[str, ...] | None = None) -> list[JobRow]:
        sql, args = f"SELECT {COLUMNS} FROM jobs WHERE 1=1", []
        if folder is not None:
            sql += " AND folder = ?"
            args.append(folder)
        if states:
            sql += f" AND state IN ({', '.join('?' * len(states))})"
            args += list(states)
        with self._lock:
            return [JobRow(*r) for r in self._db.execute(sql + " ORDER BY seen, id", args)]

    def counts(self, folder: str | None = None) -> dict[str, int]:
        sql, args = "SELECT state, COUNT(*) FROM jobs", []
        if folder is not None:
            sql += " WHERE folder = ?"
            args.append(folder)
        with self._lock:
            return dict(self._db.execute(sql + " GROUP BY state", args).fetchall())

    def recent_failures(self, limit: int = 5, folder: str | None = None) -> list[JobRow]:
        sql, args = f"SELECT {COLUMNS} FROM jobs WHERE state = 'failed'", []
        if folder is not None:
            sql += " AND folder = ?"
            args.append(folder)
        with self._lock:
            return [JobRow(*r) for r in self._db.execute(sql + " ORDER BY finished DESC LIMIT ?", (*args, limit))]

    # -- daemon-wide notes (folders served, heartbeat) ------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as cur:
            cur.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def meta(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT key, value FROM meta").fetchall())
