"""``dossier custody show FILE``: one dossier's history, from its raw pages to its signatures.

The journal does not store "which events belong to which dossier"; it stores hashes. A history
is found by following them: start from the file's hash (and the hashes in its embedded custody
manifest), take every event that names one of the hashes — as its file or anywhere in its
detail (a seal names the hash it sealed, a build the hashes of its pages) — add the hashes that
event names, and repeat until nothing new is found. So a signature recorded by the signing
area links in without custody knowing its detail's field names.

An imported dossier also carries the sending station's history (``<name>.custody.json``, written
by ``dossier import``): it is shown first, marked with that station's name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from dossier_station.core.custody import ANCHORED, canonical_kind
from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Journal

HEX = re.compile(r"\b[0-9a-f]{64}\b")
NOT_FILE_HASHES = {"head_hash", "prev_hash", "hash", "token_sha256"}


def _detail_hashes(detail: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(detail, dict):
        for k, v in detail.items():
            if k not in NOT_FILE_HASHES:
                found |= _detail_hashes(v)
    elif isinstance(detail, list):
        for v in detail:
            found |= _detail_hashes(v)
    elif isinstance(detail, str):
        found |= set(HEX.findall(detail))
    return found


def related_events(events: list[dict[str, Any]], seeds: set[str]) -> list[dict[str, Any]]:
    """Every event linked to ``seeds`` by hashes, to a fixed point (see the module's docstring)."""
    hashes = set(seeds)
    chosen: dict[int, dict[str, Any]] = {}
    candidates = [(e, ({e["sha256"]} if e["sha256"] else set()) | _detail_hashes(e["detail"])) for e in events
                  if canonical_kind(e["kind"]) != ANCHORED]
    changed = True
    while changed:
        changed = False
        for e, names in candidates:
            if e["id"] in chosen or not names & hashes:
                continue
            chosen[e["id"]] = e
            if not names <= hashes:
                hashes |= names
                changed = True
    return [chosen[i] for i in sorted(chosen)]


def _describe(e: dict[str, Any]) -> str:
    d = e["detail"] if isinstance(e["detail"], dict) else {}
    kind = canonical_kind(e["kind"])
    name = Path(e["subject"]).name if "/" in e["subject"] else e["subject"]
    if kind == "captured":
        return f"{name}  ({d.get('device') or 'device ?'}, {d.get('dpi') or '?'} dpi)"
    if kind == "processed":
        return f"{name}  raw {str(d.get('input_sha256'))[:12]}… → {str(e['sha256'])[:12]}…  ({d.get('engine')}, turned {d.get('rotation_deg')}°, deskew {d.get('deskew_deg')}°)"
    if kind == "assembled":
        return f"{name}  volume {d.get('volume')}, {len(d.get('pages') or [])} pages"
    if kind == "mirrored":
        return f"{e['subject']}  ({d.get('action', 'copy')})"
    if kind in ("exported", "imported"):
        return f"{name}  request {d.get('request')} ({d.get('requester')} / approved by {d.get('approver')})"
    if kind in ("signed", "sealed"):
        who = d.get("signer") or d.get("certificate") or ""
        level = d.get("level") or ""
        source = f"of {str(d.get('source_sha256'))[:12]}…" if d.get("source_sha256") else ""
        return " ".join(x for x in (name, " ", str(who), str(level), source) if x).replace("   ", "  ")
    return name


def history(journal: Journal, path: Path) -> dict[str, Any]:
    """The dossier's history as data: its hash, the sending station's events, ours, the anchors."""
    from dossier_station.station.custody import read_manifest

    sha = sha256_file(path)
    seeds = {sha}
    manifest = read_manifest(path)
    if manifest:
        for p in manifest["pages"]:
            seeds |= {h for h in (p.get("raw_sha256"), p.get("processed_sha256")) if h}
    events = journal.events()
    ours = related_events(events, seeds)
    anchors = journal.anchors()
    for e in ours:
        cover = next((a for a in anchors if a.event_id >= e["id"]), None)
        e["anchored"] = cover.gen_time if cover else None
    sidecar = path.with_name(path.name.removesuffix(".pdf") + ".custody.json")
    theirs: list[dict[str, Any]] = []
    if sidecar.is_file():
        doc = json.loads(sidecar.read_text("utf-8"))
        theirs = [dict(e, detail=json.loads(e["detail_text"])) for e in doc.get("events", []) if not e.get("redacted")]
        for e in theirs:
            e["foreign"] = True
    return {"file": str(path), "sha256": sha, "sending_station": theirs, "events": ours, "anchors": len(anchors)}


def format_history(h: dict[str, Any]) -> list[str]:
    lines = [f"{h['file']}", f"  SHA-256 {h['sha256']}"]
    if h["sending_station"]:
        first = h["sending_station"][0]
        lines.append(f"  history from the sending station {first.get('station')} (verified on import):")
        lines += [_line(e) for e in h["sending_station"]]
        lines.append("  on this station:")
    if not h["events"]:
        lines.append("  (no journal entry on this station names this file or its pages)")
    lines += [_line(e) for e in h["events"]]
    return lines


def _line(e: dict[str, Any]) -> str:
    who = f"{e.get('station') or '?'}/{e.get('operator') or '?'}"
    mark = "" if e.get("foreign") else ("  ⚓" if e.get("anchored") else "  (not yet anchored)")
    return f"  {e['id']:6d}  {e['time'][:19]}  {canonical_kind(e['kind']):12} {who:24} {_describe(e)}{mark}"
