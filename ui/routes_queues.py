"""The queues screen (supervisors): hot folders, their jobs, the reason of each failure, retry."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dossier_station.ui.app import operator, render
from dossier_station.ui.queues import queues, retry

router = APIRouter()


@router.get("/queues")
async def queues_screen(request: Request) -> Response:
    operator(request, "queues")
    folders, missing = await asyncio.to_thread(queues, request.app.state.cfg.profile)
    return render(request, "queues.html", batch_id=None, tab="queues", folders=folders, missing=missing)


@router.post("/api/queues/retry")
async def retry_job(request: Request) -> Response:
    op = operator(request, "queues")
    body = await request.json()
    name, target = await asyncio.to_thread(retry, request.app.state.cfg.profile, int(body.get("folder", -1)), str(body.get("job", "")))

    def record() -> None:
        from dossier_station.core.files import sha256_file
        from dossier_station.ui.edits import operator_journal

        with operator_journal(op.name) as journal:
            journal.record("ui-retry", str(target), sha256_file(target) if target.is_file() else None, job=str(body.get("job")), operator=op.name)

    await asyncio.to_thread(record)
    return JSONResponse({"requeued": name})
