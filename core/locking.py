"""Exclusive use of a folder: one build (or watch daemon, or mirror repair) at a time.

Two builds racing into one output folder once left a PDF whose hash matched neither its report
nor the journal. ``with folder_lock(out, "build"):`` takes an advisory ``flock`` on
``<out>/.dossier.lock`` — released by the kernel if the process dies, so a crash never leaves a
stale lock — and writes who holds it, so the second process can say which one to wait for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from dossier_station.core.errors import BusyError, FileAccessError
from dossier_station.core.files import describe_os_error

LOCK_NAME = ".dossier.lock"


def _holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text("utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    return f"{info.get('what', 'a job')} by process {info.get('pid', '?')} on {info.get('host', '?')} since {info.get('since', '?')}"


def check_output_folder(folder: Path, option: str = "-o/--output") -> None:
    """Refuse an output folder that is a file, or lies under one, with a clear error."""
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                where = "is a file" if p == folder else f"lies under {p}, which is a file"
                raise FileAccessError(f"{folder}: {where}, not a folder", hint=f"{option} names a folder; choose a folder path, not a file")
            return


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], what: str, *, wait: float = 0.0) -> Iterator[Path]:
    """Hold the folder's lock for the block; raise :class:`BusyError` naming the holder if taken.

    ``wait`` seconds are spent retrying before giving up (0 = fail at once). The lock file is
    removed on release, so a finished build leaves only its outputs in the folder; a process
    that locked a file just removed notices (its inode is no longer the path's) and retries.
    """
    folder = Path(folder)
    check_output_folder(folder)
    lock_path = folder / LOCK_NAME
    deadline = time.monotonic() + wait
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise describe_os_error(exc, folder) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"{folder}: in use — {_holder(lock_path)}",
                    hint="wait for it to finish, or choose another output folder",
                ) from None
            time.sleep(0.1)
            continue
        if _same_file(fd, lock_path):
            break
        os.close(fd)  # locked a lock file its holder had just removed: take the current one
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": what, "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield lock_path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)  # still held: nobody else can be using this inode as the lock
        os.close(fd)  # closing releases the flock


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
