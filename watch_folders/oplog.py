"""The operator's log: one JSON object per line, appended, one file per output folder.

``OUT/watch-log.jsonl`` (or the ``[watch] log`` path) — what a monitoring system tails:
every job taken, done, failed (with the reason), every file ignored, busy or vanished, start-up
recovery and shutdown. Each line is written with one ``write`` on an ``O_APPEND`` descriptor,
so lines from two daemons never interleave.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

LOG_NAME = "watch-log.jsonl"


class OpLog:
    def __init__(self, fixed: Path | None = None, *, echo: TextIO | None = sys.stderr) -> None:
        self.fixed = fixed
        self.echo = echo
        self._lock = threading.Lock()
        self._fds: dict[Path, int] = {}

    def _fd(self, out: Path) -> int:
        path = self.fixed or out / LOG_NAME
        if path not in self._fds:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fds[path] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fds[path]

    def write(self, out: Path, event: str, level: str = "info", **fields: Any) -> None:
        record = {"time": datetime.now().astimezone().isoformat(timespec="milliseconds"), "level": level, "event": event, **fields}
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            with contextlib.suppress(OSError):  # a full log disk must not stop the jobs; the state DB records them
                os.write(self._fd(out), line.encode("utf-8"))
            if self.echo is not None:
                what = fields.get("name") or fields.get("folder") or ""
                extra = fields.get("reason") or fields.get("note") or fields.get("dest") or ""
                self.echo.write(f"{record['time'][11:19]} {event:<9} {what} {extra}".rstrip() + "\n")
                self.echo.flush()

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
