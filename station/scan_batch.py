"""After a scan: what each page is (page, blank back, separator) and how the batch splits.

This is composition (capture + ocr's blank test), so it lives in station: capture knows
nothing of ocr. The raw pages are only read; batch.json records the roles and the split.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dossier_station.capture.batch import BatchFolder
from dossier_station.capture.separators import (
    Separator,
    check_against_case,
    read_separator,
    split_documents,
    unassigned_pages,
)
from dossier_station.core.errors import BadArgsError
from dossier_station.ocr.blank import detect_blank


def classify_pages(batch: BatchFolder, case: Any | None = None) -> dict[str, int]:
    """Mark separators and blank duplex backs; split into documents; check against the case."""
    separators: dict[int, Separator] = {}
    counts = {"separators": 0, "blank_backs": 0}
    for page in batch.pages:
        if page.get("classified"):
            if page.get("role") == "separator":
                separators[page["seq"]] = Separator(page.get("separator_case", ""), page["separator_row"])
            continue
        with Image.open(batch.path / page["file"]) as im:
            sep = read_separator(im, float(page.get("dpi") or 300))
            if sep is not None:
                page["role"] = "separator"
                page["separator_row"], page["separator_case"] = sep.row, sep.case_number
                separators[page["seq"]] = sep
                counts["separators"] += 1
            elif page.get("side") == "back":
                verdict = detect_blank(np.asarray(im.convert("L")), float(page.get("dpi") or 300))
                page["ink_ratio"] = round(verdict.ink_ratio, 5)
                if verdict.is_blank:
                    page["role"] = "blank"
                    counts["blank_backs"] += 1
        page["classified"] = True
    if separators:
        batch.data["documents"] = split_documents(batch.pages, separators)
        batch.data["unassigned"] = unassigned_pages(batch.pages, batch.data["documents"])  # kept, reported
        counts["unassigned"] = len(batch.data["unassigned"])
        if case is not None:
            check_against_case(batch.data["documents"], case, str(batch.manifest_path), [s.case_number for s in separators.values()])
    batch.save()
    return counts


def interleave_manual_duplex(batch: BatchFolder, first_back_seq: int) -> None:
    """A simplex feeder's two passes: fronts 1..n, then the flipped stack gives backs n..1.

    Pages keep their file names and seq (raw pages are written once); an ``order`` field puts
    front 1, back 1, front 2, back 2 … and the build reads pages in that order.
    """
    fronts = [p for p in batch.pages if p["seq"] < first_back_seq]
    backs = [p for p in batch.pages if p["seq"] >= first_back_seq]
    if len(fronts) != len(backs):
        raise BadArgsError(
            f"{len(fronts)} fronts but {len(backs)} backs were scanned",
            hint="every sheet needs its back: rescan the backs pass with the whole stack",
        )
    order = 1
    for front, back in zip(fronts, reversed(backs), strict=True):
        front["order"], front["side"] = order, "front"
        back["order"], back["side"] = order + 1, "back"
        back["classified"] = False  # re-check: a blank back is set aside
        order += 2
    batch.data["duplex"] = "manual"
    batch.save()


class EarlyOcr:
    """Read pages while the scanner is still feeding (``dossier scan --build``).

    Each page is handed to a worker pool the moment it is on disk, hashed; the worker leaves
    its outcome in the batch's ``work/ocr/`` (station.pages.run_early) and the build after the
    scan uses it instead of reading the page again, so the dossier is ready seconds after the
    last sheet instead of minutes. Workers die with this process (station.pages.die_with_parent).
    """

    def __init__(self, batch_dir: Path, *, engine: str, images: str, jobs: int) -> None:
        from dossier_station.station.pages import _init_pool_worker, worker_context

        self.batch_dir = Path(batch_dir)
        self.engine, self.images = engine, images
        self._pool = ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=worker_context(), initializer=_init_pool_worker, initargs=(engine, 1, os.getpid()))
        self._futures: list[Future[str]] = []

    def page(self, page: dict[str, Any]) -> None:
        """A page just captured (the scan's on_page record): start reading it."""
        from dossier_station.ocr.loader import PageSource
        from dossier_station.station.pages import run_early

        path = self.batch_dir / page["file"]
        src = PageSource(path, 0, 1, page["sha256"], "image")
        self._futures.append(self._pool.submit(run_early, src, self.engine, self.images))

    def finish(self) -> int:
        """Wait for the pages still being read; a page that failed is simply read again at build."""
        done = 0
        for f in self._futures:
            try:
                f.result()
                done += 1
            except Exception:  # noqa: BLE001 - the build reads the page again and reports any error itself
                pass
        self._pool.shutdown()
        return done

    def cancel(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
