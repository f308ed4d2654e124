"""Run the page stage over many pages: in parallel, in order, with flat memory.

Workers are separate processes (spawned, so a native crash in an engine cannot corrupt the
station) that each load the OCR engine once. A worker returns only a small record — the
encoded image stays in the work folder — so memory does not grow with the page count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dossier_station.ocr.loader import PageSource
from dossier_station.ocr.page import PageOutcome

_engine = None


def _init_worker(engine_name: str, threads: int) -> None:
    global _engine
    os.environ.setdefault("OMP_THREAD_LIMIT", str(threads))
    from dossier_station.ocr.engine import make_engine

    _engine = make_engine(engine_name, threads=threads)


def _run(args: tuple[PageSource, Path, int, str]) -> PageOutcome:
    from dossier_station.ocr.page import process_page

    src, work, seq, images = args
    assert _engine is not None
    return process_page(src, _engine, work, seq, images)


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
) -> Iterator[PageOutcome]:
    """Yield one outcome per source, in input order.

    ``executor``: another way to run the pages with this same signature (``.run(sources, work,
    engine=, jobs=, images=, on_done=)``), e.g. the Celery pool of station.cluster; None = here.
    """
    if executor is not None:
        yield from executor.run(sources, work, engine=engine, jobs=jobs, images=images, on_done=on_done)
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
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(engine, 1)) as pool:
        for out in pool.map(_run, tasks, chunksize=1):
            if on_done:
                on_done(out)
            yield out
