"""Long work off the request loop: scans and builds run in a small thread pool.

Each job calls the station's own functions — ``capture.batch.run_scan`` (which drives the
scanner in its own worker process) and ``station.pipeline.build_dossier`` (OCR in spawned
worker processes) — exactly as ``dossier scan`` and ``dossier build`` do, and reports progress
as events on the batch's topic. One job per batch at a time (a second Start is refused).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BusyError, DossierError
from dossier_station.ui.events import EventBus


@dataclass
class JobState:
    kind: str  # scan | build
    state: str = "running"  # running | done | fault | error
    message: str = ""
    done: int = 0
    total: int | None = None
    result: dict[str, Any] = field(default_factory=dict)
    volume: int = 0  # build: volumes written so far, of ``volumes`` (卷 n / N)
    volumes: int | None = None

    def event(self) -> dict[str, Any]:
        return {"type": "job", "kind": self.kind, "state": self.state, "message": self.message, "done": self.done,
                "total": self.total, "result": self.result, "volume": self.volume, "volumes": self.volumes}


class Jobs:
    def __init__(self, bus: EventBus, workers: int = 4) -> None:  # a signing may wait minutes for the officer
        self.bus = bus
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dossier-ui-job")
        self._lock = threading.Lock()
        self.states: dict[str, JobState] = {}

    def running(self, batch_id: str) -> JobState | None:
        st = self.states.get(batch_id)
        return st if st and st.state == "running" else None

    def start(self, batch_id: str, kind: str, work: Callable[[JobState], None]) -> JobState:
        with self._lock:
            if self.running(batch_id):
                raise BusyError(f"batch {batch_id} is busy ({self.states[batch_id].kind})", hint="wait until it finishes")
            st = JobState(kind)
            self.states[batch_id] = st
        self.bus.publish(batch_id, st.event())

        def run() -> None:
            try:
                work(st)
                if st.state == "running":
                    st.state = "done"
            except DossierError as exc:
                st.state, st.message = "error", exc.message + (f" → {exc.hint}" if exc.hint else "")
            except Exception as exc:  # a bug of ours: keep it visible in the browser and the log
                traceback.print_exc()
                st.state, st.message = "error", f"internal error: {type(exc).__name__}: {exc}"
            self.bus.publish(batch_id, st.event())

        self._pool.submit(run)
        return st

    def progress(self, batch_id: str, st: JobState, **extra: Any) -> None:
        self.bus.publish(batch_id, st.event() | extra)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def volume_files(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*.pdf") if p.is_file())
