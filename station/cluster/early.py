"""``dossier scan --build`` with a broker: pages go to the pool as they are scanned.

The same shape as ``station.scan_batch.EarlyOcr`` (``page`` / ``finish`` / ``cancel``): each
page is sent the moment it is on disk and hashed. The worker stores its result under the
page's idempotence key (hash + settings); the build after the scan sends the same pages again
and each comes back at once as "already done" — so the dossier is ready seconds after the last
sheet, and a page whose early reading was lost is simply read then.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from dossier_station.station.cluster.config import BUILD_TTL_EARLY, build_key, done_list, held_hash
from dossier_station.station.cluster.payload import make_task
from dossier_station.station.cluster.transport import put_page

log = logging.getLogger("dossier.cluster")


class ClusterEarlyOcr:
    def __init__(self, executor: Any, batch_dir: Path, *, engine: str, images: str) -> None:
        self.executor, self.batch_dir = executor, Path(batch_dir)
        self.engine, self.images = engine, images
        self.client, self.settings = executor.client, executor.settings
        self.bid = "scan-" + uuid.uuid4().hex
        self.sent: set[str] = set()
        self.client.set(build_key(self.bid), json.dumps({"scan": str(self.batch_dir)}), ex=BUILD_TTL_EARLY)
        executor._declare_queue()

    def page(self, page: dict[str, Any]) -> None:
        """A page just captured: send it to the pool now."""
        path = self.batch_dir / page["file"]
        via, ref = put_page(self.client, self.settings, path, page["sha256"])
        task = make_task(build=self.bid, seq=len(self.sent) + 1, name=path.name, index=0, count=1, kind="image",
                         sha256=page["sha256"], size=path.stat().st_size, engine=self.engine, images=self.images,
                         via=via, ref=ref, secret=self.settings.secret)
        self.executor.app.send_task("dossier.ocr_page", args=[task], queue="ocr", retry=True)
        self.sent.add(task["result_key"])
        self.client.expire(build_key(self.bid), BUILD_TTL_EARLY)

    def finish(self, timeout: float = 600.0) -> int:
        """Wait for the pages sent (so the build does not read one twice); returns how many came back."""
        back: set[str] = set()
        deadline = time.monotonic() + timeout
        while back < self.sent and time.monotonic() < deadline:
            item = self.client.blpop([done_list(self.bid)], timeout=1)
            if item is not None:
                record = json.loads(item[1])
                if record.get("status") == "done":
                    back.add(record.get("result_key"))
        self.cancel()
        return len(back)

    def cancel(self) -> None:
        """Pages still queued find the scan's key gone and are skipped; results stay for the build."""
        try:
            self.client.delete(build_key(self.bid), done_list(self.bid), held_hash(self.bid))
        except Exception as exc:  # they expire on their own
            log.warning("could not tidy the scan's keys on the broker (%s)", type(exc).__name__)


def early_ocr(profile: Any, batch_dir: Path, *, engine: str, images: str, broker: str | None = None, fallback: str | None = None) -> ClusterEarlyOcr | None:
    """The pool's early reader when a broker is configured (and reachable), else None."""
    from dossier_station.station.cluster import page_executor

    executor = page_executor(profile, broker, fallback)
    return ClusterEarlyOcr(executor, batch_dir, engine=engine, images=images) if executor is not None else None
