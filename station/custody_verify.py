"""``dossier custody verify``: recompute the chain, check every anchor, and check a dossier.

What it catches, and how:
- an edited, deleted or reordered entry — the chain arithmetic (``core.custody_chain``);
- a history rewritten consistently (every hash recomputed) — an anchor's token names the head
  the TSA saw, and the recomputed chain no longer reaches it; an anchor deleted to hide that —
  the ``anchored`` entry that recorded its token is left without its token; all of them deleted —
  entries older than twice the anchor interval that no anchor covers (with a TSA configured);
- a dossier changed or unknown — its bytes match no journal entry (and, when the journal names
  this path, the report says what it was); its pages — the embedded custody manifest's events
  must be the journal's own, and a raw page still on disk must still have its captured hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dossier_station.core.custody import (
    ANCHORED,
    CAPTURED,
    DOSSIER_FILE_KINDS,
    IMPORTED,
    CustodyError,
    CustodySettings,
    canonical_kind,
)
from dossier_station.core.custody_chain import ChainProblem, event_hash
from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Journal


@dataclass
class CustodyReport:
    """What ``custody verify`` found; ``ok`` only when nothing is wrong. ``summary()`` is for the
    clerk, ``to_json()`` for machines and for transfer packages."""

    journal: str
    entries: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    anchors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dossier: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "journal": self.journal, "entries": self.entries, "problems": [p.to_json() for p in self.problems],
                "anchors": self.anchors, "notes": self.notes, "dossier": self.dossier}

    def summary(self) -> str:
        good = sum(1 for a in self.anchors if a["status"] == "ok")
        head = f"custody {'INTACT' if self.ok else 'BROKEN'}: {self.entries} journal entries, {good}/{len(self.anchors)} anchors hold"
        lines = [head]
        if self.dossier:
            d = self.dossier
            match = ", ".join(f"{m['kind']} #{m['id']} {m['time']}" for m in d.get("matches", [])) or "no journal entry"
            lines.append(f"dossier {d['file']}: SHA-256 {str(d.get('sha256'))[:16]}… — {match}")
        lines += [f"  ✗ {p.message}" for p in self.problems]
        lines += [f"  · {n}" for n in self.notes]
        return "\n".join(lines)


def check_anchors(journal: Journal, recomputed: dict[int, str], events: list[dict[str, Any]], settings: CustodySettings,
                  trust: Path | None, report: CustodyReport) -> None:
    from dossier_station.signing.rfc3161 import verify_token

    roots = [trust] if trust else ([settings.tsa_trust] if settings.tsa_trust else None)
    token_hashes = set()
    for a in journal.anchors():
        token_hashes.add(hashlib.sha256(a.token).hexdigest())
        entry = {"id": a.id, "event_id": a.event_id, "gen_time": a.gen_time, "tsa": a.tsa_url, "status": "ok", "reason": ""}
        report.anchors.append(entry)
        now = recomputed.get(a.event_id)
        if now is None:
            entry.update(status="broken", reason=f"the anchored entry {a.event_id} is gone")
            report.problems.append(ChainProblem("anchor", a.event_id, f"entry {a.event_id}, anchored at {a.gen_time}, was deleted"))
            continue
        check = verify_token(a.token, bytes.fromhex(now), trust_roots=roots)
        if not check.intact:
            then = verify_token(a.token, bytes.fromhex(a.head_hash), trust_roots=roots) if a.head_hash != now else check
            if then.intact:
                msg = (f"the history up to entry {a.event_id} was rewritten after the TSA timestamped it at {a.gen_time}: "
                       f"the TSA saw head {a.head_hash[:16]}…, the journal now computes {now[:16]}…")
            else:
                msg = f"anchor {a.id} (entry {a.event_id}): {check.reason}"
            entry.update(status="broken", reason=msg)
            report.problems.append(ChainProblem("anchor", a.event_id, msg))
        elif check.trusted is False:
            entry.update(status="untrusted", reason=check.reason)
            report.problems.append(ChainProblem("anchor", a.event_id, f"anchor {a.id}: {check.reason}"))
    if roots is None and report.anchors:
        report.notes.append("anchor tokens are intact, but no trust root was given (--trust or [custody] tsa_trust): the TSA itself was not checked")
    for ev in events:
        detail = ev["detail"] if isinstance(ev["detail"], dict) else {}
        if canonical_kind(ev["kind"]) == ANCHORED and detail.get("token_sha256") not in token_hashes:
            report.problems.append(ChainProblem("anchor", ev["id"], f"entry {ev['id']} records an anchor whose token is missing from the journal (deleted)"))
    _check_coverage(journal, events, settings, report)


def _check_coverage(journal: Journal, events: list[dict[str, Any]], settings: CustodySettings, report: CustodyReport) -> None:
    anchors = journal.anchors()
    covered = max((a.event_id for a in anchors), default=0)
    loose = [e for e in events if e["id"] > covered and canonical_kind(e["kind"]) != ANCHORED]
    if not settings.tsa_url:
        if not anchors:
            report.notes.append("no anchors: no TSA is configured ([custody] tsa), so the history is not anchored in time")
        return
    if not loose:
        return
    report.notes.append(f"{len(loose)} entries after the last anchor are not anchored yet (next anchor: after a build, or `dossier custody anchor`)")
    limit = datetime.now(UTC) - timedelta(hours=2 * settings.anchor_hours)
    stale = [e for e in loose if _parse_time(e["time"]) < limit]
    if stale:
        report.problems.append(ChainProblem("anchor", stale[0]["id"], (
            f"{len(stale)} entries from {stale[0]['time']} on are older than twice the anchor interval but no anchor covers them: "
            "anchors were deleted, or the TSA has been unreachable — run `dossier custody anchor` and investigate")))


def _parse_time(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return datetime.now(UTC)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def check_dossier(journal: Journal, path: Path, events: list[dict[str, Any]], report: CustodyReport) -> None:
    """The dossier's bytes against the journal, and its embedded custody manifest against both."""
    from dossier_station.station.custody import read_manifest

    d: dict[str, Any] = {"file": str(path), "sha256": None, "matches": [], "pages": []}
    report.dossier = d
    if not path.is_file():
        what = "is a folder, not a dossier file" if path.is_dir() else "the dossier file is missing"
        report.problems.append(ChainProblem("missing", None, f"{path}: {what}"))
        return
    sha = d["sha256"] = sha256_file(path)
    matches = [e for e in journal.find(sha) if canonical_kind(e["kind"]) in DOSSIER_FILE_KINDS]
    d["matches"] = [{"id": e["id"], "kind": canonical_kind(e["kind"]), "time": e["time"], "subject": e["subject"]} for e in matches]
    if not matches:
        named = [e for e in journal.events_about(str(path.resolve())) if e["sha256"] and canonical_kind(e["kind"]) in DOSSIER_FILE_KINDS]
        if named:
            last = named[-1]
            report.problems.append(ChainProblem("changed", last["id"], (
                f"{path}: changed — the journal recorded this file as {canonical_kind(last['kind'])} at {last['time']} "
                f"with SHA-256 {last['sha256'][:16]}…, it now has {sha[:16]}…")))
        else:
            report.problems.append(ChainProblem("changed", None, f"{path}: no journal entry has this file's SHA-256 ({sha[:16]}…): it was changed, or not made on this station"))
    try:
        manifest = read_manifest(path)
    except CustodyError as exc:
        report.problems.append(ChainProblem("manifest", None, str(exc).splitlines()[0]))
        return
    if manifest is None:
        report.notes.append(f"{path.name} carries no custody manifest (built without attachments, or before custody manifests)")
        return
    local = [m for m in d["matches"] if m["kind"] != IMPORTED]
    if d["matches"] and not local:  # made on another station: its manifest is checked against that station's history
        _check_foreign_manifest(path, manifest, d, report)
        return
    _check_manifest(manifest, {e["id"]: e for e in events}, d, report)


def _check_foreign_manifest(path: Path, manifest: dict[str, Any], d: dict[str, Any], report: CustodyReport) -> None:
    """An imported dossier: the sending station's history kept beside it must still hold, and
    hold the manifest's events (it was fully checked, anchors included, when it was imported)."""
    from dossier_station.core.custody import parse_history
    from dossier_station.core.custody_chain import check_chain

    sidecar = path.with_name(path.name.removesuffix(".pdf") + ".custody.json")
    if not sidecar.is_file():
        report.notes.append(f"{path.name} was imported; the sending station's history ({sidecar.name}) is not beside it, so its pages were checked only at import")
        return
    try:
        history = parse_history(sidecar.read_bytes(), str(sidecar))
    except CustodyError as exc:
        report.problems.append(ChainProblem("manifest", None, str(exc).splitlines()[0]))
        return
    chain = check_chain(history["events"], history["start_prev"])
    report.problems += [ChainProblem(p.kind, p.event_id, f"{sidecar.name}: {p.message}") for p in chain.problems]
    if history["dossier"]["sha256"] != d["sha256"]:
        report.problems.append(ChainProblem("manifest", None, f"{sidecar.name} is the history of another file"))
    _check_manifest(manifest, {e["id"]: e for e in history["events"] if not e.get("redacted")}, d, report,
                    where=f"the sending station's history ({history.get('station', {}).get('station')})")


def _check_manifest(manifest: dict[str, Any], by_id: dict[int, dict[str, Any]], d: dict[str, Any], report: CustodyReport,
                    where: str = "the journal") -> None:
    for ev in manifest["events"]:
        if event_hash(ev, ev["prev_hash"]) != ev["hash"]:
            report.problems.append(ChainProblem("manifest", ev["id"], f"custody manifest: event {ev['id']} was edited inside the dossier"))
        elif ev["id"] not in by_id or by_id[ev["id"]]["hash"] != ev["hash"]:
            report.problems.append(ChainProblem("manifest", ev["id"], f"custody manifest: event {ev['id']} is not entry {ev['id']} of {where} (changed or deleted there)"))
    captured = {e["sha256"] for e in by_id.values() if canonical_kind(e["kind"]) == CAPTURED}
    for page in manifest["pages"]:
        status = "captured" if page["raw_sha256"] in captured else "from file"
        src = Path(str(page.get("source", "")))
        if where == "the journal" and src.is_file() and page["raw_sha256"] and sha256_file(src) != page["raw_sha256"]:
            status = "raw changed"
            report.problems.append(ChainProblem("changed", page.get("captured_event"), f"page {page['key']}: the raw page {src} changed since it was built"))
        elif page.get("captured_event") and page["raw_sha256"] not in captured:
            status = "capture missing"
            report.problems.append(ChainProblem("manifest", page["captured_event"], f"page {page['key']}: its capture event {page['captured_event']} is no longer in {where}"))
        d["pages"].append({"key": page["key"], "raw_sha256": page["raw_sha256"], "status": status})
    if any(p["status"] == "from file" for p in d["pages"]):
        report.notes.append(f"pages marked 'from file' were not scanned: {where} has no capture event to match")


def verify_custody(journal: Journal, settings: CustodySettings, *, trust: Path | None = None, dossier: Path | None = None,
                   files: bool = False) -> CustodyReport:
    report = CustodyReport(str(journal.path))
    events = journal.events()
    from dossier_station.core.custody_chain import check_chain

    chain = check_chain(events)
    report.entries = chain.entries
    report.problems += chain.problems
    check_anchors(journal, chain.recomputed, events, settings, trust, report)
    if dossier is not None:
        check_dossier(journal, Path(dossier), events, report)
    if files:
        check_files(events, report)
    return report


def check_files(events: list[dict[str, Any]], report: CustodyReport) -> None:
    """Every dossier file the journal names at its latest state: still there, still the same."""
    latest: dict[str, dict[str, Any]] = {}
    for e in events:
        if canonical_kind(e["kind"]) in DOSSIER_FILE_KINDS and e["sha256"]:
            latest[e["subject"]] = e
    for subject, e in sorted(latest.items()):
        p = Path(subject)
        if not p.is_file():
            report.problems.append(ChainProblem("missing", e["id"], f"{subject}: missing ({canonical_kind(e['kind'])} at {e['time']})"))
        elif sha256_file(p) != e["sha256"]:
            report.problems.append(ChainProblem("changed", e["id"], f"{subject}: changed since {canonical_kind(e['kind'])} at {e['time']}"))
