"""The build screen: progress per page, then per volume (卷 n / N), then the volumes, the quality checks, the custody entries.

Build calls ``station.pipeline.build_dossier`` on ``BATCH/case.toml`` — what
``dossier build BATCH/case.toml -o BATCH/out`` does — in a job thread; OCR runs in the
pipeline's own worker processes. The case file is written again from the saved catalogue first,
so a split or join made since is in it (or the build stops naming the row to fill in).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from dossier_station.core.profile import load_profile
from dossier_station.ui import catalogue as cat
from dossier_station.ui.app import operator, render
from dossier_station.ui.jobs import JobState, volume_files
from dossier_station.ui.review import OUT, last_report

router = APIRouter()


def _engines() -> list[str]:
    from dossier_station.ocr.engine import available_engines

    return sorted(available_engines())


def _custody(report: dict[str, Any] | None, batch_path) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    if not report:
        return []
    from dossier_station.core.journal import Journal

    wanted = {str((batch_path / OUT / v["file"]).resolve()) for v in report.get("volumes", [])}
    with Journal() as journal:
        return [e for e in journal.recent(200) if e["subject"] in wanted or e["kind"] == "ui-build" and e["detail"].get("batch") == batch_path.name][-10:]


@router.get("/batch/{batch_id}/build")
async def build_screen(request: Request, batch_id: str) -> Response:
    operator(request, "build")
    app = request.app
    batch = app.state.store.open_batch(batch_id)
    report = await asyncio.to_thread(last_report, batch.path)
    job = app.state.jobs.states.get(batch_id)
    custody = await asyncio.to_thread(_custody, report, batch.path)
    default_engine = app.state.cfg.build_overrides.get("engine") or load_profile(app.state.cfg.profile).section("build").get("engine", "rapidocr")
    return render(request, "build.html", batch_id=batch_id, report=report, job=job.event() if job else None, engines=_engines(),
                  engine=default_engine, volumes=[p.name for p in volume_files(batch.path / OUT)], custody=custody)


@router.post("/api/batch/{batch_id}/build")
async def start_build(request: Request, batch_id: str) -> Response:
    op = operator(request, "build")
    app = request.app
    body = await request.json()
    store, jobs, cfg = app.state.store, app.state.jobs, app.state.cfg
    batch = store.open_batch(batch_id)
    engine = str(body.get("engine") or "")
    if engine and engine not in _engines():
        from dossier_station.core.errors import BadArgsError

        raise BadArgsError(f"unknown OCR engine {engine!r}", hint=f"choose one of: {', '.join(_engines())}")

    def work(st: JobState) -> None:
        from dossier_station.station.pipeline import BuildOptions, build_dossier
        from dossier_station.ui.edits import operator_journal

        form = cat.load_form(batch)
        if not batch.data.get("catalogue"):  # never catalogued: one row per document, numbered titles
            form["rows"] = [{"title": f"第{i + 1}件"} for i in range(len(form["documents"]))]
            form["fields"]["case_name"] = batch_id
        errors = cat.field_errors(form)
        if errors:
            from dossier_station.core.errors import CaseFileError

            raise CaseFileError("the catalogue is incomplete: " + "; ".join(errors.values()), hint="fill it in on the catalogue screen, then build")
        cat.save(batch, form)
        profile = load_profile(cfg.profile)
        overrides = cfg.build_overrides | ({"engine": engine} if engine else {})
        options = BuildOptions.from_profile(profile, **overrides)

        def on_start(n: int) -> None:
            st.total = n
            jobs.progress(batch_id, st, phase="pages")

        def on_page(outcome: Any) -> None:
            st.done += 1
            jobs.progress(batch_id, st, phase="pages" if st.done < (st.total or 0) else "volumes", page=outcome.key, blank=outcome.blank)

        def on_volume(n: int, count: int, path: Any) -> None:
            st.volume, st.volumes = n, count
            jobs.progress(batch_id, st, phase="volumes", file=path.name)

        result = build_dossier(batch.path / cat.CASE_NAME, None, batch.path / OUT, profile, options=options, on_page=on_page,
                               on_start=on_start, on_volume=on_volume)
        with operator_journal(op.name) as journal:
            journal.record("ui-build", str(batch.manifest_path), None, operator=op.name, batch=batch_id,
                           volumes=[v["file"] for v in result.report["volumes"]])
        st.result = {"volumes": [p.name for p in result.volumes], "qc": len(result.report.get("qc", []))}

    jobs.start(batch_id, "build", work)
    return JSONResponse({"batch": batch_id})


@router.get("/batch/{batch_id}/volume/{n}")
async def volume(request: Request, batch_id: str, n: int) -> Response:
    """The n-th volume (1-based) of the last build, shown by the browser's PDF viewer."""
    batch = request.app.state.store.open_batch(batch_id)
    files = volume_files(batch.path / OUT)
    if not 1 <= n <= len(files):
        from dossier_station.ui.store import NotFound

        raise NotFound(f"batch {batch_id} has no volume {n}", hint="build the dossier first")
    from dossier_station.core.custody import VIEWED
    from dossier_station.station.custody import record_access
    from dossier_station.ui.edits import operator_journal

    op = operator(request)

    def viewed() -> None:  # every opening of a dossier is recorded (全程留痕)
        with operator_journal(op.name) as journal:
            record_access(files[n - 1], VIEWED, journal=journal, by="dossier ui")

    await asyncio.to_thread(viewed)
    return FileResponse(files[n - 1], media_type="application/pdf", content_disposition_type="inline", filename=files[n - 1].name)
