"""The UI's data folder: batches addressed by id, never by a path from the browser.

Every route names a batch by an id the server made (``20261130-221500-a1b2``) and a page by
its ``seq`` integer; the file itself is looked up in the batch's own ``batch.json``. An id is
checked against a strict pattern and the resolved folder must lie inside the data folder, so
``../``, absolute paths, symlinks out and NUL bytes are refused by construction.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from dossier_station.capture.batch import BatchFolder
from dossier_station.core.errors import BadArgsError, InputFileError

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
ENV = "DOSSIER_UI_DATA"


class NotFound(InputFileError):
    """A batch, page or volume id that names nothing inside the station's folders."""


def default_data_dir() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "dossier-station" / "ui"


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        (self.root / "batches").mkdir(parents=True, exist_ok=True)

    @property
    def batches_dir(self) -> Path:
        return self.root / "batches"

    def new_batch_id(self) -> str:
        return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)

    def batch_path(self, batch_id: str) -> Path:
        """The folder of batch ``batch_id``: only ids we could have made, only inside our folder."""
        if not isinstance(batch_id, str) or not ID_PATTERN.match(batch_id):
            raise NotFound(f"batch id {batch_id!r} is not valid", hint="batches are chosen from the list, not typed as paths")
        path = (self.batches_dir / batch_id).resolve()
        if not path.is_relative_to(self.batches_dir):
            raise NotFound(f"batch id {batch_id!r} is not inside the station's folder")
        return path

    def open_batch(self, batch_id: str) -> BatchFolder:
        path = self.batch_path(batch_id)
        if not (path / "batch.json").is_file():
            raise NotFound(f"batch {batch_id} does not exist", hint="choose a batch from the list")
        return BatchFolder.open(path)

    def list_batches(self) -> list[dict[str, Any]]:
        out = []
        for p in sorted(self.batches_dir.iterdir(), reverse=True):
            if ID_PATTERN.match(p.name) and (p / "batch.json").is_file():
                try:
                    b = BatchFolder.open(p)
                except InputFileError:
                    continue
                out.append({"id": p.name, "pages": len(b.pages), "state": b.data.get("state"), "created": b.data.get("created"),
                            "title": b.data.get("title") or p.name})
        return out

    def inside(self, base: Path, rel: str) -> Path:
        """A file named by our own manifest (``pages/0001.png``), still checked to stay in ``base``."""
        path = (base / rel).resolve()
        if not path.is_relative_to(base.resolve()):
            raise NotFound(f"{rel!r} points outside its batch")
        return path


def page_record(batch: BatchFolder, seq: int) -> dict[str, Any]:
    for p in batch.pages:
        if p["seq"] == seq:
            return p
    raise NotFound(f"page {seq} is not in batch {batch.path.name}", hint="reload the batch")


def check_seq(value: Any) -> int:
    try:
        seq = int(value)
    except (TypeError, ValueError):
        raise BadArgsError(f"page number {value!r} is not a number") from None
    if seq < 1:
        raise BadArgsError(f"page number {seq} is not valid")
    return seq
