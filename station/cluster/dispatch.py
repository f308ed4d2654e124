"""The station's side of the pool: a drop-in for the local process pool.

``ClusterExecutor.run`` has the shape of ``station.pages.process_pages`` — sources in, one
``PageOutcome`` per source out, in input order, ``on_done`` per page — so the pipeline, the
progress bar, the report and the journal do not know whether the pages were OCR'd here or on
twenty machines.

What it adds is the bookkeeping that makes "exactly once" true when things break:

- every page has an idempotence key (page hash + settings); the first valid result for a key
  is taken, later ones are ignored, so a page OCR'd twice appears once;
- a worker that stops heartbeating (killed, unplugged) has its pages resent at once, rather
  than after Redis' visibility timeout;
- a broker that restarts (its ``run_id`` changes, so its queue and keys may be gone) gets every
  page still outstanding sent again; a dropped connection is retried, not fatal;
- every result is checked: its input hash must be the page's, its image must hash as stated.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.station.cluster.app import PAGE_TIME_LIMIT
from dossier_station.station.cluster.config import (
    HEARTBEAT_TTL,
    ClusterError,
    ClusterSettings,
    any_worker,
    build_key,
    done_list,
    held_hash,
    page_key,
    result_image_key,
    result_key,
    worker_key,
)
from dossier_station.station.cluster.payload import PayloadRefused, check_result, make_task
from dossier_station.station.cluster.transport import (
    PageMissing,
    get_result_image,
    page_reachable,
    put_page,
)

log = logging.getLogger("dossier.cluster")
BUILD_TTL = 3600
MAX_SENDS = 6  # a page sent this many times without a result stops the build
BROKER_DOWN_LIMIT = 120.0  # seconds without a broker before the build gives up
NO_WORKER_LIMIT = 600.0  # seconds with pages outstanding and no live worker


@dataclass
class _Page:
    task: dict[str, Any]
    seqs: list[int]  # input positions with this page (the same page listed twice is OCR'd once)
    sends: int = 0
    sent_at: float = 0.0


@dataclass
class _State:
    pages: dict[str, _Page] = field(default_factory=dict)  # result_key -> page
    outcomes: dict[int, Any] = field(default_factory=dict)  # seq -> PageOutcome
    run_id: str | None = None
    workers: set[str] = field(default_factory=set)


class ClusterExecutor:
    """Hands pages to Celery workers through Redis; see the module docstring."""

    def __init__(self, settings: ClusterSettings, client: Any) -> None:
        self.settings = settings
        self.client = client
        from dossier_station.station.cluster.app import make_app

        self.app = make_app(settings.broker)

    # -- the process_pages shape ----------------------------------------------------------
    def run(
        self, sources: list[Any], work: Path, *, engine: str, jobs: int = 0, images: str = "archival",
        on_done: Callable[[Any], None] | None = None,
    ) -> Iterator[Any]:
        bid = uuid.uuid4().hex
        state = _State()
        self._sources = sources
        try:
            self._start(bid, sources, engine, images, state)
            yield from self._collect(bid, sources, work, state, on_done)
        finally:
            self._cleanup(bid, state)

    # -- sending ---------------------------------------------------------------------------
    def _start(self, bid: str, sources: list[Any], engine: str, images: str, state: _State) -> None:
        state.run_id = self._run_id()
        self.client.set(build_key(bid), json.dumps({"pages": len(sources), "started": time.time()}), ex=BUILD_TTL)
        refs: dict[str, tuple[str, str]] = {}
        for seq, src in enumerate(sources, start=1):
            if src.sha256 not in refs:
                refs[src.sha256] = put_page(self.client, self.settings, src.path, src.sha256)
            via, ref = refs[src.sha256]
            task = make_task(
                build=bid, seq=seq, name=src.path.name, index=src.index, count=src.count, kind=src.kind,
                sha256=src.sha256, size=src.path.stat().st_size, engine=engine, images=images, via=via, ref=ref,
                secret=self.settings.secret, turn=getattr(src, "turn", 0),
            )
            page = state.pages.setdefault(task["result_key"], _Page(task, []))
            page.seqs.append(seq - 1)
        self._declare_queue()
        for page in state.pages.values():
            self._send(page)

    def _declare_queue(self) -> None:
        """(Re)declare the ``ocr`` queue: after a broker restart Redis has forgotten the binding,
        and a message published to an unbound exchange would be dropped."""
        from kombu import Exchange, Queue

        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=20, interval_start=0.2, interval_step=0.2, interval_max=1)
            Queue("ocr", Exchange("ocr", type="direct"), routing_key="ocr")(conn.default_channel).declare()

    def _send(self, page: _Page) -> None:
        if page.sends >= MAX_SENDS:
            raise ClusterError(
                f"page {page.task['name']}: sent to the pool {page.sends} times without a result",
                hint="see `dossier workers status` and the worker logs for why it fails",
            )
        self.app.send_task(
            "dossier.ocr_page", args=[page.task], queue="ocr", retry=True,
            retry_policy={"max_retries": 20, "interval_start": 0.2, "interval_step": 0.3, "interval_max": 1.0},
        )
        page.sends += 1
        page.sent_at = time.monotonic()

    def _resend(self, page: _Page, why: str) -> None:
        log.warning("page %s: %s; sending it again", page.task["name"], why)
        if not page_reachable(self.client, self.settings, page.task["via"], page.task["ref"]):
            for seq in page.seqs[:1]:
                src = self._sources[seq]
                put_page(self.client, self.settings, src.path, src.sha256)
        self._send(page)

    # -- receiving -------------------------------------------------------------------------
    def _collect(self, bid: str, sources: list[Any], work: Path, state: _State, on_done: Callable[[Any], None] | None) -> Iterator[Any]:
        import redis
        from kombu.exceptions import OperationalError

        next_seq, last_check, down_since, lonely_since = 0, 0.0, None, None
        while next_seq < len(sources):
            try:
                item = self.client.blpop([done_list(bid)], timeout=1)
                if item is not None:
                    self._receive(json.loads(item[1]), bid, work, state)
                now = time.monotonic()
                if now - last_check >= 1.0:
                    last_check = now
                    alive = self._maintain(bid, state)
                    lonely_since = None if alive else (lonely_since or now)
                    if lonely_since and now - lonely_since > NO_WORKER_LIMIT:
                        raise ClusterError(
                            f"no dossier worker has been connected to {self.settings.safe_broker} for {NO_WORKER_LIMIT:.0f} s",
                            hint="start workers with: dossier worker --broker URL",
                        )
                down_since = None
            except (redis.ConnectionError, redis.TimeoutError, OperationalError, OSError) as exc:
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > BROKER_DOWN_LIMIT:
                    raise ClusterError(
                        f"lost the broker {self.settings.safe_broker} for over {BROKER_DOWN_LIMIT:.0f} s ({type(exc).__name__})",
                        hint="bring Redis back and build again; pages already OCR'd are redone quickly",
                    ) from None
                time.sleep(0.5)
                continue
            while next_seq < len(sources) and next_seq in state.outcomes:
                outcome = state.outcomes[next_seq]
                if on_done:
                    on_done(outcome)
                yield outcome
                next_seq += 1

    def _receive(self, record: dict[str, Any], bid: str, work: Path, state: _State) -> None:
        rk = record.get("result_key")
        page = state.pages.get(rk) if isinstance(rk, str) else None
        if page is None or page.seqs[0] in state.outcomes:
            return  # a duplicate (page OCR'd twice) or not ours: the first result stands
        status = record.get("status")
        if status == "missing":
            self._resend(page, f"the worker could not find its bytes ({record.get('error')})")
            return
        if status in ("refused", "failed"):
            raise _page_error(page.task, record)
        raw = self.client.get(result_key(rk))
        if raw is None:
            self._resend(page, "its result is gone from the broker")
            return
        try:
            result = check_result(json.loads(raw), page.task, self.settings.secret)
            seq0 = page.seqs[0]
            src = self._sources[seq0]
            image = get_result_image(self.client, self.settings, result["image"], src.path, src.sha256, work / f"{seq0 + 1:04d}") if result["image"] else None
        except PageMissing as exc:
            self._resend(page, str(exc))
            return
        except PayloadRefused as exc:
            raise ClusterError(f"{exc} — result refused", hint="a worker or the broker returned bytes that are not this page's; check the pool") from None
        state.workers.add(str(result.get("worker")))
        for seq in page.seqs:
            state.outcomes[seq] = _outcome(result, self._sources[seq], image)

    def _maintain(self, bid: str, state: _State) -> bool:
        """Resend what a dead worker held, or everything after a broker restart; True if any worker is alive."""
        run_id = self._run_id()
        outstanding = [p for p in state.pages.values() if p.seqs[0] not in state.outcomes]
        if run_id != state.run_id:
            log.warning("broker %s restarted: sending the %d outstanding pages again", self.settings.safe_broker, len(outstanding))
            self.client.set(build_key(bid), json.dumps({"restarted": time.time()}), ex=BUILD_TTL)
            self._declare_queue()
            for page in outstanding:
                self._resend(page, "the broker restarted")
            state.run_id = run_id  # only now: a resend cut short by the broker going again is redone
            return True
        self.client.expire(build_key(bid), BUILD_TTL)
        held = {k.decode(): _holder(v) for k, v in self.client.hgetall(held_hash(bid)).items()}
        alive = {h for h, _ in held.values() if self.client.exists(worker_key(h))}
        for page in outstanding:
            host, since = held.get(page.task["result_key"], ("", 0.0))
            if not host or time.monotonic() - page.sent_at <= HEARTBEAT_TTL:
                continue
            if host not in alive:
                why = f"worker {host} stopped (no heartbeat)"
            elif time.time() - since > PAGE_TIME_LIMIT + 30:  # the worker's hard limit killed it silently
                why = f"worker {host} has been on it for over {PAGE_TIME_LIMIT} s"
            else:
                continue
            self.client.hdel(held_hash(bid), page.task["result_key"])
            self._resend(page, why)
        return bool(alive) or any_worker(self.client)

    def _run_id(self) -> str:
        return str(self.client.info("server").get("run_id"))

    def _cleanup(self, bid: str, state: _State) -> None:
        """Delete the build's keys: late duplicates of its tasks then find it over and do nothing."""
        try:
            keys = [build_key(bid), done_list(bid), held_hash(bid)]
            for rk, page in state.pages.items():
                keys += [result_key(rk), result_image_key(rk)]
                if page.task["via"] == "redis":
                    keys.append(page_key(page.task["sha256"]))
            self.client.delete(*keys)
        except Exception as exc:  # the build itself is done; stale keys expire on their own
            log.warning("could not tidy the broker's keys (%s); they expire within %d s", type(exc).__name__, BUILD_TTL)


def _holder(raw: bytes) -> tuple[str, float]:
    try:
        held = json.loads(raw)
        return str(held["worker"]), float(held["since"])
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace"), time.time()


def _outcome(result: dict[str, Any], src: Any, image: Path | None) -> Any:
    """The worker's outcome, re-anchored to this station's file paths."""
    from dataclasses import replace

    from dossier_station.core.model import PageSpec
    from dossier_station.ocr.page import PageOutcome

    data = dict(result["outcome"])
    if data.get("key") != src.key:
        raise ClusterError(f"page {src.key}: the worker's result is for {data.get('key')!r}", hint="check the pool")
    data["source"] = str(src.path)
    if data.get("crop_px") is not None:
        data["crop_px"] = tuple(data["crop_px"])
    spec = None
    if result.get("spec") is not None:
        spec = PageSpec.from_json(result["spec"])
        spec = replace(spec, source=str(src.path), image=replace(spec.image, data_path=image))
    return PageOutcome(**data, spec=spec)


def _page_error(task: dict[str, Any], record: dict[str, Any]) -> Exception:
    """A page that failed on a worker fails the build as it would have locally: same error family."""
    from dossier_station.core import errors

    where = f"{task['name']} (on worker {record.get('worker')})"
    if record.get("status") == "refused":
        return ClusterError(f"{where}: refused — {record.get('error')}", hint="the page bytes or the task were altered between station and worker")
    cls = getattr(errors, str(record.get("error_class")), None)
    message = str(record.get("error", "")).split("\n  → ")[0]
    if isinstance(cls, type) and issubclass(cls, errors.DossierError):
        return cls(message, hint=record.get("hint"))
    return ClusterError(f"{where}: OCR failed — {message}", hint="see the worker's log; the same page fails the same way locally?")
