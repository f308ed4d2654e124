"""Batch seal: the unit's seal on many files, one worker process per core, one event loop each.

Measured on 2 cores (specs/signing.md): pyHanko's own overhead is ~35 ms a signature and the
TSA round trip ~20 ms; an appearance with an embedded CJK font costs 250–600 ms. So: a raster
seal image (no font), one long-lived event loop and HTTP session per worker (no per-file
session set-up), the key loaded once per worker, and the certificate checked once per run
(by the caller) rather than per file. A file that fails is reported with its reason and the
others go on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dossier_station.core.errors import DossierError
from dossier_station.signing.keys import KeyRef, open_signer
from dossier_station.signing.pades import Services, SignRequest, Trust, sign_file_async


@dataclass(frozen=True)
class SealJob:
    src: Path
    dst: Path


@dataclass
class SealOutcome:
    src: Path
    dst: Path
    ok: bool
    sha256: str = ""
    source_sha256: str = ""
    error: str = ""
    seconds: float = 0.0


class _Worker:
    """Per-process state: the key, the loop, the HTTP session, kept for the whole batch."""

    def __init__(self, ref: KeyRef, pin: str, req: SignRequest, trust: Trust) -> None:
        self.loop = asyncio.new_event_loop()
        self._signer_cm = open_signer(ref, pin)
        self.signer = self._signer_cm.__enter__()
        self.req, self.trust = req, trust
        self.services = Services(trust, req.tsa_url)
        self.loop.run_until_complete(self.services.__aenter__())

    def seal(self, job: SealJob) -> SealOutcome:
        import time

        from dossier_station.core.files import sha256_bytes, sha256_file

        t = time.perf_counter()
        try:
            data = job.src.read_bytes()
            self.loop.run_until_complete(sign_file_async(job.src, job.dst, self.signer, self.req, self.trust,
                                                         timestamper=self.services.timestamper, precheck=False, data=data))
            return SealOutcome(job.src, job.dst, True, sha256_file(job.dst), sha256_bytes(data), seconds=time.perf_counter() - t)
        except DossierError as exc:
            return SealOutcome(job.src, job.dst, False, error=str(exc), seconds=time.perf_counter() - t)
        except OSError as exc:
            return SealOutcome(job.src, job.dst, False, error=f"{job.src}: {exc.strerror or exc}", seconds=time.perf_counter() - t)

    def close(self) -> None:
        self.loop.run_until_complete(self.services.__aexit__(None, None, None))
        self._signer_cm.__exit__(None, None, None)
        self.loop.close()


_WORKER: _Worker | None = None


def _init_worker(ref: KeyRef, pin: str, req: SignRequest, trust: Trust) -> None:
    global _WORKER
    _WORKER = _Worker(ref, pin, req, trust)


def _seal_one(job: SealJob) -> SealOutcome:
    assert _WORKER is not None
    return _WORKER.seal(job)


def seal_many(jobs: list[SealJob], ref: KeyRef, pin: str, req: SignRequest, trust: Trust, *,
              workers: int = 0, on_done: Callable[[SealOutcome], None] | None = None) -> list[SealOutcome]:
    """Seal every job; ``workers`` processes (0 = one per core, 1 = in this process)."""
    workers = workers or (os.cpu_count() or 1)
    workers = max(1, min(workers, len(jobs)))
    out: list[SealOutcome] = []
    for outcome in _run(jobs, ref, pin, req, trust, workers):
        out.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return out


def _run(jobs: list[SealJob], ref: KeyRef, pin: str, req: SignRequest, trust: Trust, workers: int) -> Iterator[SealOutcome]:
    if workers == 1:
        w = _Worker(ref, pin, req, trust)
        try:
            for job in jobs:
                yield w.seal(job)
        finally:
            w.close()
        return
    import multiprocessing

    if ref.kind == "pkcs12":
        _preload()
    # fork is cheap, but a PKCS#11 module initialised in the parent must not be inherited
    fork_ok = hasattr(os, "fork") and ref.kind == "pkcs12"
    ctx = multiprocessing.get_context("fork" if fork_ok else "spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(ref, pin, req, _portable(trust))) as pool:
        futures = [pool.submit(_seal_one, job) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()


def _preload() -> None:
    """Import the signing stack once in the parent: forked workers inherit it instead of each
    paying ~1 s of imports (a visible share of a 24-file batch)."""
    import aiohttp  # noqa: F401
    import pikepdf.pdfa  # noqa: F401
    from pyhanko.pdf_utils import images, incremental_writer  # noqa: F401
    from pyhanko.sign import fields, signers, timestamps  # noqa: F401
    from pyhanko.stamp import StaticStampStyle  # noqa: F401
    from pyhanko_certvalidator import ValidationContext  # noqa: F401
    from pyhanko_certvalidator.fetchers import aiohttp_fetchers  # noqa: F401


def _portable(trust: Trust) -> Any:
    """A Trust without its live HTTP session (each worker opens its own)."""
    return Trust(roots=list(trust.roots), others=list(trust.others))
