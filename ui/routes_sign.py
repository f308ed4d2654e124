"""The signing screen (officers): open a transcript, run the pads, confirm, sign, verify."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from dossier_station.core.errors import BadArgsError, InputFileError
from dossier_station.ui.app import MAX_UPLOAD_BYTES, operator, render
from dossier_station.ui.jobs import JobState
from dossier_station.ui.signing_flow import Decision, describe, run_signing
from dossier_station.ui.store import ID_PATTERN, NotFound

router = APIRouter()
_decisions: dict[str, Decision] = {}


def _folder(request: Request, sign_id: str):  # type: ignore[no-untyped-def]
    root = request.app.state.store.root / "sign"
    if not ID_PATTERN.match(sign_id) or not (root / sign_id / "transcript.pdf").is_file():
        raise NotFound(f"no transcript {sign_id!r}", hint="open the transcript again")
    return root / sign_id


@router.get("/sign")
async def sign_home(request: Request) -> Response:
    operator(request, "sign")
    return render(request, "sign.html", batch_id=None, tab="sign", sign_id=None, doc=None, job=None)


@router.post("/api/sign")
async def open_transcript(request: Request, file: UploadFile) -> Response:
    operator(request, "sign")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES or not data.startswith(b"%PDF-"):
        raise InputFileError(f"{file.filename}: not a PDF transcript (or larger than {MAX_UPLOAD_BYTES // 2**20} MiB)", hint="open the transcript's PDF")
    sign_id = secrets.token_hex(6)
    folder = request.app.state.store.root / "sign" / sign_id
    folder.mkdir(parents=True)
    from dossier_station.core.files import write_bytes_atomic

    write_bytes_atomic(folder / "transcript.pdf", data)
    try:
        await asyncio.to_thread(describe, folder / "transcript.pdf")
    except Exception:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise InputFileError(f"{file.filename}: not a readable PDF", hint="open the transcript's PDF") from None
    return JSONResponse({"sign": sign_id, "url": f"/sign/{sign_id}"})


@router.get("/sign/{sign_id}")
async def sign_screen(request: Request, sign_id: str) -> Response:
    operator(request, "sign")
    folder = _folder(request, sign_id)
    doc = await asyncio.to_thread(describe, folder / "transcript.pdf")
    job = request.app.state.jobs.states.get(f"sign-{sign_id}")
    return render(request, "sign.html", batch_id=None, tab="sign", sign_id=sign_id, doc=doc, job=job.event() if job else None)


@router.get("/sign/{sign_id}/{which}.pdf")
async def sign_file(request: Request, sign_id: str, which: str) -> Response:
    operator(request, "sign")
    if which not in ("transcript", "signed"):
        raise NotFound(f"no file {which!r}")
    path = _folder(request, sign_id) / f"{which}.pdf"
    if not path.is_file():
        raise NotFound(f"{which}.pdf does not exist yet")
    return FileResponse(path, media_type="application/pdf", content_disposition_type="inline")


@router.post("/api/sign/{sign_id}/start")
async def start(request: Request, sign_id: str) -> Response:
    op = operator(request, "sign")
    folder = _folder(request, sign_id)
    body: dict[str, Any] = await request.json()
    app = request.app
    cfg, jobs, topic = app.state.cfg, app.state.jobs, f"sign-{sign_id}"
    decision = _decisions[topic] = Decision()

    def work(st: JobState) -> None:
        st.result = run_signing(folder, signer=str(body.get("signer", ""))[:100], id_number=str(body.get("id_number", ""))[:40],
                                operator=op.name, profile=cfg.profile, emulated_pads=cfg.emulated_pads, software_key=cfg.software_key,
                                decision=decision, publish=lambda ev: app.state.bus.publish(topic, ev))

    jobs.start(topic, "sign", work)
    return JSONResponse({"sign": sign_id})


@router.post("/api/sign/{sign_id}/decide")
async def decide(request: Request, sign_id: str) -> Response:
    operator(request, "sign")
    _folder(request, sign_id)
    decision = _decisions.get(f"sign-{sign_id}")
    if decision is None:
        raise BadArgsError("no signing is waiting for a decision", hint="start the signing")
    decision.give(str((await request.json()).get("choice", "")))
    return JSONResponse({"ok": True})


@router.get("/sign/{sign_id}/events")
async def events(request: Request, sign_id: str) -> Response:
    operator(request, "sign")
    _folder(request, sign_id)
    app, topic = request.app, f"sign-{sign_id}"

    def first() -> list[dict[str, Any]]:
        job = app.state.jobs.states.get(topic)
        return [job.event()] if job else []

    return StreamingResponse(app.state.bus.stream(topic, first, app.state.closing), media_type="text/event-stream; charset=utf-8",
                             headers={"cache-control": "no-store"})
