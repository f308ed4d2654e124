"""A batch scan session: pages into a batch folder, crash-safe, resumable, nothing lost.

The worker (devices.scanner) writes and fsyncs each raw page before it reports it; this side
records it in ``batch.json`` (rewritten atomically after every page) with its SHA-256, device,
settings, dpi and time. A killed session leaves at most a page file the manifest does not list
yet: ``--resume`` adopts such files (hash recomputed), drops half-written ``.part`` files, and
continues numbering after the last page, so each page is in the batch exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.errors import (
    BadArgsError,
    DeviceError,
    DeviceNotFoundError,
    InputFileError,
)
from dossier_station.core.files import sha256_bytes, sha256_file, write_json_atomic
from dossier_station.core.formats.batch import BATCH_FORMAT, read_batch_manifest
from dossier_station.devices.scanner import FAULTS, ScanSettings, ScanWorker

FORMAT = BATCH_FORMAT
MIN_DPI = 200  # DA/T 31-2017 §9.4
OCR_DPI = 300
REFEED_DIFF = 2.0  # mean grey difference of 8×8 fingerprints below which two pages look identical


@dataclass
class ScanOutcome:
    batch: Path
    added: list[dict[str, Any]] = field(default_factory=list)
    reason: str = "end"  # end | fault:<STATUS> | interrupted
    message: str = ""
    warnings: list[str] = field(default_factory=list)


class BatchFolder:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.manifest_path = self.path / "batch.json"
        self.data: dict[str, Any] = {}

    @classmethod
    def create(cls, path: Path, settings: ScanSettings) -> BatchFolder:
        b = cls(path)
        if b.path.exists() and not b.path.is_dir():
            raise BadArgsError(f"{path}: is a file, not a folder", hint="give a new folder for the batch: dossier scan --batch DIR")
        if b.manifest_path.exists():
            raise BadArgsError(f"{path} already holds a batch", hint=f"continue it with: dossier scan --resume {path}")
        for sub in ("pages", "thumbs"):
            (b.path / sub).mkdir(parents=True, exist_ok=True)
        b.data = {
            "format": FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "device": None,
            "settings": asdict(settings),
            "pages": [],
            "state": "scanning",
            "sessions": [],
            "warnings": [],
        }
        b.save()
        return b

    @classmethod
    def open(cls, path: Path) -> BatchFolder:
        """An existing batch, its batch.json checked against the one model (core/formats/batch)."""
        b = cls(path)
        if Path(path).exists() and not Path(path).is_dir():
            raise InputFileError(f"{path}: is a file, not a batch folder", hint="give the folder `dossier scan --batch` made")
        _, b.data = read_batch_manifest(b.path)
        return b

    def save(self) -> None:
        write_json_atomic(self.manifest_path, self.data)

    @property
    def pages(self) -> list[dict[str, Any]]:
        return self.data["pages"]

    def next_seq(self) -> int:
        return max((p["seq"] for p in self.pages), default=0) + 1

    def recover(self) -> list[str]:
        """After a crash: verify listed pages, adopt fsynced but unlisted ones, drop partial writes."""
        for p in self.pages:
            f = self.path / p["file"]
            if not f.exists() or sha256_file(f) != p["sha256"]:
                raise InputFileError(f"{f}: missing or changed since capture (SHA-256 differs)", hint="restore the raw page; raw pages must not be edited")
        return self.adopt_unlisted()

    def adopt_unlisted(self) -> list[str]:
        """Pages the worker wrote (complete, fsynced) that the manifest does not list yet —
        after a crash, or pages still in flight when the session was interrupted."""
        notes = []
        for part in (self.path / "pages").glob(".*.part"):
            part.unlink()
            notes.append(f"dropped half-written {part.name}")
        listed = {p["file"] for p in self.pages}
        for f in sorted((self.path / "pages").glob("[0-9][0-9][0-9][0-9].png")):
            rel = f"pages/{f.name}"
            if rel not in listed:
                data = f.read_bytes()
                self.pages.append({
                    "seq": int(f.stem), "file": rel, "sha256": sha256_bytes(data), "bytes": len(data),
                    "dpi": self.data["settings"]["dpi"], "side": "front", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "role": "page", "flags": ["recovered-unlisted"],
                })
                notes.append(f"adopted {rel} (written before the crash, not yet listed)")
        self.pages.sort(key=lambda p: p["seq"])
        return notes

    def add(self, rec: dict[str, Any]) -> None:
        rec = dict(rec)
        rec.setdefault("role", "page")
        rec.setdefault("flags", [])
        prev = self.pages[-1] if self.pages else None
        if prev and prev.get("fingerprint") and rec.get("fingerprint"):
            diff = sum(abs(a - b) for a, b in zip(prev["fingerprint"], rec["fingerprint"], strict=False)) / 64
            if diff < REFEED_DIFF:
                rec["flags"].append(f"identical-to-previous:{prev['seq']}")
        self.pages.append(rec)
        self.save()


def batch_state(reason: str, pages: int) -> str:
    """Only a scan that ended normally with pages is complete; a failed or empty one never is,
    so it cannot be built by mistake as if it were a finished batch."""
    if reason == "failed":
        return "failed"
    return "complete" if reason == "end" and pages > 0 else "stopped"


def dat31_warnings(settings: ScanSettings, profile_mode: str | None = None) -> list[str]:
    """DA/T 31-2017 checks at capture: resolution, colour, one format per batch."""
    out = []
    if settings.dpi < MIN_DPI:
        out.append(f"DA/T 31-2017 §9.4: {settings.dpi} dpi is below the minimum of {MIN_DPI} dpi")
    elif settings.dpi < OCR_DPI:
        out.append(f"DA/T 31-2017 §9.4: {settings.dpi} dpi; {OCR_DPI} dpi is recommended when OCR follows")
    if profile_mode == "color" and settings.mode != "color":
        out.append("DA/T 31-2017 §9.3: the profile asks for colour (seals, red headers must be colour)")
    return out


def run_scan(
    batch_dir: Path,
    settings: ScanSettings,
    *,
    resume: bool = False,
    on_page: Callable[[dict[str, Any]], None] | None = None,
    timeout: float = 60.0,
    max_pages: int | None = None,
    schedule: dict[int, dict[str, Any]] | None = None,
) -> ScanOutcome:
    """Scan until the feeder is empty (or a fault); every page kept whatever happens."""
    if resume:
        batch = BatchFolder.open(batch_dir)
        old = ScanSettings(**{**batch.data["settings"], "page_mm": tuple(batch.data["settings"]["page_mm"]) if batch.data["settings"].get("page_mm") else None, "extra": ()})
        if (old.dpi, old.mode) != (settings.dpi, settings.mode):
            raise BadArgsError(
                f"{batch_dir} was scanned at {old.dpi} dpi {old.mode}; DA/T 31 wants one format per batch",
                hint=f"resume with --dpi {old.dpi} --mode {old.mode}",
            )
        notes = batch.recover()
    else:
        batch = BatchFolder.create(batch_dir, settings)
        notes = []
    outcome = ScanOutcome(batch.path, warnings=notes + dat31_warnings(settings))
    batch.data["warnings"] = sorted(set(batch.data.get("warnings", []) + dat31_warnings(settings)))
    batch.data["state"] = "scanning"
    session = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "first_seq": batch.next_seq()}
    batch.data["sessions"].append(session)
    batch.save()
    worker = ScanWorker(settings, batch.path, batch.next_seq(), max_pages=max_pages, schedule=schedule, timeout=timeout)
    failed = True  # until the message loop ends normally: an exception leaves the batch "failed"
    try:
        for msg in worker.messages():
            kind = msg[0]
            if kind == "opened":
                batch.data["device"] = msg[1]
                batch.data["applied"] = msg[2]
                batch.save()
            elif kind == "page":
                batch.add(msg[1])
                outcome.added.append(batch.pages[-1])
                if on_page:
                    on_page(batch.pages[-1])
            elif kind == "end":
                outcome.reason = "end"
            elif kind == "fault":
                status = msg[1]
                if status == "NO_DOCS" and (outcome.added or batch.pages):
                    outcome.reason = "end"  # the feeder ran empty: the normal end of a batch
                else:
                    outcome.reason = f"fault:{status}"
                    outcome.message = FAULTS.get(status, msg[2])
            elif kind == "notfound":
                raise DeviceNotFoundError(msg[1], hint=("scanners found: " + ", ".join(msg[2])) if msg[2] else "connect the scanner and check `dossier scanners`")
            elif kind == "refused":
                raise BadArgsError(msg[1], hint=msg[2])
            elif kind == "error":
                raise DeviceError(f"scanner error: {msg[1]}", hint=f"pages so far are kept; continue with: dossier scan --resume {batch.path}")
        failed = False
    except KeyboardInterrupt:
        failed = False
        outcome.reason = "interrupted"
        outcome.message = "stopped by the operator"
    finally:
        worker.stop()
        adopted = batch.adopt_unlisted()  # pages on disk whose report had not arrived yet
        outcome.warnings += adopted
        session["ended"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        if failed:
            outcome.reason = "failed"
        session["reason"] = outcome.reason
        session["pages"] = len(outcome.added)
        batch.data["state"] = batch_state(outcome.reason, len(batch.pages))
        batch.save()
    return outcome


@dataclass
class BatchPlan:
    """What a build takes from a batch: every captured page is in ``pages`` or in ``set_aside``."""

    pages: list[dict[str, Any]]  # dossier pages in binding order: seq, file, sha256 …
    documents: list[dict[str, Any]] | None  # [{row, pages: [index into pages]}] from separators
    set_aside: list[dict[str, Any]]  # [{seq, file, reason}]: never silently dropped
    separator_cases: list[str]  # case numbers the separator sheets carry
    state: str


def _aside(page: Any, reason: str) -> dict[str, Any]:
    return {"seq": page.seq, "file": page.file, "reason": reason}


def plan_build(folder: Path) -> BatchPlan:
    """Account for every captured page before a build, whatever batch.json's split says.

    A page file in ``pages/`` that batch.json does not list stops the build (a crashed session:
    ``--resume`` adopts it); a page named by no document is set aside with its reason; a split
    naming pages the batch lacks, or one page twice, is an error; zero pages to build is an error.
    """
    folder = Path(folder)
    manifest, _ = read_batch_manifest(folder)
    where = str(folder / "batch.json")
    listed = {p.file for p in manifest.pages}
    on_disk = sorted(f"pages/{f.name}" for f in (folder / "pages").glob("*") if f.is_file() and not f.name.startswith("."))
    unlisted = [f for f in on_disk if f not in listed]
    if unlisted:
        raise InputFileError(
            f"{folder}: {len(unlisted)} captured page file(s) are not in batch.json: {', '.join(unlisted[:5])}" + (" …" if len(unlisted) > 5 else ""),
            hint=f"a scan was cut short: run  dossier scan --resume {folder}  to adopt them, then build",
        )
    by_seq = {p.seq: p for p in manifest.pages}
    claimed: dict[int, int] = {}
    docs = manifest.documents or []
    for n, d in enumerate(docs, start=1):
        for s in d.pages:
            page = by_seq.get(s)
            if page is None:
                raise InputFileError(f"{where}: documents #{n} (row {d.row}) names page {s}, which the batch does not have", hint="restore batch.json, or run dossier scan --resume to classify the batch again")
            if s in claimed:
                raise InputFileError(f"{where}: page {s} is in documents #{claimed[s] + 1} and #{n}", hint="each page belongs to one document: restore batch.json")
            if page.role != "page":
                raise InputFileError(f"{where}: documents #{n} (row {d.row}) names page {s}, a {page.role} sheet", hint="restore batch.json")
            claimed[s] = n - 1
    separators = [p.seq for p in manifest.pages if p.role == "separator"]
    pages: list[dict[str, Any]] = []
    set_aside: list[dict[str, Any]] = []
    for p in sorted(manifest.pages, key=lambda p: (p.order or p.seq, p.seq)):
        if p.role == "separator":
            set_aside.append(_aside(p, f"separator sheet (row {p.separator_row})" if p.separator_row else "separator sheet"))
        elif p.role == "blank":
            set_aside.append(_aside(p, "blank back of a duplex sheet"))
        elif p.role == "aside":
            set_aside.append(_aside(p, "set aside by the clerk"))
        elif docs and p.seq not in claimed:
            before = not separators or p.seq < min(separators)
            set_aside.append(_aside(p, "scanned before the first separator sheet: belongs to no catalogue row" if before else "follows no separator sheet in batch.json's documents"))
        else:
            pages.append(p.model_dump(mode="json"))
    if not pages:
        what = f"all {len(manifest.pages)} captured pages are set aside" if manifest.pages else "it holds no pages"
        raise InputFileError(
            f"{folder}: nothing to build — {what} (batch state: {manifest.state})",
            hint=f"scan the documents into it: dossier scan --resume {folder}",
        )
    index = {p["seq"]: i for i, p in enumerate(pages)}
    documents = [{"row": d.row, "pages": [index[s] for s in d.pages]} for d in docs] or None
    cases = sorted({p.separator_case for p in manifest.pages if p.role == "separator" and p.separator_case})
    return BatchPlan(pages, documents, set_aside, cases, manifest.state)
