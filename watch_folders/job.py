"""The job a hot folder hands to the function the station gives it.

``watch_folders`` knows nothing of OCR or PDF: the station hands in a :data:`JobFunction`
(the dossier build; a checksum-only job for benchmarks) that reads the claimed input and writes
its results into ``job.work``. Raising a :class:`~dossier_station.core.errors.DossierError`
fails the job with that message and hint in ``error.txt``; any other exception fails it as an
internal error with the traceback. Whatever was in ``work`` is then discarded: a failed job's
folder holds only its inputs and the reason.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.files import sha256_file
from dossier_station.watch_folders.config import HotFolder
from dossier_station.watch_folders.discover import READY_MARKER


@dataclass(frozen=True)
class JobInput:
    """A claimed job: its input (a file, or a folder with a case file) and where to write."""

    id: str
    name: str  # as dropped into the hot folder
    kind: str  # "file" | "folder"
    path: Path  # the input inside the processing area
    work: Path  # an empty folder: everything written here becomes OUT/done/<job>/
    folder: HotFolder
    attempt: int = 1
    sha256: str = ""


@dataclass
class JobResult:
    """What the job made (files inside ``work``) and a line for the operator."""

    outputs: list[Path] = field(default_factory=list)
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


JobFunction = Callable[[JobInput], JobResult]


def input_files(path: Path) -> list[tuple[str, Path]]:
    """(relative name, path) of every regular file of a job input, in name order.

    Used for the content hash and for moving inputs; the ``.ready`` marker is not content.
    """
    if not path.is_dir():
        return [(path.name, path)]
    found = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = Path(root) / name
            rel = full.relative_to(path).as_posix()
            if rel == READY_MARKER:
                continue
            found.append((rel, full))
    return found


def special_entries(path: Path) -> list[str]:
    """Symlinks, devices, fifos inside a job folder: never followed, never built (named in the error)."""
    if not path.is_dir():
        return []
    bad = []
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = Path(root) / name
            mode = os.lstat(full).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                bad.append(full.relative_to(path).as_posix())
    return sorted(bad)


def content_hash(path: Path) -> tuple[str, int]:
    """SHA-256 of a job's content and its size in bytes.

    A file: the hash of its bytes (the same hash the journal and build report give it). A folder:
    the hash of its sorted ``relative-name NUL file-hash`` lines, so the same case dropped again
    under another folder name is still recognised.
    """
    if not path.is_dir():
        return sha256_file(path), path.stat().st_size
    h = hashlib.sha256()
    total = 0
    for rel, full in input_files(path):
        h.update(f"{rel}\0{sha256_file(full)}\n".encode())
        total += full.stat().st_size
    return h.hexdigest(), total
