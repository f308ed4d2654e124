"""Run the page stage over many pages: in parallel, in order, with flat memory.

Workers are separate processes (spawned, so a native crash in an engine cannot corrupt the
station) that each load the OCR engine once. A worker returns only a small record — the
encoded image stays in the work folder — so memory does not grow with the page count.

Workers die with the build: a SIGKILLed parent cannot clean up, so each worker asks the kernel
to kill it when its parent dies (prctl PR_SET_PDEATHSIG on Linux) and also watches its parent
pid (other systems, and the gap before prctl took effect). Orphaned workers would otherwise
keep hundreds of MB and keep OCRing pages nobody will read.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dossier_station.ocr.loader import PageSource
from dossier_station.ocr.page import PageOutcome

_engine = None


PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """Make this process exit as soon as ``parent`` is gone (kill -9 included)."""
    if sys.platform.startswith("linux"):
        import contextlib
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):  # no prctl: the watchdog remains
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _init_pool_worker(engine_name: str, threads: int, parent: int) -> None:
    """A pool worker: Ctrl-C in a terminal reaches the whole process group, but only the build
    (the parent) acts on it and stops the pool; a worker that took it too would die printing a
    traceback of its own."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(engine_name, threads, parent)


def _init_worker(engine_name: str, threads: int, parent: int | None = None) -> None:
    global _engine
    if parent is not None:
        die_with_parent(parent)
    os.environ.setdefault("OMP_THREAD_LIMIT", str(threads))
    from dossier_station.ocr.engine import make_engine

    _engine = make_engine(engine_name, threads=threads)


def _run(args: tuple[PageSource, Path, int, str]) -> PageOutcome:
    from dossier_station.ocr.page import process_page

    src, work, seq, images = args
    assert _engine is not None
    return process_page(src, _engine, work, seq, images)


# -- pages read while the scanner is still feeding ---------------------------------------------
# `dossier scan --build` reads each page as it arrives (station.scan_batch.EarlyOcr) and leaves
# its outcome here, inside the batch folder; the build that follows takes those outcomes instead
# of reading the pages again. A cached outcome is used only for the very bytes it was read from
# (the raw page's SHA-256 is in its name) with the same engine and image policy.
EARLY_DIR = Path("work") / "ocr"


def early_path(src: PageSource, engine: str, images: str) -> Path | None:
    """Where the early outcome of a batch page lives (None: the page is not in a scan batch)."""
    batch = src.path.parent.parent
    if src.path.parent.name != "pages" or not (batch / "batch.json").is_file():
        return None
    return batch / EARLY_DIR / f"{src.sha256}-{src.index}-{engine}-{images}" / "outcome.json"


def _early_read(src: PageSource, engine: str, images: str) -> PageOutcome | None:
    import json

    from dossier_station.core.model import PageSpec

    path = early_path(src, engine, images)
    if path is None or not path.is_file() or getattr(src, "turn", 0):
        return None  # not read early, or the clerk has since said how the page is turned: read it again
    try:
        data = json.loads(path.read_text("utf-8"))
        spec = PageSpec.from_json(data.pop("spec")) if data.get("spec") else None
        if data.get("crop_px") is not None:
            data["crop_px"] = tuple(data["crop_px"])
        out = PageOutcome(**data, spec=spec)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # damaged or from another version: read the page again
    if out.sha256 != src.sha256 or out.key != src.key or (spec is not None and not spec.image.data_path.is_file()):
        return None
    out.read_while_scanning = True
    return out


def run_early(src: PageSource, engine: str, images: str) -> str:
    """Read one batch page now (in a worker) and leave its outcome for the build."""
    import json

    from dossier_station.core.files import write_json_atomic
    from dossier_station.ocr.page import process_page

    path = early_path(src, engine, images)
    assert path is not None and _engine is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    out = process_page(src, _engine, path.parent, 1, images)
    record = out.report()
    record["spec"] = out.spec.to_json() if out.spec is not None else None
    write_json_atomic(path, json.loads(json.dumps(record, default=list)))
    return src.key


def _with_early(early: list[PageOutcome | None], sources: list[PageSource], work: Path, **kw: Any) -> Iterator[PageOutcome]:
    """Outcomes in input order: those read while scanning as they are, the rest read now."""
    on_done = kw.pop("on_done")
    missing = [i for i, o in enumerate(early) if o is None]
    rest = process_pages([sources[i] for i in missing], work, on_done=None, **kw) if missing else iter(())
    for o in early:
        out = o if o is not None else next(rest)
        if on_done:
            on_done(out)
        yield out


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def process_pages(
    sources: list[PageSource],
    work: Path,
    *,
    engine: str,
    jobs: int,
    images: str = "archival",
    on_done: Callable[[PageOutcome], None] | None = None,
    executor: Any = None,
    warm: WarmPool | None = None,
) -> Iterator[PageOutcome]:
    """Yield one outcome per source, in input order.

    ``executor``: another way to run the pages with this same signature (``.run(sources, work,
    engine=, jobs=, images=, on_done=)``), e.g. the Celery pool of station.cluster; None = here.
    ``warm``: workers started (and their engines loaded) while the inputs were being checked.
    """
    if executor is not None:
        yield from executor.run(sources, work, engine=engine, jobs=jobs, images=images, on_done=on_done)
        return
    early = [_early_read(src, engine, images) for src in sources]
    if any(early):
        yield from _with_early(early, sources, work, engine=engine, jobs=jobs, images=images, on_done=on_done)
        return
    tasks = [(src, work, i + 1, images) for i, src in enumerate(sources)]
    if jobs <= 1:
        _init_worker(engine, 1)
        for t in tasks:
            out = _run(t)
            if on_done:
                on_done(out)
            yield out
        return
    from concurrent.futures.process import BrokenProcessPool

    from dossier_station.core.errors import DossierError

    pool = warm.take(engine, jobs) if warm is not None else None
    pool = pool or new_pool(engine, jobs)
    try:
        for out in pool.map(_run, tasks, chunksize=1):
            if on_done:
                on_done(out)
            yield out
    except BrokenProcessPool:
        raise DossierError(
            "an OCR worker process died while reading pages (killed, or out of memory)",
            hint="nothing was written; rerun the build (with --jobs 1 if memory is short, and see `dmesg` for the OOM killer)",
        ) from None
    except BaseException:  # Ctrl-C, SIGTERM, an error downstream: stop now, not after the queue
        _stop_now(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def new_pool(engine: str, jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_pool_worker, initargs=(engine, 1, os.getpid()))


def _ready() -> int:
    return os.getpid()


class WarmPool:
    """Worker processes started before the build knows its pages.

    A worker takes about a second to start and load the OCR models; a build spends about as
    long checking its inputs and the output folder. Started first, the workers are ready when
    the first page is. Use as a context manager: a pool nobody took (bad input, one page) is
    stopped on the way out.
    """

    def __init__(self, engine: str, jobs: int) -> None:
        self.engine, self.jobs = engine, jobs
        self._pool: ProcessPoolExecutor | None = new_pool(engine, jobs) if jobs > 1 else None
        if self._pool is not None:
            for _ in range(jobs):  # one task each: with spawn, a worker is started per task
                self._pool.submit(_ready)

    def take(self, engine: str, jobs: int) -> ProcessPoolExecutor | None:
        """The pool, if it was started for this engine and this many workers (else None)."""
        pool, self._pool = self._pool, None
        if pool is not None and (engine, jobs) != (self.engine, self.jobs):
            _stop_now(pool)
            return None
        return pool

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            _stop_now(self._pool)
            self._pool.shutdown(wait=True)
            self._pool = None


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the workers at once: pages not yet read are dropped (the build writes nothing)."""
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        proc.terminate()
