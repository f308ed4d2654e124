"""A batch scan session: pages into a batch folder, crash-safe, resumable, nothing lost.

The worker (devices.scanner) writes and fsyncs each raw page before it reports it; this side
records it in ``batch.json`` (rewritten atomically after every page) with its SHA-256, device,
settings, dpi and time. A killed session leaves at most a page file the manifest does not list
yet: ``--resume`` adopts such files (hash recomputed), drops half-written ``.part`` files, and
continues numbering after the last page, so each page is in the batch exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
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
from dossier_station.devices.scanner import FAULTS, ScanSettings, ScanWorker

FORMAT = "dossier-batch/1"
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


def _atomic_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class BatchFolder:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.manifest_path = self.path / "batch.json"
        self.data: dict[str, Any] = {}

    @classmethod
    def create(cls, path: Path, settings: ScanSettings) -> BatchFolder:
        b = cls(path)
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
        b = cls(path)
        try:
            b.data = json.loads(b.manifest_path.read_text("utf-8"))
        except FileNotFoundError:
            raise InputFileError(f"{path}: no batch.json — not a batch folder", hint="start a batch with: dossier scan --batch DIR") from None
        if b.data.get("format") != FORMAT:
            raise InputFileError(f"{b.manifest_path}: unknown format {b.data.get('format')!r}")
        return b

    def save(self) -> None:
        _atomic_json(self.manifest_path, self.data)

    @property
    def pages(self) -> list[dict[str, Any]]:
        return self.data["pages"]

    def next_seq(self) -> int:
        return max((p["seq"] for p in self.pages), default=0) + 1

    def recover(self) -> list[str]:
        """After a crash: verify listed pages, adopt fsynced but unlisted ones, drop partial writes."""
        for p in self.pages:
            f = self.path / p["file"]
            if not f.exists() or hashlib.sha256(f.read_bytes()).hexdigest() != p["sha256"]:
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
                    "seq": int(f.stem), "file": rel, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
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
    except KeyboardInterrupt:
        outcome.reason = "interrupted"
        outcome.message = "stopped by the operator"
    finally:
        worker.stop()
        adopted = batch.adopt_unlisted()  # pages on disk whose report had not arrived yet
        outcome.warnings += adopted
        session["ended"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        session["reason"] = outcome.reason
        session["pages"] = len(outcome.added)
        batch.data["state"] = "complete" if outcome.reason == "end" else "stopped"
        batch.save()
    return outcome
