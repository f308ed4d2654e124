"""The station journal: an append-only, hash-chained custody log in SQLite.

Every capture, build and (later) signature is one row whose hash covers the row and the hash
of the row before it, so deleting, reordering or editing any entry breaks the chain from that
point on — ``dossier journal --verify`` says where. It records what the files were (SHA-256),
not the files, and complements the per-build report: the report travels with the dossier, the
journal stays with the station.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dossier_station.core.errors import FileAccessError

ENV = "DOSSIER_JOURNAL"
GENESIS = "0" * 64
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    sha256 TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""


def default_path() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "dossier-station" / "journal.sqlite3"


def _digest(prev: str, time: str, kind: str, subject: str, sha256: str | None, detail: str) -> str:
    body = json.dumps([prev, time, kind, subject, sha256, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad: int | None = None

    def summary(self) -> str:
        if self.ok:
            return f"journal intact: {self.entries} entries, hash chain verified"
        return f"journal BROKEN at entry {self.first_bad}: it, or an entry before it, was changed or removed"


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise FileAccessError(f"{self.path}: cannot open the station journal ({exc})", hint=f"check the folder's permissions, or set {ENV}") from None

    def record(self, kind: str, subject: str, sha256: str | None = None, **detail: Any) -> int:
        """Append one event; the write is one transaction, so concurrent stations' tools chain safely."""
        text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
        now = datetime.now().astimezone().isoformat(timespec="milliseconds")
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            row = cur.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
            prev = row[0] if row else GENESIS
            digest = _digest(prev, now, kind, subject, sha256, text)
            cur.execute(
                "INSERT INTO events (time, kind, subject, sha256, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, kind, subject, sha256, text, prev, digest),
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return int(cur.lastrowid or 0)

    def verify(self) -> Verification:
        prev, n = GENESIS, 0
        for id_, time, kind, subject, sha256, detail, prev_hash, digest in self._db.execute(
            "SELECT id, time, kind, subject, sha256, detail, prev_hash, hash FROM events ORDER BY id"
        ):
            n += 1
            if prev_hash != prev or _digest(prev, time, kind, subject, sha256, detail) != digest:
                return Verification(False, n, id_)
            prev = digest
        return Verification(True, n)

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, time, kind, subject, sha256, detail FROM events ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [{"id": r[0], "time": r[1], "kind": r[2], "subject": r[3], "sha256": r[4], "detail": json.loads(r[5])} for r in reversed(rows)]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
