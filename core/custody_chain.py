"""The hash chain of custody events, as pure functions over plain values.

Kept apart from the SQLite journal so the same arithmetic checks a chain read from the station's
database, a slice of it carried in a transfer package, or the events embedded in a dossier's
custody manifest — on a receiving station that has none of our database.

Two row formats exist. Version 1 (the first journal) hashed ``[prev, time, kind, subject,
sha256, detail]`` in one go. Version 2 hashes the event's content first and then links that
content hash to the previous event's hash::

    content_hash = SHA-256(JSON [time, kind, subject, sha256, detail, station, operator])
    hash         = SHA-256(prev_hash + content_hash)

Why the two steps: a transfer package can then show an unrelated event (another case's page)
as only its content hash — the chain still verifies end to end, and the receiving agency learns
nothing about other cases.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def digest_v1(prev: str, time: str, kind: str, subject: str, sha256: str | None, detail: str) -> str:
    """The first journal's row hash (kept so journals written before version 2 still verify)."""
    return _sha(_json([prev, time, kind, subject, sha256, detail]))


def content_hash(time: str, kind: str, subject: str, sha256: str | None, detail: str, station: str | None, operator: str | None) -> str:
    return _sha(_json([time, kind, subject, sha256, detail, station, operator]))


def link_hash(prev: str, content: str) -> str:
    return _sha(prev + content)


def event_content_hash(ev: Mapping[str, Any]) -> str | None:
    """Content hash of a v2 event given as a mapping (``detail_text`` is the stored JSON text)."""
    if ev.get("v", 1) < 2:
        return None
    if ev.get("redacted"):
        return str(ev["content_hash"])
    return content_hash(ev["time"], ev["kind"], ev["subject"], ev.get("sha256"), ev["detail_text"], ev.get("station"), ev.get("operator"))


def event_hash(ev: Mapping[str, Any], prev: str) -> str:
    """The hash this event must carry when it follows ``prev`` (any version, redacted or not)."""
    if ev.get("v", 1) < 2:
        return digest_v1(prev, ev["time"], ev["kind"], ev["subject"], ev.get("sha256"), ev["detail_text"])
    return link_hash(prev, event_content_hash(ev) or "")


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with a chain: what (``edited`` …), at which entry, in words for a clerk."""

    kind: str  # edited | deleted | reordered | unlinked | anchor | missing | changed | manifest
    event_id: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "event_id": self.event_id, "message": self.message}


@dataclass
class ChainCheck:
    """Result of walking a chain: its problems and, per entry id, the hash recomputed from the
    first entry's predecessor. Anchors are compared with ``recomputed`` (not with the stored
    hashes), so a history rewritten consistently — every stored hash recomputed to match — still
    disagrees with a timestamp taken before the rewrite."""

    entries: int
    problems: list[ChainProblem]
    recomputed: dict[int, str]
    stored: dict[int, str]
    last_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_chain(events: Iterable[Mapping[str, Any]], start_prev: str = GENESIS, *, contiguous_ids: bool = True) -> ChainCheck:
    """Walk events in id order; report every edit, deletion and reordering, not only the first.

    ``events`` are mappings with ``id``, ``prev_hash``, ``hash`` and the content fields. After a
    break the walk re-synchronises on the stored hash, so one edit is reported once and the
    entries after it are still checked against each other.
    """
    rows = list(events)
    by_hash = {str(r["hash"]): int(r["id"]) for r in rows}
    problems: list[ChainProblem] = []
    recomputed: dict[int, str] = {}
    stored: dict[int, str] = {}
    prev_stored, prev_true, prev_id = start_prev, start_prev, None
    for r in rows:
        eid = int(r["id"])
        stored[eid] = str(r["hash"])
        try:
            own = event_hash(r, str(r["prev_hash"]))
            true = event_hash(r, prev_true)
        except (KeyError, TypeError, ValueError):
            problems.append(ChainProblem("edited", eid, f"entry {eid} is malformed (a field is missing or of the wrong type)"))
            own, true = "", ""
        if own != r["hash"]:
            problems.append(ChainProblem("edited", eid, f"entry {eid} was edited: its content no longer matches its hash"))
        if r["prev_hash"] != prev_stored:
            named = by_hash.get(str(r["prev_hash"]))
            if named is not None and prev_id is not None and named != prev_id:
                problems.append(ChainProblem("reordered", eid, f"entries out of order: entry {eid} names entry {named} as its predecessor, but follows entry {prev_id}"))
            elif contiguous_ids and prev_id is not None and eid != prev_id + 1:
                gap = f"entry {prev_id + 1}" if eid == prev_id + 2 else f"entries {prev_id + 1}–{eid - 1}"
                problems.append(ChainProblem("deleted", eid, f"{gap} deleted: entry {eid} does not follow entry {prev_id}"))
            elif prev_id is None and contiguous_ids and eid != 1 and start_prev == GENESIS:
                problems.append(ChainProblem("deleted", eid, f"entries before {eid} deleted: the first entry left does not start the chain"))
            elif prev_id is not None:
                problems.append(ChainProblem("unlinked", eid, f"entry {eid} does not link to entry {prev_id}: entry {prev_id} was changed and re-hashed, or replaced"))
            else:
                problems.append(ChainProblem("unlinked", eid, f"entry {eid} does not link to the start of the chain"))
        recomputed[eid] = true
        prev_stored, prev_true, prev_id = str(r["hash"]), true, eid
    return ChainCheck(len(rows), problems, recomputed, stored, prev_id)
