"""The check screen's actions (质检), as edits of the batch's manifest — never of a raw page.

A raw capture is evidence: rotate, move aside, blank / not blank, reorder, split and join are
written into ``batch.json`` (the page's ``role``, ``order`` and ``rotate``, the batch's
``documents``), which is what ``dossier build BATCH`` reads, so the CLI builds exactly what the
clerk saw. Every action is appended to the batch's ``edits`` list and to the station's custody
journal with the operator's name. Pages moved aside keep their file and can be brought back.
"""

from __future__ import annotations

import time
from typing import Any

from dossier_station.capture.batch import BatchFolder
from dossier_station.core.errors import BadArgsError
from dossier_station.core.journal import Journal
from dossier_station.ui.store import page_record

ROLES = ("page", "blank", "aside")


def ordered(batch: BatchFolder) -> list[dict[str, Any]]:
    return sorted(batch.pages, key=lambda p: (p.get("order", p["seq"]), p["seq"]))


def live_pages(batch: BatchFolder) -> list[dict[str, Any]]:
    """The pages that go into the dossier, in binding order."""
    return [p for p in ordered(batch) if p.get("role", "page") == "page"]


def documents(batch: BatchFolder) -> list[list[int]]:
    """Pages (seq) per document: the manifest's split, else the whole batch as one document."""
    live = [p["seq"] for p in live_pages(batch)]
    docs = batch.data.get("documents")
    if not docs:
        return [live] if live else []
    starts = {d["pages"][0] for d in docs if d.get("pages")}
    return split_at(live, starts)


def split_at(live: list[int], starts: set[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for seq in live:
        if not out or seq in starts:
            out.append([])
        out[-1].append(seq)
    return out


def write_documents(batch: BatchFolder, docs: list[list[int]]) -> None:
    """Rows numbered 1..n in binding order; the case file's rows follow the same numbers."""
    batch.data["documents"] = [{"row": i + 1, "pages": d} for i, d in enumerate(docs) if d]


def _starts(docs: list[list[int]]) -> set[int]:
    return {d[0] for d in docs if d}


def operator_journal(operator: str) -> Journal:
    """The station journal, with this browser operator as the event's ``operator`` (the station
    name stays the profile's): a clerk's edit is recorded under the clerk's name."""
    with Journal() as base:
        identity = dict(base.identity)
    return Journal(identity={**identity, "operator": operator})


def rename_start(batch: BatchFolder, old: int, new: int) -> None:
    """Catalogue rows are keyed by their first page: when it moves, the row's text follows."""
    for row in (batch.data.get("catalogue") or {}).get("rows", []):
        if row.get("start") == old:
            row["start"] = new


def apply_action(batch: BatchFolder, action: str, operator: str, seq: int | None = None, **args: Any) -> dict[str, Any]:
    """One check-screen action; returns the edit recorded. Raises BadArgsError on a bad request."""
    detail: dict[str, Any] = {}
    if action == "rescan" and seq is not None:  # the new capture takes the old page's place
        old, new = page_record(batch, seq), page_record(batch, int(args["new"]))
        new["order"] = old.get("order", old["seq"])  # same place; the later seq sorts right after
        new["flags"] = [*new.get("flags", []), f"rescan-of:{seq}"]
        old["flags"] = [*old.get("flags", []), f"rescanned-as:{new['seq']}"]
        detail["new"] = new["seq"]
    docs = documents(batch)
    starts = _starts(docs)
    page = page_record(batch, seq) if seq is not None else None
    if action == "rotate" and page is not None:
        turn = int(args.get("degrees", 90))
        if turn not in (90, 180, 270, -90):
            raise BadArgsError(f"rotation {turn}° is not a quarter turn")
        page["rotate"] = (int(page.get("rotate", 0)) + turn) % 360
        detail["rotate"] = page["rotate"]
    elif action in ("aside", "restore", "blank", "notblank", "rescan") and page is not None:
        new_role = {"aside": "aside", "restore": "page", "blank": "blank", "notblank": "page", "rescan": "aside"}[action]
        old_role = page.get("role", "page")
        if new_role != "page" and old_role == "page" and page["seq"] in starts:
            for d in docs:  # a document's first page leaves: its next page starts it
                if d and d[0] == page["seq"] and len(d) > 1:
                    starts.add(d[1])
                    rename_start(batch, d[0], d[1])
            starts.discard(page["seq"])
        if new_role == "page" and old_role != "page" and not docs:
            starts.add(page["seq"])
        page["role"] = new_role
        detail["role"] = [old_role, new_role]
    elif action == "reorder":
        order = [int(s) for s in args.get("order", [])]
        if sorted(order) != sorted(p["seq"] for p in batch.pages):
            raise BadArgsError("the new order must list every page of the batch exactly once", hint="reload the page and drag again")
        for i, s in enumerate(order):
            page_record(batch, s)["order"] = i + 1
        detail["order"] = order
    elif action == "split" and page is not None:
        if page.get("role", "page") != "page":
            raise BadArgsError(f"page {seq} is not in the dossier; a document cannot start at it")
        starts.add(page["seq"])
    elif action == "join" and page is not None:
        if page["seq"] not in starts or docs and docs[0] and docs[0][0] == page["seq"]:
            raise BadArgsError(f"page {seq} does not start a document that could join the one before it")
        starts.discard(page["seq"])
    else:
        raise BadArgsError(f"unknown action {action!r}")
    write_documents(batch, split_at([p["seq"] for p in live_pages(batch)], starts))
    edit = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "operator": operator, "action": action, "page": seq, **detail}
    batch.data.setdefault("edits", []).append(edit)
    batch.save()
    with operator_journal(operator) as journal:
        journal.record("ui-edit", str(batch.manifest_path), page["sha256"] if page else None,
                       operator=operator, action=action, page=seq, batch=batch.path.name, **detail)
    return edit
