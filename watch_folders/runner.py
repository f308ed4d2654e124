"""Claim, run and finish one job — and after a crash, find every job that was in hand.

The order of steps is the crash-safety argument; each step is durable before the next:

1. a ``claiming`` row and a lease (state DB), 2. ``mkdir processing/<id>`` and one rename of the
dropped entry into it (the claim: of two daemons, exactly one rename succeeds), 3. content
hash → ``claimed`` (duplicates found in the same transaction), 4. ``running`` (attempt + 1),
the job function writes into ``staging/<id>``, 5. inputs linked/copied in, ``job.json``, the
outcome name recorded and reserved, one rename into done/ or failed/ → ``placed``,
6. processing entry removed → ``done``/``failed``, journal, lease released.

A crash anywhere leaves a row and/or a processing entry that :meth:`JobRunner.recover` turns
back into a job to run (steps 1–4: staging dropped, run again) or to tidy (step 5–6).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import DossierError, InputFileError
from dossier_station.core.files import fsync_dir
from dossier_station.watch_folders import outcome as oc
from dossier_station.watch_folders.config import HotFolder
from dossier_station.watch_folders.discover import Readiness, Snapshot, snapshot
from dossier_station.watch_folders.job import JobFunction, JobInput, content_hash, special_entries
from dossier_station.watch_folders.lease import JobLeases
from dossier_station.watch_folders.oplog import OpLog
from dossier_station.watch_folders.state import ACTIVE, JobRow, StateStore

LEASE_TTL = 30.0
ORPHAN_AGE = 60.0  # an empty processing folder older than this is a claim that never renamed
Recorder = Callable[..., Any]  # Journal().record's signature: (kind, subject, sha256, **detail)


@dataclass
class FolderRuntime:
    """One hot folder's live state inside the daemon."""

    folder: HotFolder
    store: StateStore
    leases: JobLeases
    readiness: Readiness
    lock: threading.Lock = field(default_factory=threading.Lock)
    queued: set[str] = field(default_factory=set)
    ignored_noted: set[str] = field(default_factory=set)
    wake: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> str:
        return str(self.folder.hot)


@dataclass(frozen=True)
class Claimed:
    id: str
    name: str
    kind: str
    path: Path


def new_job_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


class JobRunner:
    def __init__(self, job_fn: JobFunction, owner: str, log: OpLog, record: Recorder, *, ttl: float = LEASE_TTL) -> None:
        self.job_fn = job_fn
        self.owner = owner
        self.log = log
        self.record = record
        self.ttl = ttl
        self.in_hand: dict[str, FolderRuntime] = {}
        self._hand_lock = threading.Lock()

    # -- claim ------------------------------------------------------------------------------
    def claim(self, rt: FolderRuntime, name: str, seen: Snapshot) -> Claimed | None:
        """Take ``name`` out of the hot folder, or return None (gone, changed, or another's)."""
        f = rt.folder
        now_snap = snapshot(f.hot / name)
        if now_snap is None or now_snap.signature != seen.signature:
            return None  # vanished or changed since it was judged ready: the next look re-times it
        job_id = new_job_id()
        rt.store.add(job_id, rt.key, name, now_snap.kind, time.time())
        rt.leases.claim(job_id, self.owner, self.ttl)
        box = f.processing / job_id
        try:
            box.mkdir(parents=True)
            os.rename(f.hot / name, box / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                box.rmdir()
            rt.store.delete(job_id)
            rt.leases.release(job_id, self.owner)
            if not isinstance(exc, FileNotFoundError):
                self.log.write(f.out, "busy", "warning", folder=f.label, name=name, reason=f"cannot be moved ({exc.strerror}); will retry")
            return None
        fsync_dir(f.hot)
        fsync_dir(box)
        self._hold(job_id, rt)
        job = Claimed(job_id, name, now_snap.kind, box / name)
        self.log.write(f.out, "taken", folder=f.label, name=name, job=job_id)
        self._settle(job.path, now_snap, f.stable)
        return job

    def _settle(self, path: Path, seen: Snapshot, stable: float) -> None:
        """A writer that still had the file open keeps writing into it after the rename: wait it out."""
        def body(s: Snapshot | None) -> tuple[object, ...]:
            return s.signature[2:] if s and s.kind == "folder" else (s.signature if s else ())

        last, since = body(snapshot(path)), time.monotonic()
        if last == body(seen):
            return
        while time.monotonic() - since < max(stable, 0.5):
            time.sleep(min(0.5, max(stable, 0.1)))
            cur = body(snapshot(path))
            if cur != last:
                last, since = cur, time.monotonic()

    def _hash(self, rt: FolderRuntime, job: Claimed) -> JobRow | None:
        """Content hash → journal "taken" → state row (journal first: a crash between repeats
        the journal line, never loses it)."""
        sha, size = content_hash(job.path)
        self.record("watch-job", f"{rt.folder.hot}/{job.name}", sha, event="taken", job=job.id, folder=rt.folder.label, bytes=size)
        return rt.store.mark_claimed(job.id, sha, size)

    def _hold(self, job_id: str, rt: FolderRuntime) -> None:
        with self._hand_lock:
            self.in_hand[job_id] = rt

    def _drop(self, job_id: str) -> None:
        with self._hand_lock:
            self.in_hand.pop(job_id, None)

    def renew_all(self) -> None:
        with self._hand_lock:
            held = list(self.in_hand.items())
        for job_id, rt in held:
            if not rt.leases.renew(job_id, self.owner, self.ttl):
                self.log.write(rt.folder.out, "lease-lost", "error", job=job_id, reason="lease expired and taken by another worker")

    def release_all(self) -> list[str]:
        """Shutdown with jobs still running: leave them in processing for the next start."""
        with self._hand_lock:
            held = list(self.in_hand.items())
        for job_id, rt in held:
            self.release(rt, job_id)
        return [j for j, _ in held]

    def release(self, rt: FolderRuntime, job_id: str, reason: str = "stopped before it finished; resumed at the next start") -> None:
        """Give a job in hand back (a clean stop is not a failed attempt); the next start resumes it."""
        row = rt.store.get(job_id)
        if row and row.state == "running":
            rt.store.update(job_id, state="claimed", attempts=max(0, row.attempts - 1))
        rt.leases.release(job_id, self.owner)
        self._drop(job_id)
        self.log.write(rt.folder.out, "released", "warning", job=job_id, name=row.name if row else "", reason=reason)

    # -- run --------------------------------------------------------------------------------
    def process(self, rt: FolderRuntime, job: Claimed) -> str | None:
        """Run a claimed or resumed job, or only finish tidying one already placed."""
        self._hold(job.id, rt)
        row = rt.store.get(job.id)
        if row is None or row.state in ("done", "failed"):
            self._drop(job.id)
            return None
        dest = Path(row.dest) if row.dest else None
        if dest is not None and oc.is_placed(dest, job.id):
            record = _read_record(dest)
            self._tidy(rt, job.id, dest, record)
            return str(record.get("outcome") or "")
        if not os.path.lexists(job.path):  # removed by hand from the processing area: nothing to file
            reason = "input vanished from the processing area (removed by hand?)"
            rt.store.update(job.id, state="failed", finished=time.time(), reason=reason)
            oc.remove_tree(rt.folder.staging / job.id)
            oc.unlink_empty(rt.folder.processing / job.id, 0)
            rt.leases.release(job.id, self.owner)
            self._drop(job.id)
            self.log.write(rt.folder.out, "failed", "error", folder=rt.folder.label, name=job.name, job=job.id, reason=reason)
            return "failed"
        return self.run(rt, job)

    def run(self, rt: FolderRuntime, job: Claimed) -> str:
        """Run the job function and place the outcome; returns "done" or "failed"."""
        f = rt.folder
        self._hold(job.id, rt)
        attempt = rt.store.start_attempt(job.id)
        row = rt.store.get(job.id)
        assert row is not None
        dup = None
        if row.sha256 is None:  # crashed between the rename and the hash
            dup = self._hash(rt, job)
            row = rt.store.get(job.id)
            assert row is not None
        elif row.duplicate_of:
            dup = rt.store.get(row.duplicate_of)
        work = oc.fresh_work(f.staging, job.id)
        result: Any = None
        error: BaseException | None = None
        detail = ""
        try:
            self._precheck(f, job, row, dup, attempt)
            result = self.job_fn(JobInput(job.id, job.name, job.kind, job.path, work, f, attempt, row.sha256 or ""))
        except DossierError as exc:
            error = exc
        except Exception as exc:  # a bug in a job function must fail one job, not the daemon
            error, detail = exc, traceback.format_exc()
        outcome = "failed" if error else "done"
        if error:
            work = oc.fresh_work(f.staging, job.id)
            oc.write_error(work, oc.error_text(error, job_name=job.name, job_id=job.id, attempt=attempt, detail=detail))
        reason = (error.message if isinstance(error, DossierError) else f"internal error: {error}") if error else (getattr(result, "note", "") or "")
        self._finish(rt, job, outcome, work, reason, attempt)
        return outcome

    def _precheck(self, f: HotFolder, job: Claimed, row: JobRow, dup: JobRow | None, attempt: int) -> None:
        if dup is not None:
            where = f" ({dup.dest})" if dup.dest else f" ({dup.state})"
            raise InputFileError(
                f"{job.name}: duplicate of job {dup.id} ('{dup.name}'{where}) — the same content was already taken; not built twice",
                hint="nothing to do if it was dropped twice by mistake; to build it again anyway, run  dossier build  on the file in input/",
            )
        if attempt > f.max_attempts:
            raise InputFileError(
                f"{job.name}: the station stopped {attempt - 1} times while processing this job (crash, power cut or kill)",
                hint="the input may crash the build; check it, or run  dossier build  on it by hand to see the error",
            )
        if special_entries(job.path):
            raise InputFileError(
                f"{job.name}: holds symbolic links or special files ({', '.join(special_entries(job.path)[:5])}) — never followed",
                hint="copy the files themselves into the job folder, not links to them",
            )
        if (row.size or 0) == 0:
            raise InputFileError(f"{job.name}: empty (0 bytes)", hint="the scan or copy failed; scan or copy it again")
        if (row.size or 0) > f.max_bytes:
            raise InputFileError(
                f"{job.name}: {row.size:,} bytes is over this hot folder's limit of {f.max_bytes:,}",
                hint="split the job, or raise max_bytes in the profile's [watch] table",
            )

    def _finish(self, rt: FolderRuntime, job: Claimed, outcome: str, work: Path, reason: str, attempt: int) -> None:
        f = rt.folder
        inputs = oc.transfer_inputs(job.path, work / oc.INPUT_DIR)
        row = rt.store.get(job.id)
        assert row is not None
        record = {
            "format": "dossier-watch-job/1", "job": job.id, "name": job.name, "kind": job.kind, "folder": str(f.hot),
            "outcome": outcome, "reason": reason, "sha256": row.sha256, "bytes": row.size, "attempts": attempt,
            "duplicate_of": row.duplicate_of, "seen": row.seen, "claimed": row.claimed, "finished": time.time(),
            "inputs": inputs, "outputs": oc.output_records(work) if outcome == "done" else [],
        }
        oc.write_record(work, record)
        parent = f.done if outcome == "done" else f.failed
        dest = self._reserve(rt, job, row, parent)
        oc.place(work, dest)
        rt.store.update(job.id, state="placed")
        self._tidy(rt, job.id, dest, record)

    def _reserve(self, rt: FolderRuntime, job: Claimed, row: JobRow, parent: Path) -> Path:
        """The outcome folder's name, recorded before it is made (so a crash never orphans it)."""
        if row.dest:
            old = Path(row.dest)
            if old.parent == parent and old.is_dir() and not any(old.iterdir()):
                return old  # reserved by an attempt that crashed before placing
            if old.parent != parent:
                oc.unlink_empty(old, 0)
        stem = oc.dest_stem(job.name, job.kind)
        parent.mkdir(parents=True, exist_ok=True)
        for n in range(1, oc.MAX_NAME_TRIES):
            candidate = parent / (stem if n == 1 else f"{stem}-{n}")
            if candidate.exists():
                continue
            rt.store.update(job.id, dest=str(candidate))
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
        raise InputFileError(f"{parent}: too many jobs named {stem}", hint="move old results out of the output folder")

    def _tidy(self, rt: FolderRuntime, job_id: str, dest: Path, record: dict[str, Any]) -> None:
        """After placing: mirrors, processing entry removed, final state, journal, lease."""
        f = rt.folder
        outcome = "done" if dest.parent == f.done else "failed"
        if outcome == "done" and f.mirrors:
            for problem in oc.mirror(dest, f.mirrors):
                self.log.write(f.out, "mirror", "warning", job=job_id, reason=problem)
        oc.remove_tree(f.processing / job_id)
        fsync_dir(f.processing)
        self.record(  # before the final state: a failure here is retried, a crash repeats it
            "watch-job", f"{f.hot}/{record['name']}", record.get("sha256"), event=outcome, job=job_id, dest=str(dest),
            reason=record.get("reason"), duplicate_of=record.get("duplicate_of"), outputs=record.get("outputs", []),
        )
        rt.store.update(job_id, state=outcome, finished=time.time(), reason=record.get("reason") or None)
        rt.leases.release(job_id, self.owner)
        self._drop(job_id)
        self.log.write(f.out, outcome, "info" if outcome == "done" else "error", folder=f.label, name=record["name"], job=job_id,
                       dest=str(dest), reason=record.get("reason") or None, attempts=record.get("attempts"))

    # -- recovery ---------------------------------------------------------------------------
    def recover(self, rt: FolderRuntime) -> list[Claimed]:
        """Jobs a crashed (or stopped) daemon left in hand: tidy the placed, return the rest to run.

        Called at start-up and, while the daemon runs, after every lease period: a job whose
        holder died (another machine whose lease ran out, or a dead process here) is taken over
        then, not only at the next start. Jobs this daemon holds itself are never touched.
        """
        f = rt.folder
        to_run: list[Claimed] = []
        boxes = {p.name: p for p in f.processing.iterdir()} if f.processing.is_dir() else {}
        rows = {r.id: r for r in rt.store.rows(rt.key, ACTIVE)}
        with self._hand_lock:
            mine = set(self.in_hand)
        for job_id in sorted((set(boxes) | set(rows)) - mine):
            row = rows.get(job_id) or rt.store.get(job_id)
            if not rt.leases.claim(job_id, self.owner, self.ttl):
                continue  # alive in another daemon
            box = boxes.get(job_id)
            entries = [p for p in box.iterdir()] if box and box.is_dir() else []
            if row is None and not entries:
                if box is not None:
                    oc.unlink_empty(box, ORPHAN_AGE)
                rt.leases.release(job_id, self.owner)
                continue
            if row is None:  # state lost (another state DB?): adopt what is there
                rt.store.add(job_id, rt.key, entries[0].name, "folder" if entries[0].is_dir() else "file", time.time())
                row = rt.store.get(job_id)
                assert row is not None
            if row.state in ("done", "failed"):
                if box:
                    oc.remove_tree(box)
                rt.leases.release(job_id, self.owner)
                continue
            dest = Path(row.dest) if row.dest else None
            if oc.is_placed(dest, job_id):
                self._hold(job_id, rt)
                to_run.append(Claimed(job_id, row.name, row.kind, (box or f.processing / job_id) / row.name))
                self.log.write(f.out, "recovered", folder=f.label, name=row.name, job=job_id, note="placed before the stop; finishing")
                continue
            oc.remove_tree(f.staging / job_id)
            if not entries:
                if box is not None:
                    oc.unlink_empty(box, 0)
                if row.state == "claiming":
                    rt.store.delete(job_id)  # the claim's rename never happened: the file is still in HOT
                else:
                    rt.store.update(job_id, state="failed", finished=time.time(), reason="input vanished from the processing area")
                    self.log.write(f.out, "failed", "error", folder=f.label, name=row.name, job=job_id, reason="input vanished from the processing area (removed by hand?)")
                rt.leases.release(job_id, self.owner)
                continue
            self._hold(job_id, rt)
            to_run.append(Claimed(job_id, row.name, row.kind, box / row.name if box else entries[0]))
            self.log.write(f.out, "resumed", "warning", folder=f.label, name=row.name, job=job_id, attempts=row.attempts)
        if rt.leases is rt.store:
            rt.store.drop_dead_leases(self.owner)
        return to_run


def _read_record(dest: Path) -> dict[str, Any]:
    try:
        return json.loads((dest / "job.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {"name": dest.name}
