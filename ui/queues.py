"""The queues screen: each hot folder of the profile's ``[[watch.folders]]``, and retry.

Status is ``watch_folders.status.read_status`` — what ``dossier watch status`` prints. Retry
puts a failed job's original input (kept, byte for byte, in ``OUT/failed/<job>/input/``) back
into its hot folder, where the running daemon takes it as a new job; the failed job's folder
stays as it was (the record of the failure). The copy appears under its name in one rename
(hidden temporary first), so the daemon never sees half a file. Jobs are named by their id in
the state database, never by a path from the browser.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError, InputFileError
from dossier_station.core.files import copy_atomic, fsync_dir
from dossier_station.core.profile import load_profile

JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")


def hot_folders(profile: str | None) -> list[Any]:
    from dossier_station.watch_folders.config import settings_from_profile

    return list(settings_from_profile(load_profile(profile)).folders)


def queues(profile: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One entry per hot folder (its status, or why there is none); or the reason there are no folders."""
    from dossier_station.watch_folders.status import read_status

    try:
        folders = hot_folders(profile)
    except BadArgsError as exc:
        return [], exc.message
    out = []
    for i, f in enumerate(folders):
        entry: dict[str, Any] = {"index": i, "name": f.label, "hot": str(f.hot), "out": str(f.out)}
        try:
            st = read_status(f.out, errors=10)
        except BadArgsError:
            entry |= {"daemon": "never ran on this folder", "queued": None}
        else:
            mine = next((x for x in st.folders if Path(x.hot) == Path(f.hot)), None)
            entry |= {"daemon": st.daemon}
            if mine:
                entry |= {"queued": mine.queued, "in_progress": mine.in_progress, "done": mine.done, "failed": mine.failed,
                          "errors": mine.last_errors}
        out.append(entry)
    return out, None


def retry(profile: str | None, index: int, job_id: str) -> tuple[str, Path]:
    from dossier_station.watch_folders.config import STATE_DIR
    from dossier_station.watch_folders.state import StateStore

    folders = hot_folders(profile)
    if not 0 <= index < len(folders) or not JOB_ID.match(job_id):
        raise BadArgsError("no such hot folder or job", hint="reload the queues page")
    f = folders[index]
    store = StateStore(f.out / STATE_DIR / "state.sqlite3")
    try:
        row = store.get(job_id)
    finally:
        store.close()
    if row is None or row.state != "failed" or not row.dest:
        raise BadArgsError(f"job {job_id} is not a failed job of {f.label}", hint="reload the queues page")
    dest = Path(row.dest).resolve()
    if not dest.is_relative_to((f.out / "failed").resolve()):
        raise InputFileError(f"job {job_id}: its outcome folder is not under {f.out / 'failed'}")
    src = dest / "input" / row.name
    target = f.hot / row.name
    if not src.exists():
        raise InputFileError(f"{row.name}: the original input is not in {dest / 'input'}", hint="drop the file into the hot folder again")
    if target.exists():
        raise BadArgsError(f"{row.name} is already in the hot folder", hint="wait for the daemon to take it")
    if src.is_dir():
        tmp = f.hot / f".{row.name}.retry"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp, symlinks=True)
        os.replace(tmp, target)
        fsync_dir(f.hot)
    else:
        copy_atomic(src, target, expected_sha256=row.sha256)
    return row.name, target
