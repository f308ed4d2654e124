"""``dossier watch status``: what the hot folders hold and how the jobs went, from the state DB.

Read-only and safe while a daemon runs (SQLite WAL readers never block the writer). The queue
is what lies in the hot folder now and is not yet claimed; "in progress" are the rows a daemon
holds; the heartbeat says whether a daemon is alive at all.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError
from dossier_station.watch_folders.config import STATE_DIR
from dossier_station.watch_folders.discover import list_candidates
from dossier_station.watch_folders.state import ACTIVE, StateStore


@dataclass
class FolderStatus:
    hot: str
    out: str
    name: str
    mode: str
    queued: int
    in_progress: list[str]
    done: int
    failed: int
    last_errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class WatchStatus:
    state_db: str
    daemon: str  # "running (owner, 3 s ago)" | "not running"
    folders: list[FolderStatus]

    def as_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    def summary(self) -> str:
        lines = [f"watch state {self.state_db}: daemon {self.daemon}"]
        for f in self.folders:
            lines.append(f"  {f.name}: {f.hot} → {f.out} ({f.mode})")
            lines.append(f"    queue {f.queued}, in progress {len(f.in_progress)}, done {f.done}, failed {f.failed}")
            for e in f.last_errors:
                lines.append(f"    failed {e['when']}: {e['name']} — {e['reason']}")
        return "\n".join(lines)


def read_status(out: Path, *, errors: int = 5, stale_after: float = 30.0) -> WatchStatus:
    db = out / STATE_DIR / "state.sqlite3"
    if not db.exists():
        raise BadArgsError(f"{out}: no watch state here (no {STATE_DIR}/state.sqlite3)", hint="give the output folder a `dossier watch` writes to")
    store = StateStore(db)
    try:
        meta = store.meta()
        beat = json.loads(meta.get("heartbeat", "null") or "null")
        age = time.time() - beat["time"] if beat else None
        daemon = f"running ({beat['owner']}, heartbeat {age:.0f} s ago)" if age is not None and age < stale_after else "not running"
        folders = []
        for key, value in sorted(meta.items()):
            if not key.startswith("folder:"):
                continue
            desc = json.loads(value)
            counts = store.counts(desc["hot"])
            active = store.rows(desc["hot"], ACTIVE)
            fails = store.recent_failures(errors, desc["hot"])
            hot = Path(desc["hot"])
            folders.append(FolderStatus(
                hot=desc["hot"], out=desc["out"], name=desc["name"], mode=f"poll {desc['poll']:g} s" if desc["poll"] else "events",
                queued=len(list_candidates(hot)) if hot.is_dir() else 0, in_progress=[r.name for r in active],
                done=counts.get("done", 0), failed=counts.get("failed", 0),
                last_errors=[{"job": r.id, "name": r.name, "reason": r.reason, "when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.finished or 0))} for r in fails],
            ))
        return WatchStatus(str(db), daemon, folders)
    finally:
        store.close()
