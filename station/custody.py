"""Custody at the station: the hooks the build calls, anchors, and access events.

Three small entry points for the pipeline, each one call, so the pipeline stays about building:

- :func:`custody_manifest` — while the page work folder still exists, record one ``processed``
  event per page (raw hash → processed image hash, parameters) and return the volume's custody
  manifest as a PDF/A-3 associated file, embedded before any signature so a seal covers it;
- :func:`after_build` — once the volumes are journaled: anchor the chain head at the TSA (a
  dossier milestone) and copy the outputs to the mirrors. Neither an unreachable TSA nor an
  offline mirror fails a finished build: the anchor is taken later (the station's timer, the
  next build, ``dossier custody anchor``), the copy is queued and retried.

And :class:`AnchorTimer`, which a long-running station process (watch daemon, web UI) starts so
the head is anchored at least every ``[custody] anchor_hours`` (default daily).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dossier_station.core.custody import (
    ANCHORED,
    CAPTURED,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    PROCESSED,
    VERIFIED,
    VIEWED,
    CustodySettings,
    canonical_kind,
)
from dossier_station.core.errors import DossierError
from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Anchor, Journal, set_station_identity
from dossier_station.core.model import Attachment
from dossier_station.core.profile import Profile

log = logging.getLogger("dossier.custody")
PAGE_PARAMS = ("rotation_deg", "deskew_deg", "deskew_applied", "crop_px", "engine", "image_encoding", "blank", "dpi", "colour")


def settings_for(profile: Profile | None) -> CustodySettings:
    """The custody settings of ``profile``; a profile given explicitly also names who records."""
    settings = CustodySettings.from_profile(profile)
    if profile is not None and profile.path is not None:
        set_station_identity(settings.identity)
    return settings


def exported_event(ev: dict[str, Any]) -> dict[str, Any]:
    """An event as it travels in manifests and packages (everything needed to recompute its hash)."""
    keys = ("id", "time", "kind", "subject", "sha256", "detail_text", "prev_hash", "hash", "station", "operator", "v")
    return {k: ev.get(k) for k in keys}


# ---- the custody manifest (embedded in each volume) -------------------------------------------

def _page_record(outcome: Any) -> tuple[dict[str, Any], tuple[str, str, str | None, dict[str, Any]]]:
    spec = getattr(outcome, "spec", None)
    processed = None
    text_sha = None
    if spec is not None and Path(spec.image.data_path).is_file():
        processed = sha256_file(spec.image.data_path)
    if spec is not None:
        lines = [[ln.text, round(ln.x0, 2), round(ln.y0, 2), round(ln.x1, 2), round(ln.y1, 2)] for ln in spec.lines]
        text_sha = hashlib.sha256(json.dumps(lines, ensure_ascii=False).encode()).hexdigest()
    params = {k: getattr(outcome, k, None) for k in PAGE_PARAMS}
    page = {"key": outcome.key, "source": str(Path(outcome.source).resolve()), "raw_sha256": outcome.sha256,
            "processed_sha256": processed, "text_sha256": text_sha, "params": params}
    event = (PROCESSED, outcome.key, processed, {"input_sha256": outcome.sha256, "source": str(Path(outcome.source).resolve()), "text_sha256": text_sha, **params})
    return page, event


def custody_manifest(outcomes: Sequence[Any], volumes: Sequence[Any], report: dict[str, Any], profile: Profile | None = None) -> Attachment:
    """Record the page stage's results and describe the build for the volumes' attachments.

    Called inside the build's work folder (the processed images exist). The manifest lists, per
    page, its raw hash and the capture event that wrote it, its processed hash and the
    parameters, which pages each volume holds, the build options, and the journal events
    themselves (each verifiable on its own: its hash is recomputed from its content).
    """
    settings_for(profile)  # the profile's [station] identity for every event of this build
    pages, events = [], []
    for o in outcomes:
        page, event = _page_record(o)
        pages.append(page)
        events.append(event)
    with Journal() as journal:
        ids = journal.record_many(events)
        captured: dict[str, dict[str, Any]] = {}
        for page in pages:
            for ev in journal.find(page["raw_sha256"]):
                if canonical_kind(ev["kind"]) == CAPTURED:
                    captured[page["raw_sha256"]] = ev
        processed = {e["id"]: e for e in journal.events(min(ids) - 1, until_id=max(ids))} if ids else {}
        identity = journal.identity
    for page, eid in zip(pages, ids, strict=True):
        cap = captured.get(page["raw_sha256"])
        page["captured_event"] = cap["id"] if cap else None
        page["processed_event"] = eid
    vols = [{"volume": n, "pages": [s.key for part in vol for s in part.pages]} for n, vol in enumerate(volumes, start=1)]
    used = sorted({*(c["id"] for c in captured.values()), *processed})
    chosen = {**{c["id"]: c for c in captured.values()}, **processed}
    manifest = {
        "format": MANIFEST_FORMAT,
        "created": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "station": identity,
        "build": {"generator": report.get("generator"), "options": report.get("options"), "case_file": report.get("case_file"),
                  "case": report.get("case")},
        "volumes": vols,
        "pages": pages,
        "events": [exported_event(chosen[i]) for i in used],
    }
    data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
    return Attachment(MANIFEST_NAME, data, "application/json", "保管链清单 custody manifest", "/Data")


def volume_attachments(attachments: Sequence[Attachment], volume_no: int) -> list[Attachment]:
    """The build's attachments for one volume: its custody manifest narrowed to that volume's
    pages and their events, so each volume carries the events that concern it."""
    out = []
    for att in attachments:
        if att.name != MANIFEST_NAME:
            out.append(att)
            continue
        m = json.loads(att.data)
        vol = next((v for v in m["volumes"] if v["volume"] == volume_no), None)
        if vol is None or len(m["volumes"]) == 1:
            out.append(att)
            continue
        keys = set(vol["pages"])
        pages = [p for p in m["pages"] if p["key"] in keys]
        ids = {p.get("captured_event") for p in pages} | {p.get("processed_event") for p in pages}
        narrowed = {**m, "volumes": [vol], "pages": pages, "events": [e for e in m["events"] if e["id"] in ids]}
        out.append(replace(att, data=json.dumps(narrowed, ensure_ascii=False, indent=1).encode("utf-8")))
    return out


def read_manifest(pdf_path: Path) -> dict[str, Any] | None:
    """The custody manifest embedded in a dossier, parsed and checked (None when it has none)."""
    import pikepdf

    from dossier_station.core.custody import parse_manifest

    try:
        with pikepdf.open(pdf_path) as pdf:
            if MANIFEST_NAME not in pdf.attachments:
                return None
            data = pdf.attachments[MANIFEST_NAME].get_file().read_bytes()
    except pikepdf.PdfError:
        return None
    return parse_manifest(data, f"{pdf_path} → {MANIFEST_NAME}")


# ---- anchors -----------------------------------------------------------------------------------

def anchor_now(journal: Journal, settings: CustodySettings, reason: str) -> Anchor | None:
    """Timestamp the chain head at the TSA and keep the token; None when there is nothing new.

    The token's imprint is the head hash itself, so it proves that exactly this history (every
    entry up to the head) existed at the TSA's time. An ``anchored`` event then records the
    token's hash in the chain, so a deleted anchor shows as a gap.
    """
    from dossier_station.signing.rfc3161 import request_token

    if not settings.tsa_url:
        return None
    head = journal.head()
    if head is None:
        return None
    event_id, head_hash = head
    anchors = journal.anchors()
    if anchors and anchors[-1].event_id >= event_id:
        return None
    if anchors:  # the newest event may be the previous anchor's own record: nothing new then
        last = journal.events(anchors[-1].event_id)
        if all(canonical_kind(e["kind"]) == ANCHORED for e in last):
            return None
    token, gen_time = request_token(settings.tsa_url, bytes.fromhex(head_hash))
    anchor_id = journal.add_anchor(event_id, head_hash, settings.tsa_url, gen_time.isoformat(), token, reason)
    journal.record(ANCHORED, f"journal#{event_id}", None, anchor=anchor_id, head_hash=head_hash, event_id=event_id,
                   token_sha256=hashlib.sha256(token).hexdigest(), gen_time=gen_time.isoformat(), tsa=settings.tsa_url, reason=reason)
    return next(a for a in journal.anchors() if a.id == anchor_id)


def anchor_due(journal: Journal, settings: CustodySettings, now: datetime | None = None) -> bool:
    anchors = journal.anchors()
    if not anchors:
        return journal.head() is not None
    last = datetime.fromisoformat(anchors[-1].gen_time)
    return (now or datetime.now(UTC)) - last >= timedelta(hours=settings.anchor_hours)


def anchor_json(a: Anchor) -> dict[str, Any]:
    return {"id": a.id, "event_id": a.event_id, "head_hash": a.head_hash, "tsa_url": a.tsa_url, "gen_time": a.gen_time,
            "reason": a.reason, "token": base64.b64encode(a.token).decode()}


class AnchorTimer:
    """A daemon thread that anchors the journal whenever ``anchor_hours`` have passed, and
    retries mirror copies that were queued while a mirror was offline.

    Started by long-running station processes (``dossier watch``, ``dossier ui``) as a context
    manager. A failed attempt (TSA down) is logged and retried at the next tick; it never stops
    the station.
    """

    def __init__(self, profile: Profile | None = None, *, settings: CustodySettings | None = None, tick: float | None = None) -> None:
        self.settings = settings or settings_for(profile)
        self.tick = tick if tick is not None else min(self.settings.anchor_hours * 3600 / 4, 300.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="custody-anchor", daemon=True)
        self.anchors_taken = 0
        self.copies_retried = 0
        self.last_error: str | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with Journal() as journal:
                    if self.settings.mirrors and journal.pending_copies():
                        from dossier_station.station.mirror import retry_pending

                        self.copies_retried += len(retry_pending(journal, self.settings))
                    if anchor_due(journal, self.settings) and anchor_now(journal, self.settings, "daily") is not None:
                        self.anchors_taken += 1
                self.last_error = None
            except DossierError as exc:
                self.last_error = str(exc)
                log.warning("custody anchor failed: %s", exc)
            self._stop.wait(self.tick)

    def start(self) -> AnchorTimer:
        if self.settings.tsa_url or self.settings.mirrors:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def __enter__(self) -> AnchorTimer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- after a build -----------------------------------------------------------------------------

def after_build(outputs: Sequence[Path], out_dir: Path, profile: Profile | None = None) -> dict[str, Any]:
    """The build's custody milestone: anchor the head, mirror the outputs (never fails the build
    for an unreachable TSA or an offline mirror; both are retried later and said in the result)."""
    from dossier_station.station.mirror import mirror_outputs, retry_pending

    settings = settings_for(profile)
    result: dict[str, Any] = {"anchor": None, "anchor_error": None, "mirrored": [], "queued": [], "error": None}
    try:
        with Journal() as journal:
            if settings.mirrors:
                retry_pending(journal, settings)
                copies = mirror_outputs([Path(p) for p in outputs], Path(out_dir), settings, journal)
                result["mirrored"] = [c for c in copies if c["state"] == "copied"]
                result["queued"] = [c for c in copies if c["state"] != "copied"]
            try:
                anchor = anchor_now(journal, settings, "build")
                result["anchor"] = anchor.id if anchor else None
            except DossierError as exc:
                result["anchor_error"] = str(exc)
                log.warning("custody anchor after the build failed (retried later): %s", exc)
    except DossierError as exc:  # the dossier is placed and journaled; custody extras are retried later
        result["error"] = str(exc)
        log.warning("custody after the build: %s", exc)
    return result


def record_access(path: Path, kind: str = VIEWED, *, journal: Journal | None = None, **detail: Any) -> int:
    """Record that a dossier was opened (``viewed``) or checked (``verified``) — 全程留痕.

    For every command that opens a dossier: custody show/verify, export, and the signing area's
    verify and extract (they call this with their own detail).
    """
    if kind not in (VIEWED, VERIFIED):
        raise ValueError(kind)
    digest = sha256_file(path) if Path(path).is_file() else None
    if journal is not None:
        return journal.record(kind, str(Path(path).resolve()), digest, **detail)
    with Journal() as j:
        return j.record(kind, str(Path(path).resolve()), digest, **detail)
