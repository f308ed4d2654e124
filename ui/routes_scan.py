"""The scan screen: choose scanner and settings, Start; thumbnails arrive live; faults, Resume.

Start calls ``capture.batch.run_scan`` — the function behind ``dossier scan`` — in a job thread
(the scanner itself runs in the driver's worker process). Each page it reports is recorded in
the custody journal as ``dossier scan`` does and published to the batch's event stream; at the
end the batch is classified (separator sheets, blank backs) by ``station.scan_batch``. A fault
(jam, cover open, device lost) ends the session with the driver's advice and a Resume button,
which continues the same batch (``run_scan(resume=True)``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from dossier_station.capture.batch import BatchFolder, run_scan
from dossier_station.core.errors import BadArgsError
from dossier_station.core.profile import load_profile
from dossier_station.devices.scanner import ScanSettings
from dossier_station.ui.app import operator, render
from dossier_station.ui.jobs import JobState

router = APIRouter()
BUILTIN_PRESETS: dict[str, dict[str, Any]] = {
    "archive-colour": {"dpi": 300, "mode": "color", "source": "adf"},
    "archive-duplex": {"dpi": 300, "mode": "color", "source": "adf-duplex"},
    "text-grey": {"dpi": 300, "mode": "gray", "source": "adf"},
    "minimum-grey": {"dpi": 200, "mode": "gray", "source": "adf"},
    "glass": {"dpi": 300, "mode": "color", "source": "flatbed"},
}


def presets(profile: str | None) -> dict[str, dict[str, Any]]:
    """The profile's [scanner] settings first (the station's own choice), then the built-ins."""
    out: dict[str, dict[str, Any]] = {}
    section = load_profile(profile).section("scanner")
    if section:
        out["profile"] = {k: section[k] for k in ("device", "dpi", "mode", "source") if k in section}
    return out | BUILTIN_PRESETS


def page_event(batch_id: str, page: dict[str, Any]) -> dict[str, Any]:
    return {"type": "page", "seq": page["seq"], "thumb": f"/batch/{batch_id}/thumb/{page['seq']}", "role": page.get("role", "page"),
            "side": page.get("side"), "flags": page.get("flags", []), "rotate": page.get("rotate", 0)}


@router.get("/scan")
async def scan_form(request: Request) -> Response:
    operator(request, "scan")
    cfg = request.app.state.cfg
    return render(request, "scan.html", batch_id=None, presets=presets(cfg.profile), scanners=request.app.state.scanners(),
                  pages=[], job=None, device=cfg.demo and "pnm:0" or "", preset_default="glass" if cfg.demo else None)


@router.get("/batch/{batch_id}/scan")
async def scan_screen(request: Request, batch_id: str) -> Response:
    operator(request, "scan")
    app = request.app
    job = app.state.jobs.states.get(batch_id)
    path = app.state.store.batch_path(batch_id)
    if job and not (path / "batch.json").exists():  # just started: the session has not made the folder yet
        data: dict[str, Any] = {"settings": job.result.get("settings", {}), "pages": []}
    else:
        data = app.state.store.open_batch(batch_id).data
    event = job.event() if job else None
    if event is None and data.get("state") in ("stopped", "scanning"):  # a session ended by a fault, a crash or a restart
        event = {"type": "job", "kind": "scan", "state": "fault", "message": "the last scanning session did not finish", "done": 0}
    return render(request, "scan.html", batch_id=batch_id, presets=presets(app.state.cfg.profile), scanners=app.state.scanners(),
                  pages=[page_event(batch_id, p) for p in data["pages"]], job=event, batch=data,
                  device=(data.get("device") or {}).get("name") or data["settings"].get("device") or "", preset_default=None)


def _settings(body: dict[str, Any]) -> ScanSettings:
    try:
        dpi = int(body.get("dpi", 300))
    except (TypeError, ValueError):
        raise BadArgsError(f"resolution {body.get('dpi')!r} is not a number", hint="e.g. 300") from None
    device = str(body.get("device") or "").strip() or None
    return ScanSettings(device=device, dpi=dpi, mode=str(body.get("mode", "color")), source=str(body.get("source", "adf")))


def _start(request: Request, batch_id: str, settings: ScanSettings, *, resume: bool, replace: int | None = None) -> JobState:
    """A scan session in a job thread; ``replace``: one page, put in that page's place."""
    app = request.app
    cfg, store, jobs = app.state.cfg, app.state.store, app.state.jobs
    op = operator(request, "scan")
    path = store.batch_path(batch_id)
    schedule = None if resume else app.state.scan_schedule()
    max_pages = 1 if replace else len(schedule) if cfg.demo and schedule else None

    def work(st: JobState) -> None:
        from dossier_station.station.scan_batch import classify_pages
        from dossier_station.ui.edits import operator_journal

        st.result = {"settings": {"device": settings.device, "dpi": settings.dpi, "mode": settings.mode, "source": settings.source}}
        journal = operator_journal(op.name)
        st.done = len(BatchFolder.open(path).pages) if resume else 0

        def on_page(page: dict[str, Any]) -> None:
            journal.record("capture", str((path / page["file"]).resolve()), page["sha256"], device=settings.device,
                           dpi=page.get("dpi"), side=page.get("side"), flags=page.get("flags", []), operator=op.name)
            st.done += 1
            app.state.bus.publish(batch_id, page_event(batch_id, page))
            jobs.progress(batch_id, st, feeder="feeding")

        try:
            outcome = run_scan(path, settings, resume=resume, on_page=on_page, schedule=schedule, max_pages=max_pages)
        finally:
            journal.close()
        if outcome.reason.startswith("fault:"):
            st.state, st.message = "fault", outcome.message or outcome.reason
            st.result = {"fault": outcome.reason.split(":", 1)[1]}
        elif replace is not None:
            if not outcome.added:
                st.state, st.message = "error", "no page came from the scanner: put the sheet in and try again"
                return
            from dossier_station.ui.edits import apply_action

            apply_action(BatchFolder.open(path), "rescan", op.name, replace, new=outcome.added[0]["seq"])
            st.result = {"replaced": replace, "by": outcome.added[0]["seq"]}
        else:
            counts = classify_pages(BatchFolder.open(path))
            st.result = {"feeder": "empty", **counts}
            for page in BatchFolder.open(path).pages:  # roles may have changed: separators, blank backs
                if page.get("role", "page") != "page":
                    app.state.bus.publish(batch_id, page_event(batch_id, page))

    return jobs.start(batch_id, "scan", work)


@router.post("/api/scan")
async def start_scan(request: Request) -> Response:
    body = await request.json()
    settings = _settings(body)
    batch_id = request.app.state.store.new_batch_id()
    _start(request, batch_id, settings, resume=False)
    return JSONResponse({"batch": batch_id, "url": f"/batch/{batch_id}/scan"})


@router.post("/api/batch/{batch_id}/resume")
async def resume(request: Request, batch_id: str) -> Response:
    batch = request.app.state.store.open_batch(batch_id)
    s = batch.data["settings"]
    settings = ScanSettings(device=s.get("device"), dpi=s["dpi"], mode=s["mode"], source=s["source"])
    _start(request, batch_id, settings, resume=True)
    return JSONResponse({"batch": batch_id})


@router.post("/api/batch/{batch_id}/rescan")
async def rescan(request: Request, batch_id: str) -> Response:
    """Re-scan one page into its place: a new capture (raw pages are never overwritten) takes
    the old page's position; the old one is moved aside, both flagged with the other's number."""
    from dossier_station.ui.store import check_seq, page_record

    body = await request.json()
    seq = check_seq(body.get("seq"))
    batch = request.app.state.store.open_batch(batch_id)
    page_record(batch, seq)
    s = batch.data["settings"]
    settings = ScanSettings(device=s.get("device"), dpi=s["dpi"], mode=s["mode"], source=s["source"])
    _start(request, batch_id, settings, resume=True, replace=seq)
    return JSONResponse({"batch": batch_id, "replacing": seq})


@router.get("/batch/{batch_id}/events")
async def events(request: Request, batch_id: str) -> Response:
    """Server-sent events: the pages so far, then each new page and job state as it happens."""
    operator(request)
    app = request.app
    path = app.state.store.batch_path(batch_id)

    def first() -> list[dict[str, Any]]:
        out = [page_event(batch_id, p) for p in BatchFolder.open(path).pages] if (path / "batch.json").exists() else []
        job = app.state.jobs.states.get(batch_id)
        return out + ([job.event()] if job else [])

    stream = app.state.bus.stream(batch_id, first, app.state.closing)
    return StreamingResponse(stream, media_type="text/event-stream; charset=utf-8",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})
