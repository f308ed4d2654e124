"""The check (质检) and catalogue (编目) screens, and their one write path each.

Edits go through ``ui.edits.apply_action`` (manifest only, journaled with the operator's name);
the catalogue through ``ui.catalogue.save`` (validated by the build's own case loader). Both are
refused while a scan or build of the batch is running, so the manifest has one writer at a time.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dossier_station.core.errors import BadArgsError, BusyError, CaseFileError
from dossier_station.ui import catalogue as cat
from dossier_station.ui.app import operator, render
from dossier_station.ui.edits import apply_action, documents, live_pages, split_at
from dossier_station.ui.review import blank_seqs, grid
from dossier_station.ui.store import check_seq, page_record

router = APIRouter()
_locks: dict[str, threading.Lock] = {}


def _lock(batch_id: str) -> threading.Lock:
    return _locks.setdefault(batch_id, threading.Lock())


def _idle(request: Request, batch_id: str) -> None:
    job = request.app.state.jobs.running(batch_id)
    if job:
        raise BusyError(f"batch {batch_id} is busy ({job.kind})", hint="wait until it finishes, then try again")


@router.get("/batch/{batch_id}/check")
async def check_screen(request: Request, batch_id: str) -> Response:
    operator(request, "check")
    batch = request.app.state.store.open_batch(batch_id)
    pages = await asyncio.to_thread(grid, batch)
    return render(request, "check.html", batch_id=batch_id, pages=pages, flagged=sum(1 for p in pages if p["flags"] or p["role"] != "page"))


@router.get("/batch/{batch_id}/page/{seq}")
async def page_screen(request: Request, batch_id: str, seq: int) -> Response:
    operator(request, "check")
    batch = request.app.state.store.open_batch(batch_id)
    page = page_record(batch, seq)
    from dossier_station.ui.pageview import locate

    found = await asyncio.to_thread(locate, batch.path, page["file"])
    seqs = [p["seq"] for p in sorted(batch.pages, key=lambda p: (p.get("order", p["seq"]), p["seq"]))]
    i = seqs.index(seq)
    return render(request, "page.html", batch_id=batch_id, page=page, built=found is not None,
                  prev=seqs[i - 1] if i else None, next=seqs[i + 1] if i + 1 < len(seqs) else None)


@router.get("/batch/{batch_id}/page/{seq}/text")
async def page_text(request: Request, batch_id: str, seq: int) -> Response:
    operator(request, "check")
    batch = request.app.state.store.open_batch(batch_id)
    page = page_record(batch, seq)
    from dossier_station.ui.pageview import locate, render_with_text

    found = await asyncio.to_thread(locate, batch.path, page["file"])
    if not found:
        return JSONResponse({"runs": [], "built": False})
    pdf, index = found
    cache = batch.path / "ui-preview" / f"built-{pdf.stem}-{index}.jpg"
    data = await asyncio.to_thread(render_with_text, pdf, index, cache)
    return JSONResponse({"built": True, "image": f"/batch/{batch_id}/page/{seq}/built.jpg", **data})


@router.get("/batch/{batch_id}/page/{seq}/built.jpg")
async def page_built(request: Request, batch_id: str, seq: int) -> Response:
    operator(request, "check")
    from fastapi.responses import FileResponse

    from dossier_station.ui.pageview import locate

    batch = request.app.state.store.open_batch(batch_id)
    found = await asyncio.to_thread(locate, batch.path, page_record(batch, seq)["file"])
    if not found:
        raise BadArgsError(f"page {seq} has not been built yet")
    cache = batch.path / "ui-preview" / f"built-{found[0].stem}-{found[1]}.jpg"
    if not cache.exists():
        from dossier_station.ui.pageview import render_with_text

        await asyncio.to_thread(render_with_text, found[0], found[1], cache)
    return FileResponse(cache, media_type="image/jpeg")


@router.post("/api/batch/{batch_id}/edit")
async def edit(request: Request, batch_id: str) -> Response:
    op = operator(request, "check")
    body: dict[str, Any] = await request.json()
    action = str(body.get("action", ""))
    seq = check_seq(body["seq"]) if body.get("seq") is not None else None
    store = request.app.state.store
    _idle(request, batch_id)

    def run() -> dict[str, Any]:
        with _lock(batch_id):
            batch = store.open_batch(batch_id)
            edit = apply_action(batch, action, op.name, seq, **{k: v for k, v in body.items() if k in ("degrees", "order")})
            return {"edit": edit, "pages": grid(batch), **_numbers(batch)}

    return JSONResponse(await asyncio.to_thread(run))


def _numbers(batch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    docs = documents(batch)
    return {"documents": docs, "page_numbers": cat.page_numbers(docs, blank_seqs(batch))}


@router.get("/batch/{batch_id}/catalogue")
async def catalogue_screen(request: Request, batch_id: str) -> Response:
    operator(request, "catalogue")
    batch = request.app.state.store.open_batch(batch_id)
    form = cat.load_form(batch)
    nums = _numbers(batch)
    live = [p["seq"] for p in live_pages(batch)]
    return render(request, "catalogue.html", batch_id=batch_id, form=form, fields=cat.FIELD_ORDER, zh=cat.zh, live=live,
                  page_numbers=nums["page_numbers"], saved=cat.case_path(batch.path) is not None, blanks=sorted(blank_seqs(batch)))


@router.get("/batch/{batch_id}/sheet/{which}.png")
async def sheet_preview(request: Request, batch_id: str, which: str) -> Response:
    """封面 / 卷内目录 / 备考表 as the writer draws them, from the saved case file."""
    operator(request, "catalogue")
    from dossier_station.ui.sheets_preview import SHEETS, render_sheet
    from dossier_station.ui.store import NotFound

    batch = request.app.state.store.open_batch(batch_id)
    case = cat.case_path(batch.path)
    if which not in SHEETS or case is None:
        raise NotFound(f"no {which} sheet for batch {batch_id}", hint="save the catalogue first")
    png = await asyncio.to_thread(render_sheet, case, documents(batch), blank_seqs(batch), which)
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


@router.post("/api/batch/{batch_id}/assign")
async def assign(request: Request, batch_id: str) -> Response:
    """Row ``row`` (0-based) starts at page ``seq``: the boundary moves, the rows keep their text."""
    op = operator(request, "catalogue")
    body = await request.json()
    seq, row = check_seq(body.get("seq")), int(body.get("row", -1))
    _idle(request, batch_id)
    store = request.app.state.store

    def run() -> dict[str, Any]:
        with _lock(batch_id):
            batch = store.open_batch(batch_id)
            docs = documents(batch)
            live = [p["seq"] for p in live_pages(batch)]
            if seq not in live:
                raise BadArgsError(f"page {seq} is not in the dossier (set aside or blank)")
            if not 0 < row < len(docs):
                raise BadArgsError(f"row {row + 1}: the first row always starts at the first page", hint="drag onto a later row, or split at the page")
            lo = live.index(docs[row - 1][0])
            hi = live.index(docs[row + 1][0]) if row + 1 < len(docs) else len(live)
            if not lo < live.index(seq) < hi:
                raise BadArgsError(f"page {seq} lies outside rows {row} and {row + 1}", hint="a row can start between the start of the row before and the start of the next")
            starts = {d[0] for d in docs} - {docs[row][0]} | {seq}
            from dossier_station.ui.edits import rename_start, write_documents

            rename_start(batch, docs[row][0], seq)
            write_documents(batch, split_at(live, starts))
            apply_action(batch, "split", op.name, seq)  # journaled like the check screen's split
            return _numbers(batch)

    return JSONResponse(await asyncio.to_thread(run))


@router.post("/api/batch/{batch_id}/catalogue")
async def save_catalogue(request: Request, batch_id: str) -> Response:
    operator(request, "catalogue")
    body = await request.json()
    _idle(request, batch_id)
    store = request.app.state.store

    def run() -> tuple[int, dict[str, Any]]:
        with _lock(batch_id):
            batch = store.open_batch(batch_id)
            docs = documents(batch)
            fields = {k: str(body.get("fields", {}).get(k, ""))[:500] for k in cat.FIELD_ORDER}
            rows = [{k: str(r.get(k, ""))[:500] for k in cat.ROW_FIELDS} for r in body.get("rows", [])][: len(docs)]
            rows += [{"title": ""}] * (len(docs) - len(rows))
            form = {"fields": fields, "rows": rows, "documents": docs}
            errors = cat.field_errors(form)
            if errors:
                return 422, {"errors": errors, **_numbers(batch)}
            try:
                cat.save(batch, form)
            except CaseFileError as exc:
                return 422, {"errors": {"case": exc.message.replace(".case.check.toml", cat.CASE_NAME)}, **_numbers(batch)}
            return 200, {"saved": cat.CASE_NAME, **_numbers(batch)}

    status, data = await asyncio.to_thread(run)
    return JSONResponse(data, status_code=status)
