"""The station journal: an append-only, hash-chained custody log in SQLite.

Every step of a dossier's life (page captured, processed, volume assembled, signed, mirrored,
exported, viewed …) is one row whose hash covers the row, who did it (station and operator from
the profile) and the hash of the row before it, so deleting, reordering or editing any entry
breaks the chain from that point on (arithmetic in ``core.custody_chain``). It records what the
files were (SHA-256), not the files.

The same database holds what custody needs next to the chain: the RFC 3161 **anchors** (tokens
over the chain head, so a history rewritten consistently afterwards disagrees with a timestamp
taken before) and the **pending mirror copies** (a mirror that was offline is retried later).

Robustness, because the journal is written by every area and by several processes at once:
each event is one ``BEGIN IMMEDIATE`` transaction in WAL mode with ``synchronous=FULL`` (a
process killed mid-append leaves the previous state, never half a row); a journal locked by
another process is a :class:`BusyError` naming that process after a short wait, not a hang; a
damaged file is a clear error saying what to do, not a traceback; opening a journal to verify it
never creates an empty one (which would verify as "intact").
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dossier_station.core.custody_chain import (
    GENESIS,
    ChainProblem,
    check_chain,
    content_hash,
    link_hash,
)
from dossier_station.core.errors import BusyError, FileAccessError
from dossier_station.core.sqlite_wal import enable_wal

ENV = "DOSSIER_JOURNAL"
BUSY_TIMEOUT = 5.0  # seconds to wait for another writer before naming it
__all__ = ["ENV", "GENESIS", "Journal", "JournalDamagedError", "Verification", "default_path"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY, time TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL,
        sha256 TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS anchors (
        id INTEGER PRIMARY KEY, time TEXT NOT NULL, event_id INTEGER NOT NULL, head_hash TEXT NOT NULL,
        tsa_url TEXT NOT NULL, gen_time TEXT NOT NULL, token BLOB NOT NULL, reason TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS pending_copies (
        id INTEGER PRIMARY KEY, time TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
        sha256 TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, done TEXT)""",
    "CREATE INDEX IF NOT EXISTS events_sha256 ON events(sha256)",
    "CREATE INDEX IF NOT EXISTS events_subject ON events(subject)",
)
# Columns added by version 2 of the row format (who recorded it; which hash format).
V2_COLUMNS = (("station", "TEXT"), ("operator", "TEXT"), ("v", "INTEGER NOT NULL DEFAULT 1"))
EVENT_COLUMNS = "id, time, kind, subject, sha256, detail, prev_hash, hash, station, operator, v"


_process_identity: dict[str, str] | None = None


def set_station_identity(identity: dict[str, str] | None) -> None:
    """Who this process records as (from the profile a command was given with ``--profile``).

    Journals opened afterwards without an explicit identity use it; without it they read the
    profile named by $DOSSIER_PROFILE (or fall back to the host name and the OS user).
    """
    global _process_identity
    _process_identity = dict(identity) if identity else None


class JournalDamagedError(FileAccessError):
    """The journal file is not a readable SQLite database (disk fault, truncated copy, overwritten)."""


def default_path() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "dossier-station" / "journal.sqlite3"


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def holders(path: Path) -> list[str]:
    """Other processes that have the journal (or its WAL) open, as "pid N (command)" — from /proc.

    SQLite does not say who holds a lock; on Linux the open file descriptors do. Used only on the
    error path, so scanning /proc costs nothing in normal operation.
    """
    targets = {str(Path(path).resolve()) + s for s in ("", "-wal", "-shm", "-journal")}
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
            if any(os.readlink(fd) in targets for fd in fds):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found.append(f"pid {entry.name} ({cmd[:80] or '?'})")
        except OSError:
            continue
    return found


@dataclass(frozen=True)
class Verification:
    """The chain check: ``ok``, how many entries, the first bad entry, and every problem found."""

    ok: bool
    entries: int
    first_bad: int | None = None
    problems: tuple[ChainProblem, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        if self.ok:
            return f"journal intact: {self.entries} entries, hash chain verified"
        lines = [f"journal BROKEN at entry {self.first_bad}: it, or an entry before it, was changed or removed"]
        lines += [f"  - {p.message}" for p in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class Anchor:
    id: int
    time: str
    event_id: int
    head_hash: str
    tsa_url: str
    gen_time: str
    token: bytes
    reason: str


@dataclass(frozen=True)
class PendingCopy:
    id: int
    time: str
    source: str
    target: str
    sha256: str
    attempts: int
    last_error: str | None


def event_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """A database row as the mapping ``custody_chain`` checks and the CLI shows."""
    id_, time, kind, subject, sha256, detail, prev_hash, digest, station, operator, v = row
    try:
        parsed = json.loads(detail)
    except ValueError:
        parsed = {"_unreadable": detail}
    return {"id": id_, "time": time, "kind": kind, "subject": subject, "sha256": sha256, "detail": parsed,
            "detail_text": detail, "prev_hash": prev_hash, "hash": digest, "station": station, "operator": operator, "v": v}


class Journal:
    """``Journal(path=None)``: the station's journal ($DOSSIER_JOURNAL or the per-user default).

    ``create=False`` refuses to create a missing journal (for verifying one); ``identity`` is
    ``{"station": …, "operator": …}``, by default from the profile ($DOSSIER_PROFILE).
    """

    def __init__(self, path: Path | None = None, *, create: bool = True, identity: dict[str, str] | None = None,
                 busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = Path(path) if path else default_path()
        self._identity = identity
        if not create and not self.path.is_file():
            raise FileAccessError(
                f"{self.path}: no custody journal here" + (" (it is a folder)" if self.path.is_dir() else ""),
                hint=f"give the journal file with --path, or set {ENV}; a missing journal is not an intact one",
            )
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{quote(str(self.path.resolve()))}?mode={'rwc' if create else 'rw'}"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=busy_timeout)
        except (OSError, sqlite3.Error) as exc:
            raise FileAccessError(f"{self.path}: cannot open the station journal ({exc})", hint=f"check the folder's permissions, or set {ENV}") from None
        try:
            with self._guard("open"):
                enable_wal(self._db, busy_timeout)
                # One write transaction for the schema and its upgrade: two processes opening a
                # new (or v1) journal at once must not both try to add the same column.
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in SCHEMA:
                        self._db.execute(statement)
                    have = {r[1] for r in self._db.execute("PRAGMA table_info(events)")}
                    for name, decl in V2_COLUMNS:
                        if name not in have:
                            self._db.execute(f"ALTER TABLE events ADD COLUMN {name} {decl}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        except BaseException:
            self._db.close()
            raise

    # ---- errors ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn SQLite's failures into errors a clerk can act on."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "locked" in text or "busy" in text:
                who = ", ".join(holders(self.path)) or "another process"
                raise BusyError(f"{self.path}: the custody journal is locked by {who} ({doing})",
                                hint="wait for it to finish and try again; if it hangs, stop that process") from None
            if "unable to open" in text:
                raise FileAccessError(f"{self.path}: cannot open the custody journal ({exc})", hint=f"check the folder's permissions, or set {ENV}") from None
            if "readonly" in text or "read-only" in text:
                raise FileAccessError(f"{self.path}: the custody journal is read-only", hint="fix the file's or the disk's permissions") from None
            if "disk" in text and "full" in text:
                raise FileAccessError(f"{self.path}: the disk holding the custody journal is full", hint="free space on that disk; nothing was recorded") from None
            raise self._damaged(exc) from None
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> JournalDamagedError:
        return JournalDamagedError(
            f"{self.path}: the custody journal is damaged ({exc})",
            hint="do not delete it (it is evidence): stop the station, move the file aside, restore the last good copy "
                 "(backup or a mirror), then run `dossier custody verify`; report the damaged file to the archive administrator",
        )

    # ---- identity ----------------------------------------------------------------------------
    @property
    def identity(self) -> dict[str, str]:
        if self._identity is None and _process_identity is not None:
            self._identity = dict(_process_identity)
        if self._identity is None:
            from dossier_station.core.custody import CustodySettings
            from dossier_station.core.profile import LOADED

            self._identity = CustodySettings.from_profile(LOADED[-1] if LOADED else None).identity
        return self._identity

    # ---- the chain ---------------------------------------------------------------------------
    def check(self) -> None:
        """Preflight before work starts: the journal is readable, not damaged, and writable now.

        A build calls this before minutes of OCR, so a locked or damaged journal stops it at once
        instead of after the dossier is made (and left unjournaled).
        """
        with self._guard("preflight"):
            result = self._db.execute("PRAGMA quick_check").fetchall()
            if result != [("ok",)]:
                raise self._damaged(RuntimeError("; ".join(str(r[0]) for r in result[:3])))
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
        self.identity  # noqa: B018 — a broken [station] table fails here, not after the work

    def record(self, kind: str, subject: str, sha256: str | None = None, **detail: Any) -> int:
        """Append one event; the write is one transaction, so concurrent stations' tools chain safely."""
        return self.record_many([(kind, subject, sha256, detail)])[0]

    def record_many(self, events: list[tuple[str, str, str | None, dict[str, Any]]]) -> list[int]:
        """Append several events in one transaction (a build's pages): all of them or none."""
        who = self.identity
        station, operator = who.get("station"), who.get("operator")
        ids: list[int] = []
        with self._guard(f"recording {events[0][0] if events else 'events'}"):
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                row = cur.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
                prev = row[0] if row else GENESIS
                for kind, subject, sha256, detail in events:
                    text = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
                    now = _now()
                    digest = link_hash(prev, content_hash(now, kind, subject, sha256, text, station, operator))
                    cur.execute(
                        "INSERT INTO events (time, kind, subject, sha256, detail, prev_hash, hash, station, operator, v)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 2)",
                        (now, kind, subject, sha256, text, prev, digest, station, operator),
                    )
                    ids.append(int(cur.lastrowid or 0))
                    prev = digest
                cur.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
                raise
        return ids

    def events(self, since_id: int = 0, *, until_id: int | None = None) -> list[dict[str, Any]]:
        """Events in chain order (id ascending), as mappings with the stored ``detail_text``."""
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE id > ?" + (" AND id <= ?" if until_id is not None else "") + " ORDER BY id"
        args = (since_id,) if until_id is None else (since_id, until_id)
        with self._guard("reading"):
            return [event_row(r) for r in self._db.execute(sql, args)]

    def find(self, sha256: str) -> list[dict[str, Any]]:
        """Every event that names a file with this hash (the index makes this cheap)."""
        with self._guard("reading"):
            rows = self._db.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE sha256 = ? ORDER BY id", (sha256,)).fetchall()
        return [event_row(r) for r in rows]

    def events_about(self, subject: str) -> list[dict[str, Any]]:
        """Every event whose subject is this path (or name), oldest first."""
        with self._guard("reading"):
            rows = self._db.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE subject = ? ORDER BY id", (subject,)).fetchall()
        return [event_row(r) for r in rows]

    def head(self) -> tuple[int, str] | None:
        with self._guard("reading"):
            row = self._db.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def check_chain(self):  # type: ignore[no-untyped-def]
        """The full chain check (``custody_chain.ChainCheck``), with recomputed hashes for anchors."""
        return check_chain(self.events())

    def verify(self) -> Verification:
        result = self.check_chain()
        first = min((p.event_id for p in result.problems if p.event_id is not None), default=None)
        return Verification(result.ok, result.entries, first, tuple(result.problems))

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._guard("reading"):
            rows = self._db.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [event_row(r) for r in reversed(rows)]

    # ---- anchors -----------------------------------------------------------------------------
    def add_anchor(self, event_id: int, head_hash: str, tsa_url: str, gen_time: str, token: bytes, reason: str) -> int:
        with self._guard("storing an anchor"):
            cur = self._db.execute(
                "INSERT INTO anchors (time, event_id, head_hash, tsa_url, gen_time, token, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_now(), event_id, head_hash, tsa_url, gen_time, token, reason),
            )
        return int(cur.lastrowid or 0)

    def anchors(self) -> list[Anchor]:
        with self._guard("reading anchors"):
            rows = self._db.execute("SELECT id, time, event_id, head_hash, tsa_url, gen_time, token, reason FROM anchors ORDER BY id").fetchall()
        return [Anchor(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7]) for r in rows]

    # ---- pending mirror copies ---------------------------------------------------------------
    def queue_copy(self, source: str, target: str, sha256: str, error: str) -> int:
        with self._guard("queueing a mirror copy"):
            row = self._db.execute("SELECT id FROM pending_copies WHERE target = ? AND sha256 = ? AND done IS NULL", (target, sha256)).fetchone()
            if row:
                self._db.execute("UPDATE pending_copies SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, row[0]))
                return int(row[0])
            cur = self._db.execute("INSERT INTO pending_copies (time, source, target, sha256, attempts, last_error) VALUES (?, ?, ?, ?, 1, ?)",
                                   (_now(), source, target, sha256, error))
        return int(cur.lastrowid or 0)

    def pending_copies(self) -> list[PendingCopy]:
        with self._guard("reading the mirror queue"):
            rows = self._db.execute("SELECT id, time, source, target, sha256, attempts, last_error FROM pending_copies WHERE done IS NULL ORDER BY id").fetchall()
        return [PendingCopy(*r) for r in rows]

    def copy_done(self, copy_id: int) -> None:
        with self._guard("updating the mirror queue"):
            self._db.execute("UPDATE pending_copies SET done = ? WHERE id = ?", (_now(), copy_id))

    # ---- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
