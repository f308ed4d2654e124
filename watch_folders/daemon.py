"""The watch daemon: look at the hot folders, hand ready jobs to workers, stop cleanly.

Per folder, a *looker* thread rescans the folder's top level (cheap: one ``listdir`` and an
``lstat`` per entry) whenever an event arrives, when a waiting candidate's stability window
ends, and at least every ``poll`` seconds (polling mode: network shares deliver no inotify
events) or every :data:`SAFETY_RESCAN` seconds (event mode: a missed event costs a delay,
never a file). Events come from ``watchfiles``; if it cannot watch a folder (inotify limits,
a filesystem without events) that folder falls back to polling and the log says so. At start
every folder is rescanned in full and the processing area recovered first, so nothing dropped
or claimed while the daemon was down is missed.

Ready candidates go onto one queue; ``workers`` threads claim them (the rename) only when free,
so a second daemon on the same folder can take what this one has not started.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError
from dossier_station.core.files import write_json_atomic
from dossier_station.watch_folders.config import STATE_DIR, HotFolder, WatchSettings
from dossier_station.watch_folders.discover import Readiness, Snapshot, list_candidates
from dossier_station.watch_folders.job import JobFunction
from dossier_station.watch_folders.lease import JobLeases, new_owner
from dossier_station.watch_folders.oplog import OpLog
from dossier_station.watch_folders.runner import (
    LEASE_TTL,
    Claimed,
    FolderRuntime,
    JobRunner,
    Recorder,
)
from dossier_station.watch_folders.state import StateStore

SAFETY_RESCAN = 30.0
RETRY_MAX = 300.0
ONCE_RETRIES = 3
MIN_LOOK = 0.05


@dataclass
class _Task:
    rt: FolderRuntime
    name: str = ""
    snap: Snapshot | None = None
    resume: Claimed | None = None
    tries: int = 0


@dataclass
class RunSummary:
    done: int = 0
    failed: int = 0
    released: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # still being written when --once ended


class Watcher:
    """Serve the folders of ``settings`` with ``job_fn`` until :meth:`stop` (or, ``once``, until idle)."""

    def __init__(
        self,
        settings: WatchSettings,
        job_fn: JobFunction,
        *,
        record: Recorder,
        leases: Callable[[StateStore], JobLeases] | None = None,
        log: OpLog | None = None,
        lease_ttl: float = LEASE_TTL,
    ) -> None:
        self.settings = settings
        self.log = log or OpLog(settings.log)
        self.owner = new_owner()
        self.runner = JobRunner(job_fn, self.owner, self.log, record, ttl=lease_ttl)
        self._stores: dict[Path, StateStore] = {}
        self.runtimes: list[FolderRuntime] = []
        for f in settings.folders:
            store = self._stores.get(f.state_db) or self._stores.setdefault(f.state_db, StateStore(f.state_db))
            self.runtimes.append(FolderRuntime(f, store, leases(store) if leases else store, Readiness(f.stable)))
        self.queue: queue.Queue[_Task | None] = queue.Queue()
        self.stopping = threading.Event()
        self.summary = RunSummary()
        self._count_lock = threading.Lock()
        self._busy = 0
        self._ended = threading.Event()  # leases are renewed until the last worker is done
        self._retries = 0  # jobs waiting for a retry timer
        self._once_mode = False
        self._claiming = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Make the folders, note them in the state DB, and recover what a stop left in hand."""
        for rt in self.runtimes:
            f = rt.folder
            for d in (f.processing, f.staging, f.done, f.failed):
                d.mkdir(parents=True, exist_ok=True)
            if rt.leases is rt.store:  # shared (e.g. Redis) leases coordinate several state files themselves
                _bind_state(f)
            rt.store.set_meta(f"folder:{f.hot}", json.dumps(_describe(f)))
            self.log.write(f.out, "start", folder=f.label, hot=str(f.hot), mode="poll" if f.poll else "events", owner=self.owner)
            for job in self.runner.recover(rt):
                self.queue.put(_Task(rt, resume=job))

    def run(self, *, once: bool = False, grace: float = 60.0) -> RunSummary:
        self.prepare()
        workers = [threading.Thread(target=self._work, name=f"watch-worker-{i}", daemon=True) for i in range(self.settings.workers)]
        for w in workers:
            w.start()
        self._ended.clear()
        beat = threading.Thread(target=self._heartbeat, name="watch-lease", daemon=True)
        beat.start()
        self._once_mode = once
        if once:
            self._once()
        else:
            threads = [threading.Thread(target=self._look_loop, args=(rt,), name=f"watch-look-{rt.folder.label}", daemon=True) for rt in self.runtimes]
            threads += [threading.Thread(target=self._events, args=(rt,), name=f"watch-events-{rt.folder.label}", daemon=True) for rt in self.runtimes if not rt.folder.poll]
            for t in threads:
                t.start()
            while not self.stopping.wait(0.5):
                pass
        self.stopping.set()
        for rt in self.runtimes:
            rt.wake.set()
        self._drain_unclaimed()
        for _ in workers:
            self.queue.put(None)
        deadline = time.monotonic() + grace
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        if any(w.is_alive() for w in workers):
            self.summary.released = self.runner.release_all()
        self._ended.set()
        for rt in self.runtimes:
            self.log.write(rt.folder.out, "stop", folder=rt.folder.label, done=self.summary.done, failed=self.summary.failed,
                           released=len(self.summary.released))
        return self.summary

    def stop(self) -> None:
        self.stopping.set()
        for rt in self.runtimes:
            rt.wake.set()

    def _drain_unclaimed(self) -> None:
        """On stop, forget queued candidates not yet claimed (they stay in HOT) and release
        recovered jobs not yet started (they stay in processing for the next start)."""
        while True:
            try:
                task = self.queue.get_nowait()
            except queue.Empty:
                break
            if task is not None and task.resume is not None:
                self.runner.release(task.rt, task.resume.id)
            self.queue.task_done()

    # -- looking -----------------------------------------------------------------------------
    def look(self, rt: FolderRuntime) -> float | None:
        """One pass over a folder: queue what is ready; return seconds until the next useful look."""
        f = rt.folder
        ignored: list[tuple[str, str]] = []
        names = list_candidates(f.hot, ignored)
        with rt.lock:
            ready, notes = rt.readiness.observe(f.hot, names, rt.queued)
            for name, why in ignored:
                if name not in rt.ignored_noted:
                    rt.ignored_noted.add(name)
                    notes.append((name, "ignored: " + why))
            fresh = [(n, s) for n, s in ready if n not in rt.queued]
            rt.queued.update(n for n, _ in fresh)
        for name, what in notes:
            event = "busy" if what.startswith("busy") else "ignored" if what.startswith("ignored") else "waiting"
            self.log.write(f.out, event, "warning" if event != "waiting" else "info", folder=f.label, name=name, reason=what)
        for name, snap in fresh:
            self.queue.put(_Task(rt, name, snap))
        with rt.lock:
            return rt.readiness.next_deadline()

    def _look_loop(self, rt: FolderRuntime) -> None:
        base = rt.folder.poll or SAFETY_RESCAN
        while not self.stopping.is_set():
            nxt = self.look(rt)
            timeout = base if nxt is None else max(MIN_LOOK, min(base, nxt + MIN_LOOK))
            rt.wake.wait(timeout)
            rt.wake.clear()

    def _events(self, rt: FolderRuntime) -> None:
        """Wake the looker on any change under HOT (but not our own processing area)."""
        try:
            import watchfiles

            for _changes in watchfiles.watch(
                rt.folder.hot, stop_event=self.stopping, debounce=200, step=20, rust_timeout=1000, yield_on_timeout=False,
                watch_filter=lambda _change, path: f"/{STATE_DIR}" not in path, raise_interrupt=False,
            ):
                rt.wake.set()
        except Exception as exc:  # no events here (limits, filesystem): poll instead
            if self.stopping.is_set():
                return
            self.log.write(rt.folder.out, "fallback", "warning", folder=rt.folder.label, reason=f"filesystem events unavailable ({exc}); polling every 2 s")
            rt.folder = _with_poll(rt.folder, 2.0)
            rt.wake.set()

    def _once(self) -> None:
        """Process what is ready now: look until every entry seen at the start has settled or
        outlived one stability window, then let the workers finish the queue."""
        start = time.monotonic()
        horizon = max(rt.folder.stable for rt in self.runtimes) + 0.5
        while not self.stopping.is_set():
            waits = [self.look(rt) for rt in self.runtimes]
            pending = [w for w in waits if w is not None]
            if not pending or time.monotonic() - start > horizon:
                break
            time.sleep(max(MIN_LOOK, min(min(pending), 0.25)))
        while not self.stopping.is_set() and (self.queue.unfinished_tasks or self._busy or self._retries):
            time.sleep(0.02)
        for rt in self.runtimes:
            with rt.lock:
                self.summary.left += [n for n in list_candidates(rt.folder.hot) if n not in rt.queued]

    # -- working -----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            task = self.queue.get()
            if task is None:
                self.queue.task_done()
                return
            with self._count_lock:
                self._busy += 1
            try:
                self._do(task)
            except Exception as exc:  # a broken disk or state DB: log, keep the daemon serving
                self.log.write(task.rt.folder.out, "error", "error", folder=task.rt.folder.label, name=task.name, reason=f"{type(exc).__name__}: {exc}")
            finally:
                with self._count_lock:
                    self._busy -= 1
                self.queue.task_done()

    def _do(self, task: _Task) -> None:
        rt = task.rt
        job = task.resume
        if self.stopping.is_set():
            if job is not None:
                self.runner.release(rt, job.id)
            return
        if job is None:
            assert task.snap is not None
            try:
                with self._claiming:  # never while the sweep looks for abandoned jobs
                    job = self.runner.claim(rt, task.name, task.snap)
            finally:
                with rt.lock:
                    rt.queued.discard(task.name)
                    rt.readiness.forget(task.name)
            if job is None:
                rt.wake.set()
                return
        elif not rt.leases.claim(job.id, self.owner, self.runner.ttl):
            return  # taken over by another daemon meanwhile
        try:
            outcome = self.runner.process(rt, job)
        except Exception as exc:  # journal, state or output disk unavailable: keep the job, retry it
            task.tries += 1
            delay = min(RETRY_MAX, 2.0 ** task.tries)
            self.log.write(rt.folder.out, "retry", "error", folder=rt.folder.label, name=job.name, job=job.id,
                           reason=f"{type(exc).__name__}: {exc}; retrying in {delay:.0f} s")
            self.runner.release(rt, job.id, reason="left in the processing area for a retry")
            if self._once_mode and task.tries > ONCE_RETRIES:
                return  # --once: the next run resumes it
            with self._count_lock:
                self._retries += 1
            retry = threading.Timer(delay, self._requeue, args=(_Task(rt, job.name, resume=job, tries=task.tries),))
            retry.daemon = True
            retry.start()
            return
        with self._count_lock:
            if outcome == "done":
                self.summary.done += 1
            elif outcome == "failed":
                self.summary.failed += 1

    def _requeue(self, task: _Task) -> None:
        self.queue.put(task)
        with self._count_lock:
            self._retries -= 1

    def _heartbeat(self) -> None:
        next_sweep = time.monotonic() + self.runner.ttl / 2
        while not self._ended.wait(self.runner.ttl / 3):
            self.runner.renew_all()
            for store in self._stores.values():
                store.set_meta("heartbeat", json.dumps({"owner": self.owner, "time": time.time()}))
            if not self._once_mode and not self.stopping.is_set() and time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.runner.ttl / 2
                self._sweep()

    def _sweep(self) -> None:
        """Take over jobs whose holder died while this daemon runs (its lease ran out)."""
        for rt in self.runtimes:
            try:
                with self._claiming:
                    jobs = self.runner.recover(rt)
            except Exception as exc:  # a state DB or broker hiccup: the next sweep tries again
                self.log.write(rt.folder.out, "error", "error", folder=rt.folder.label, reason=f"sweep: {type(exc).__name__}: {exc}")
                continue
            for job in jobs:
                self.log.write(rt.folder.out, "taken-over", "warning", folder=rt.folder.label, name=job.name, job=job.id)
                self.queue.put(_Task(rt, resume=job))


def _bind_state(f: HotFolder) -> None:
    """A hot folder's processing area belongs to one state DB: two daemons on one hot folder
    must share it (same output folder), or each would take the other's jobs in hand for
    orphans at start-up."""
    marker = f.hot / STATE_DIR / "state.json"
    try:
        bound = json.loads(marker.read_text("utf-8")).get("state_db")
    except (OSError, ValueError, AttributeError):
        bound = None
    if bound is None:
        write_json_atomic(marker, {"state_db": str(f.state_db)})
    elif bound != str(f.state_db):
        raise BadArgsError(
            f"{f.hot}: this hot folder is served with its state in {bound}, not {f.state_db}",
            hint=f"use the same output folder as the daemon already serving it, or, if that output folder is gone for good, delete {marker}",
        )


def _with_poll(folder: HotFolder, poll: float) -> HotFolder:
    from dataclasses import replace

    return replace(folder, poll=poll)


def _describe(f: HotFolder) -> dict[str, Any]:
    return {
        "hot": str(f.hot), "out": str(f.out), "name": f.label, "poll": f.poll, "stable": f.stable,
        "profile": str(f.profile) if f.profile else None, "case_template": str(f.case_template) if f.case_template else None,
        "mirrors": [str(m) for m in f.mirrors], "max_bytes": f.max_bytes, "max_pages": f.max_pages,
    }
