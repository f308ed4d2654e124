"""Run the page stage over many pages: in parallel, in order, with flat memory.

Workers are separate processes (forked from a fork server that has imported the OCR stack once,
or spawned where there is none; either way a native crash in an engine cannot corrupt the
station) that each load the OCR engine once. A worker returns only a small record — the
encoded image stays in the work folder — so memory does not grow with the page count.

Workers die with the build: a SIGKILLed parent cannot clean up, so each worker asks the kernel
to kill it when its parent dies (prctl PR_SET_PDEATHSIG on Linux) and also watches the build's
pid (a forked worker's parent is the fork server; other systems; the gap before prctl). Orphaned workers would otherwise
keep hundreds of MB and keep OCRing pages nobody will read.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `dossier build` starts its workers before loading OpenCV
    from dossier_station.ocr.loader import PageSource
    from dossier_station.ocr.page import PageOutcome

_engine = None


PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """Make this worker exit as soon as the build (``parent``) is gone (kill -9 included).

    The kernel kills a spawned worker when its parent, the build, dies (prctl
    PR_SET_PDEATHSIG). A forked worker's parent is the fork server, which lives as long as any
    worker does: so the watchdog also looks for the build itself every PARENT_POLL_SECONDS
    (and covers other systems and the gap before prctl took effect).
    """
    from dossier_station.core.files import process_alive

    direct = os.getppid()  # the build (spawn) or the fork server (forkserver)
    if sys.platform.startswith("linux"):
        import contextlib
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):  # no prctl: the watchdog remains
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != direct or direct == 1 or not process_alive(parent):  # gone before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != direct or not process_alive(parent):
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


# Imported once, in the fork server, before any worker is forked from it: each worker then
# starts with the OCR stack loaded (importing rapidocr parses its YAML model tables: ~0.7 s
# of CPU per worker, paid while the build itself is starting on the same cores).
# The CLI module too: a worker re-runs the `dossier` script's module before its first task.
FORKSERVER_PRELOAD = ["dossier_station.station.cli", "dossier_station.station.pages", "dossier_station.ocr.page", "dossier_station.ocr.engine", "rapidocr.main"]


def worker_context():  # type: ignore[no-untyped-def]
    """How OCR workers are started: forked from a fork server where the system has one (Linux,
    macOS), else spawned. Either way a worker is a fresh process (no state of the build's own
    threads or open files), and a native crash in an engine cannot corrupt the station."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return get_context("spawn")
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(FORKSERVER_PRELOAD)
    return ctx


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


BATCH_MANIFEST = "batch.json"
BATCH_PAGES = "pages"
CASE_SUFFIXES = {".toml", ".json"}


def scan_batch_of(path: Path) -> Path | None:
    """The scan batch folder that ``path`` is, or whose pages folder is or holds ``path``."""
    if (path / BATCH_MANIFEST).is_file():
        return path
    pages = path if path.name == BATCH_PAGES else path.parent if path.parent.name == BATCH_PAGES else None
    return pages.parent if pages is not None and (pages.parent / BATCH_MANIFEST).is_file() else None


def early_path(src: PageSource, engine: str, images: str) -> Path | None:
    """Where the early outcome of a batch page lives (None: the page is not in a scan batch)."""
    batch = scan_batch_of(src.path)
    if batch is None:
        return None
    return batch / EARLY_DIR / f"{src.sha256}-{src.index}-{engine}-{images}" / "outcome.json"


def _early_read(src: PageSource, engine: str, images: str) -> PageOutcome | None:
    import json

    from dossier_station.core.model import PageSpec
    from dossier_station.ocr.page import PageOutcome

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
    on_tail: Callable[[], None] | None = None,
) -> Iterator[PageOutcome]:
    """Yield one outcome per source, in input order.

    ``executor``: another way to run the pages with this same signature (``.run(sources, work,
    engine=, jobs=, images=, on_done=)``), e.g. the Celery pool of station.cluster; None = here.
    ``warm``: workers started (and their engines loaded) while the inputs were being checked.
    ``on_tail``: called once when the last page has gone to a worker and a worker is free: the
    moment to get the volume's writing ready on the core that would otherwise wait.
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
        yield from _largest_first(pool, _run, tasks, jobs, on_done, on_tail)
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


def page_costs(sources: list[PageSource]) -> list[float]:
    """A guess at each page's reading time before it is read, for ordering only.

    A page's share of its file's bytes, against the median of the pages of the same format:
    denser pages compress worse and take longer to read, blank pages are the smallest files,
    and a lossless PNG of a page is not three times the work of a JPEG of one."""
    import statistics

    raw = []
    for src in sources:
        try:
            raw.append(src.path.stat().st_size / max(1, src.count))
        except OSError:
            raw.append(0.0)
    by_format: dict[str, list[float]] = {}
    for src, size in zip(sources, raw, strict=True):
        by_format.setdefault(src.path.suffix.lower(), []).append(size)
    medians = {fmt: statistics.median(sizes) or 1.0 for fmt, sizes in by_format.items()}
    return [size / medians[src.path.suffix.lower()] for src, size in zip(sources, raw, strict=True)]


def _largest_first(pool: ProcessPoolExecutor, run: Callable[[Any], PageOutcome], tasks: list[tuple[Any, ...]], jobs: int, on_done: Callable[[PageOutcome], None] | None, on_tail: Callable[[], None] | None) -> Iterator[PageOutcome]:
    """Pages sent to the workers costliest first, outcomes yielded in input order.

    Sent in input order, a dense page drawn last keeps one worker busy while the others wait:
    sent costliest first, the pages that finish the build are the quick ones (blank pages,
    short ones). Progress (``on_done``) is reported as pages finish."""
    from concurrent.futures import FIRST_COMPLETED, wait

    costs = page_costs([t[0] for t in tasks])
    order = sorted(range(len(tasks)), key=lambda i: -costs[i])
    futures = {pool.submit(run, tasks[i]): i for i in order}
    done: dict[int, PageOutcome] = {}
    pending, next_out, tail_called = set(futures), 0, on_tail is None
    while pending:
        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            out = future.result()
            done[futures[future]] = out
            if on_done:
                on_done(out)
        if not tail_called and len(pending) < jobs:
            tail_called = True
            on_tail()  # type: ignore[misc]
        while next_out in done:
            yield done.pop(next_out)
            next_out += 1


def new_pool(engine: str, jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=worker_context(), initializer=_init_pool_worker, initargs=(engine, 1, os.getpid()))


def _ready() -> int:
    return os.getpid()


def _start_workers(pool: ProcessPoolExecutor, jobs: int) -> None:
    for _ in range(jobs):  # one task each: a worker is started per task while none is idle
        pool.submit(_ready)


class WarmPool:
    """Worker processes started before the build knows its pages.

    A worker takes about a second to start and load the OCR models; a build spends about as
    long checking its inputs and the output folder. Started first, the workers are ready when
    the first page is. Use as a context manager: a pool nobody took (bad input, one page) is
    stopped on the way out.
    """

    def __init__(self, engine: str, jobs: int) -> None:
        global _started_early
        self.engine, self.jobs = engine, jobs
        early, _started_early = _started_early, None
        self._pool: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        if early is not None and jobs > 1 and (early.engine, early.jobs) == (engine, jobs):
            self._pool, self._starting = early._pool, early._starting  # the workers the command started
            early._pool = early._starting = None
        elif early is not None:
            early.__exit__(None, None, None)  # started on a guess the build's settings overrule
        if self._pool is None and jobs > 1:
            self._pool = new_pool(engine, jobs)
            # Starting a process waits for the fork server to have imported the OCR stack: in a
            # thread, so that the build goes on checking its inputs meanwhile.
            self._starting = threading.Thread(target=_start_workers, args=(self._pool, jobs), name="workers-start", daemon=True)
            self._starting.start()

    def _started(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None

    def take(self, engine: str, jobs: int) -> ProcessPoolExecutor | None:
        """The pool, if it was started for this engine and this many workers (else None)."""
        self._started()
        pool, self._pool = self._pool, None
        if pool is not None and (engine, jobs) != (self.engine, self.jobs):
            _stop_now(pool)
            return None
        return pool

    def __enter__(self) -> WarmPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._started()
        if self._pool is not None:
            _stop_now(self._pool)
            self._pool.shutdown(wait=True)
            self._pool = None


# Workers a command started before it loaded the build (see started_early); the build's WarmPool
# adopts them when its settings match the guess, else stops them.
_started_early: WarmPool | None = None


@contextmanager
def started_early(engine: str, jobs: int) -> Iterator[None]:
    """Start the build's workers now, before the command imports the build (about a second of
    imports the workers' own start-up then overlaps); stopped on the way out if no build took them."""
    global _started_early
    _started_early = WarmPool(engine, jobs)
    try:
        yield
    finally:
        early, _started_early = _started_early, None
        if early is not None:
            early.__exit__(None, None, None)


def many_pages_likely(inputs: Path) -> bool:
    """Whether starting the workers before the pages are known is worth it: a folder of several
    files or a case file, not one file (a hot folder's single page is read in-process, and
    workers started for it would only take its CPU) nor a scan batch (read while scanning)."""
    if scan_batch_of(inputs) is not None:
        return False
    if inputs.suffix.lower() in CASE_SUFFIXES:
        return True
    if not inputs.is_dir():
        return False
    try:
        return sum(1 for p in inputs.iterdir() if not p.name.startswith(".")) >= 2
    except OSError:
        return False


def early_guess(inputs: Path, engine: str | None, jobs: int | None, broker: str | None, profile_path: str | None) -> tuple[str, int] | None:
    """The engine and worker count a ``dossier build`` will most likely ask for, from its command
    line and a quick look at its profile; None: start no workers early (pages read elsewhere,
    or too few to be worth it). Only a guess: the build checks its settings and decides."""
    import tomllib

    if broker or not many_pages_likely(inputs):
        return None
    path = profile_path or os.environ.get("DOSSIER_PROFILE")
    build: Any = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError):
            return None  # the build itself says what is wrong with the profile
        build, cluster = data.get("build", {}), data.get("cluster", {})
        if not isinstance(build, dict) or not isinstance(cluster, dict) or cluster.get("broker"):
            return None
    engine = engine or build.get("engine") or "rapidocr"
    jobs = jobs or build.get("jobs") or default_jobs()
    if not isinstance(engine, str) or not isinstance(jobs, int) or jobs < 2:
        return None
    return engine, jobs


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the workers at once: pages not yet read are dropped (the build writes nothing)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    # Wait for the pool's own thread to see its workers gone and close its pipes: left running,
    # it races the interpreter's exit hook for them, which then prints a traceback (EBADF).
    if manager is not None and manager is not threading.current_thread():
        manager.join(timeout=10)
