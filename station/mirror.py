"""Mirrored storage (互为镜像): every output copied to each ``[custody] mirrors`` folder.

A copy is written atomically and checked by hash (``core.files.copy_atomic`` with the hash the
journal names) and recorded as a ``mirrored`` event, so the journal knows where every copy is
and what it must be. A mirror that is offline — its folder absent (an unmounted share) or a
write failing — does not stop the station: the copy is queued in the journal database and
retried after the next build, by ``dossier mirror check --repair`` or by the station's timer.

``check_mirrors`` compares every recorded copy with the journal: missing, diverging (a bit
flipped, a file replaced) or offline; with ``repair`` it restores a bad copy from any copy —
the original or another mirror — whose hash matches the journal, and records what it did.
A mirror root is never created here: creating it on an unmounted mount point would write the
copies onto the local disk and call them mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dossier_station.core.custody import MIRRORED, CustodySettings, canonical_kind
from dossier_station.core.errors import DossierError
from dossier_station.core.files import copy_atomic, sha256_file
from dossier_station.core.journal import Journal


def _target(mirror: Path, out_dir: Path, path: Path) -> Path:
    try:
        rel = path.resolve().relative_to(out_dir.resolve())
    except ValueError:
        rel = Path(path.name)
    return mirror / out_dir.resolve().name / rel


def _journal_hash(journal: Journal, path: Path) -> str | None:
    """The hash the journal last recorded for this file (None: the journal does not name it)."""
    subject = str(path.resolve())
    named = None
    for ev in journal.events_about(subject):
        if ev["sha256"]:
            named = ev["sha256"]
    return named


def _copy(journal: Journal, source: Path, target: Path, sha: str, mirror: Path, action: str) -> dict[str, Any]:
    if not mirror.is_dir():
        journal.queue_copy(str(source), str(target), sha, f"mirror {mirror} is offline (folder not found)")
        return {"source": str(source), "target": str(target), "state": "queued", "reason": f"mirror {mirror} is offline"}
    try:
        copy_atomic(source, target, expected_sha256=sha)
    except (DossierError, OSError) as exc:
        journal.queue_copy(str(source), str(target), sha, str(exc).splitlines()[0])
        return {"source": str(source), "target": str(target), "state": "queued", "reason": str(exc).splitlines()[0]}
    journal.record(MIRRORED, str(target), sha, source=str(source), mirror=str(mirror), action=action)
    return {"source": str(source), "target": str(target), "state": "copied", "action": action}


def mirror_outputs(paths: list[Path], out_dir: Path, settings: CustodySettings, journal: Journal) -> list[dict[str, Any]]:
    """Copy each output to every mirror (after a build). A file whose bytes differ from what the
    journal recorded is not mirrored: a copy must never spread a changed dossier."""
    results = []
    for path in paths:
        sha = sha256_file(path)
        named = _journal_hash(journal, path)
        if named and named != sha:
            results.append({"source": str(path), "target": None, "state": "refused",
                            "reason": f"{path} differs from the journal's record; not mirrored"})
            continue
        for mirror in settings.mirrors:
            results.append(_copy(journal, path, _target(mirror, out_dir, path), sha, mirror, "copy"))
    return results


def _good_copies(journal: Journal, sha: str, exclude: str) -> list[Path]:
    """Every file the journal names with this hash (the original, other mirrors) that still has it."""
    seen, found = set(), []
    for ev in journal.find(sha):
        candidates = [ev["subject"], ev["detail"].get("source")] if isinstance(ev["detail"], dict) else [ev["subject"]]
        for c in candidates:
            if not c or c == exclude or c in seen:
                continue
            seen.add(c)
            p = Path(c)
            if p.is_file() and sha256_file(p) == sha:
                found.append(p)
    return found


def retry_pending(journal: Journal, settings: CustodySettings | None = None) -> list[dict[str, Any]]:
    """Try every queued copy again, from its source or any good copy of the same hash."""
    done = []
    for item in journal.pending_copies():
        target = Path(item.target)
        sources = _good_copies(journal, item.sha256, exclude=item.target)
        if Path(item.source) not in sources and Path(item.source).is_file() and sha256_file(item.source) == item.sha256:
            sources.insert(0, Path(item.source))
        mirror = _mirror_root(target, settings)
        if not sources:
            journal.queue_copy(item.source, item.target, item.sha256, "no copy with the journal's hash is left to copy from")
            continue
        result = _copy(journal, sources[0], target, item.sha256, mirror, "retry")
        if result["state"] == "copied":
            journal.copy_done(item.id)
            done.append(result)
    return done


def _mirror_root(target: Path, settings: CustodySettings | None) -> Path:
    """The mirror folder a target lies in (a configured mirror, else ``<mirror>/<out dir>/<file>``)."""
    for m in settings.mirrors if settings else ():
        if target.is_relative_to(m):
            return m
    return target.parent.parent


@dataclass
class MirrorReport:
    checked: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        unrepaired = [p for p in self.problems if not p.get("repaired")]
        return not unrepaired and not self.pending

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "problems": self.problems, "repaired": self.repaired, "pending": self.pending}


def check_mirrors(journal: Journal, settings: CustodySettings, *, repair: bool = False) -> MirrorReport:
    """Every recorded mirror copy against the journal; with ``repair``, restore and re-queue."""
    report = MirrorReport()
    latest: dict[str, dict[str, Any]] = {}
    for ev in journal.events():
        if canonical_kind(ev["kind"]) == MIRRORED and ev["sha256"]:
            latest[ev["subject"]] = ev
    roots = [m.resolve() for m in settings.mirrors]
    if repair:
        report.repaired += retry_pending(journal, settings)
    for target_s, ev in sorted(latest.items()):
        target = Path(target_s)
        mirror = Path(ev["detail"].get("mirror") or target.parent.parent) if isinstance(ev["detail"], dict) else target.parent.parent
        if roots and not any(target.is_relative_to(r) for r in roots):
            continue
        report.checked += 1
        if not mirror.is_dir():
            report.problems.append({"target": target_s, "state": "offline", "message": f"mirror {mirror} is offline: {target.name} not checked"})
            continue
        if not target.is_file():
            state, message = "missing", f"{target}: the mirror copy is missing"
        else:
            actual = sha256_file(target)
            if actual == ev["sha256"]:
                continue
            state, message = "diverging", f"{target}: the mirror copy differs from the journal (SHA-256 {actual[:12]}…, journal {ev['sha256'][:12]}…)"
        problem = {"target": target_s, "state": state, "message": message, "repaired": False}
        report.problems.append(problem)
        if repair:
            sources = _good_copies(journal, ev["sha256"], exclude=target_s)
            if not sources:
                problem["message"] += "; no copy with the journal's hash is left to repair it from"
                continue
            result = _copy(journal, sources[0], target, ev["sha256"], mirror, f"repair ({state})")
            problem["repaired"] = result["state"] == "copied"
            problem["from"] = str(sources[0])
            report.repaired.append(result)
    report.pending = [{"source": p.source, "target": p.target, "attempts": p.attempts, "last_error": p.last_error, "since": p.time}
                      for p in journal.pending_copies()]
    return report
