"""Putting a finished job in ``OUT/done/<job>/`` or ``OUT/failed/<job>/`` — whole, or not at all.

The outcome folder is assembled in ``OUT/.dossier-watch/staging/<id>/`` (the job's results,
``input/`` with the original files, ``job.json``, and for a failure ``error.txt``), then one
rename puts it in place over a name reserved with ``mkdir`` (so two jobs called ``scan.pdf``
become ``done/scan/`` and ``done/scan-2/``). A crash before that rename leaves nothing in
done/failed and the job is run again; after it, recovery only tidies up.

Inputs are *moved*: hard-linked into the outcome folder when the hot folder and the output
share a disk, else copied and the copy's SHA-256 checked against the original before the
processing-area entry is removed. Their bytes are never changed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from dossier_station.core.errors import DossierError, FileAccessError
from dossier_station.core.files import (
    copy_atomic,
    fsync_dir,
    sha256_file,
    write_bytes_atomic,
    write_json_atomic,
)
from dossier_station.watch_folders.job import input_files

INPUT_DIR = "input"
MAX_NAME_TRIES = 10_000


def fresh_work(staging: Path, job_id: str) -> Path:
    """An empty staging folder for one attempt (whatever an earlier attempt left is dropped)."""
    work = staging / job_id
    remove_tree(work)
    work.mkdir(parents=True)
    return work


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def transfer_inputs(src: Path, dest_dir: Path) -> list[dict[str, Any]]:
    """Hard-link (same disk) or verified-copy a job's input into ``dest_dir``; list what went.

    Symlinks and other special entries inside a job folder are recreated as they were (a link
    stays a link, never followed), so a rejected folder is handed back exactly as dropped.
    """
    moved = []
    base = dest_dir / src.name
    if src.is_dir():
        for root, dirs, files in os.walk(src):
            rel_root = Path(root).relative_to(src)
            (base / rel_root).mkdir(parents=True, exist_ok=True)
            for name in dirs + files:
                full = Path(root) / name
                mode = os.lstat(full).st_mode
                if stat.S_ISLNK(mode):
                    os.symlink(os.readlink(full), base / rel_root / name)
                    moved.append({"file": (rel_root / name).as_posix(), "symlink": os.readlink(full)})
                elif stat.S_ISREG(mode):
                    moved.append(_move_file(full, base / rel_root / name, (rel_root / name).as_posix()))
    else:
        dest_dir.mkdir(parents=True, exist_ok=True)
        moved.append(_move_file(src, base, src.name))
    fsync_dir(dest_dir)
    return moved


def _move_file(src: Path, dest: Path, rel: str) -> dict[str, Any]:
    digest = sha256_file(src)
    try:
        os.link(src, dest)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        copy_atomic(src, dest, expected_sha256=digest)
    return {"file": rel, "sha256": digest, "bytes": dest.stat().st_size}


def output_records(work: Path) -> list[dict[str, Any]]:
    """Every file the job wrote (not the inputs), with its hash as on disk."""
    found = []
    for rel, full in input_files(work):
        if rel.startswith(INPUT_DIR + "/") or rel in ("job.json", "error.txt"):
            continue
        found.append({"file": rel, "sha256": sha256_file(full), "bytes": full.stat().st_size})
    return found


def error_text(exc: BaseException, *, job_name: str, job_id: str, attempt: int, detail: str = "") -> str:
    """``error.txt``: what was wrong, what to do, and which job — written for the clerk."""
    if isinstance(exc, DossierError):
        what, todo = exc.message, exc.hint or "fix the input and drop it into the hot folder again"
    else:
        what = f"internal error: {type(exc).__name__}: {exc}"
        todo = "this is a bug in the station; report it with this file. Dropping the input again retries it."
    lines = [
        "What was wrong:",
        f"  {what}",
        "",
        "What to do:",
        f"  {todo}",
        "",
        f"Job {job_id}: '{job_name}', attempt {attempt}, failed {datetime.now().astimezone().isoformat(timespec='seconds')}.",
        "The original input is in input/ beside this file, unchanged.",
    ]
    if detail:
        lines += ["", detail]
    return "\n".join(lines) + "\n"


def write_error(work: Path, text: str) -> None:
    write_bytes_atomic(work / "error.txt", text.encode("utf-8"))


def write_record(work: Path, record: dict[str, Any]) -> None:
    write_json_atomic(work / "job.json", record)


def dest_stem(name: str, kind: str) -> str:
    """``scan001.pdf`` → ``scan001``; a folder keeps its name. Never hidden, never a path."""
    stem = Path(name).stem if kind == "file" else name
    stem = stem.replace("/", "_").replace("\\", "_").lstrip(".")
    return stem or "job"


def reserve(parent: Path, stem: str) -> Path:
    """Reserve ``parent/stem`` (or ``stem-2`` …) with an atomic mkdir, so no two jobs share it."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, MAX_NAME_TRIES):
        candidate = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise FileAccessError(f"{parent}: too many jobs named {stem}", hint="move old results out of the output folder")


def place(work: Path, dest: Path) -> None:
    """Rename the staged outcome over its reserved (empty) name, durably."""
    os.replace(work, dest)
    fsync_dir(dest.parent)


def is_placed(dest: Path | None, job_id: str) -> bool:
    """Does ``dest`` hold this job's finished outcome (its job.json names the job)?"""
    if dest is None:
        return False
    try:
        return json.loads((dest / "job.json").read_text("utf-8")).get("job") == job_id
    except (OSError, ValueError, AttributeError):
        return False


def mirror(dest: Path, mirrors: tuple[Path, ...]) -> list[str]:
    """Copy a done job's folder to each mirror (verified copies); return problems, not raise.

    A mirror on a sleeping NAS must not fail a dossier that is safely in done/; the problem is
    logged and the copy redone the next time the job is tidied.
    """
    problems = []
    for root in mirrors:
        target = root / dest.parent.name / dest.name
        try:
            for rel, full in input_files(dest):
                copy_atomic(full, target / rel, expected_sha256=sha256_file(full))
        except (OSError, DossierError) as exc:
            problems.append(f"{target}: {exc}")
    return problems


def unlink_empty(path: Path, older_than: float) -> bool:
    """Remove an empty leftover folder (a claim that never got its rename) once it is old."""
    with contextlib.suppress(OSError):
        if time.time() - path.stat().st_mtime >= older_than and not any(path.iterdir()):
            path.rmdir()
            return True
    return False
