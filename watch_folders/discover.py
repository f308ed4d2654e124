"""What lies in a hot folder, and when a dropped file or folder is ready to be taken.

Readiness is decided from what can be observed on any filesystem, local or network share:
a file's size, mtime and inode unchanged for the stability window (a scanner writing a large
PDF over SMB keeps changing them), or an explicit ``.ready`` marker in a job folder. A file that
cannot be opened (a Windows share lock, permissions) is *busy* and retried with back-off; a file
that vanishes or is replaced while we wait is forgotten or re-timed. Nothing here moves files.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

READY_MARKER = ".ready"
CASE_NAMES = ("case.toml", "case.json")
TEMP_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", ".lock")
TEMP_NAMES = {"thumbs.db", "desktop.ini"}
MAX_BACKOFF = 300.0


def ignored_name(name: str) -> bool:
    """Hidden, temporary and OS litter names are never jobs (nor pages of a job)."""
    low = name.lower()
    return (
        name.startswith((".", "~$", "~"))
        or low.endswith(TEMP_SUFFIXES)
        or low.endswith("~")
        or low in TEMP_NAMES
    )


@dataclass(frozen=True)
class Snapshot:
    """What a look at a candidate saw; two equal snapshots a window apart mean 'settled'."""

    kind: str  # "file" | "folder"
    signature: tuple[object, ...]
    size: int
    marked_ready: bool = False
    has_case: bool = False


def _file_sig(st: os.stat_result) -> tuple[object, ...]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def snapshot(path: Path) -> Snapshot | None:
    """Look at one top-level entry; None when it is not a candidate (gone, link, device, …)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        return Snapshot("file", _file_sig(st), st.st_size)
    if not stat.S_ISDIR(st.st_mode):
        return None  # symlinks, fifos, sockets, devices
    sig: list[object] = [st.st_ino, st.st_mtime_ns]
    total = 0
    ready = False
    try:
        for entry in sorted(_walk(path)):
            rel, est = entry
            sig.append((rel, est.st_mode, est.st_size, est.st_mtime_ns))
            total += est.st_size if stat.S_ISREG(est.st_mode) else 0
            if rel == READY_MARKER:
                ready = True
    except OSError:
        return None
    has_case = any((path / n).is_file() for n in CASE_NAMES)
    return Snapshot("folder", tuple(sig), total, marked_ready=ready, has_case=has_case)


def _walk(folder: Path, prefix: str = "") -> Iterator[tuple[str, os.stat_result]]:
    with os.scandir(folder) as it:
        for entry in it:
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            yield rel, st
            if stat.S_ISDIR(st.st_mode):
                yield from _walk(Path(entry.path), rel + "/")


def list_candidates(hot: Path, ignored: list[tuple[str, str]] | None = None) -> list[str]:
    """Names of the top-level entries that could be jobs, in name order (oldest scans first).

    Regular files and folders only: a symlink could point anywhere (and its target change
    under us), a fifo or device never "finishes". Those, when ``ignored`` is given, are
    appended to it with the reason, for the operator log.
    """
    found = []
    try:
        with os.scandir(hot) as it:
            for entry in it:
                if ignored_name(entry.name):
                    continue
                try:
                    if entry.is_symlink():
                        reason = "symbolic link (never followed; copy the file itself)"
                    elif entry.is_file(follow_symlinks=False) or entry.is_dir(follow_symlinks=False):
                        found.append(entry.name)
                        continue
                    else:
                        reason = "not a regular file or folder (device, fifo or socket)"
                except OSError:
                    continue
                if ignored is not None:
                    ignored.append((entry.name, reason))
    except OSError:
        return []
    return sorted(found)


def readable(path: Path) -> bool:
    """Can we open it for reading right now? (False: locked by the writer, or no permission.)"""
    if path.is_dir():
        return os.access(path, os.R_OK | os.X_OK)
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except FileNotFoundError:
        return True  # taken by another worker or removed: the claim will find out, not "busy"
    except OSError:
        return False


@dataclass
class _Watch:
    snap: Snapshot
    since: float  # monotonic time the current snapshot was first seen
    busy_tries: int = 0
    retry_at: float = 0.0
    waiting_noted: bool = False


@dataclass
class Readiness:
    """Per hot folder: which candidates have settled. Call :meth:`observe` on every rescan."""

    stable: float
    clock: object = field(default=time.monotonic)
    _seen: dict[str, _Watch] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock()  # type: ignore[operator]

    def observe(self, hot: Path, names: list[str], taking: set[str] | frozenset[str] = frozenset()) -> tuple[list[tuple[str, Snapshot]], list[tuple[str, str]]]:
        """Return (ready candidates, notes) for the names now in ``hot``.

        A note is (name, what) for an operator log: "vanished", "replaced", "busy", "waiting …".
        ``taking`` are names a worker is claiming right now (their disappearance is no news).
        """
        now = self.now()
        ready: list[tuple[str, Snapshot]] = []
        notes: list[tuple[str, str]] = []
        present = set(names)
        for gone in [n for n in self._seen if n not in present]:
            del self._seen[gone]
            if gone not in taking:
                notes.append((gone, "vanished before it was taken"))
        for name in names:
            if name in taking:
                continue  # judged ready and queued: a worker looks at it again when it claims
            snap = snapshot(hot / name)
            if snap is None:
                self._seen.pop(name, None)
                continue
            w = self._seen.get(name)
            if w is None:
                w = self._seen[name] = _Watch(snap, now)
            elif w.snap.signature != snap.signature:
                if w.snap.signature[:1] != snap.signature[:1]:
                    notes.append((name, "replaced while waiting; timing it again"))
                w.snap, w.since = snap, now
                if not snap.marked_ready:
                    continue
            if now < w.retry_at:
                continue
            if snap.kind == "folder" and not (snap.has_case or snap.marked_ready):
                if not w.waiting_noted and now - w.since >= self.stable:
                    notes.append((name, "folder waits for case.toml/case.json or a .ready file"))
                    w.waiting_noted = True
                continue
            settled = snap.marked_ready or now - w.since >= self.stable
            if not settled:
                continue
            if not readable(hot / name):
                w.busy_tries += 1
                w.retry_at = now + min(MAX_BACKOFF, max(self.stable, 0.5) * 2 ** w.busy_tries)
                notes.append((name, f"busy (cannot be opened); retry {w.busy_tries} in {w.retry_at - now:.0f} s"))
                continue
            ready.append((name, snap))
        return ready, notes

    def pending(self) -> int:
        """Candidates seen but not (yet) ready: what the queue holds."""
        return len(self._seen)

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)

    def next_deadline(self) -> float | None:
        """Seconds until some waiting candidate could become ready (to time the next look)."""
        if not self._seen:
            return None
        now = self.now()
        waits = [max(w.retry_at, w.since + self.stable) - now for w in self._seen.values()]
        return max(0.0, min(waits))
