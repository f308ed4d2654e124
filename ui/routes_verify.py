"""The verify screen: drop a dossier or a transfer package (.zip), or verify a volume of a batch.

The upload is kept only for the check, in a folder the server chooses (no path comes from the
browser), within the same size limit as every upload, and removed afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from pathlib import Path

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from dossier_station.core.errors import BadArgsError, InputFileError
from dossier_station.ui.app import MAX_UPLOAD_BYTES, operator, render
from dossier_station.ui.i18n import pick, translator
from dossier_station.ui.jobs import volume_files
from dossier_station.ui.review import OUT

router = APIRouter()


def _titled(request: Request, report: dict) -> dict:  # type: ignore[type-arg]
    t = translator(pick(request.cookies.get("lang")))
    for c in report["checks"]:
        c["title"] = t(c["label"])
    return report


@router.get("/verify")
async def verify_screen(request: Request) -> Response:
    operator(request, "verify")
    return render(request, "verify.html", batch_id=None, tab="verify", report=None)


@router.get("/batch/{batch_id}/volume/{n}/verify")
async def verify_volume(request: Request, batch_id: str, n: int) -> Response:
    op = operator(request, "verify")
    batch = request.app.state.store.open_batch(batch_id)
    files = volume_files(batch.path / OUT)
    if not 1 <= n <= len(files):
        from dossier_station.ui.store import NotFound

        raise NotFound(f"batch {batch_id} has no volume {n}", hint="build the dossier first")
    from dossier_station.ui.verifying import verify_dossier

    report = await asyncio.to_thread(verify_dossier, files[n - 1], files[n - 1].name, request.app.state.cfg.profile, (), op.name)
    return render(request, "verify.html", batch_id=batch_id, tab="verify", report=_titled(request, report))


@router.post("/api/verify")
async def verify_upload(request: Request, file: UploadFile, trust: UploadFile | None = None) -> Response:
    """The file is kept only for the check, under a name we choose, and removed afterwards."""
    op = operator(request, "verify")
    name = Path(file.filename or "dossier.pdf").name[:200]
    is_package = name.lower().endswith(".zip")
    if not (name.lower().endswith(".pdf") or is_package):
        raise InputFileError(f"{name}: neither a PDF nor a transfer package (.zip)", hint="drop the dossier's PDF file or the .zip written by dossier export")
    work = request.app.state.store.root / "verify" / secrets.token_hex(8)
    work.mkdir(parents=True)
    try:
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise BadArgsError(f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MiB", hint="verify it with: dossier verify FILE")
        upload = work / ("package.zip" if is_package else "dossier.pdf")
        upload.write_bytes(data)
        trust_files: tuple[Path, ...] = ()
        if trust is not None and trust.filename:
            (work / "trust.pem").write_bytes(await trust.read(1 << 20))
            trust_files = (work / "trust.pem",)
        if is_package:
            from dossier_station.ui.verifying_package import verify_package

            report = await asyncio.to_thread(verify_package, upload, name, request.app.state.cfg.profile,
                                             trust_files[0] if trust_files else None, op.name)
            return JSONResponse(_titled(request, report))
        from dossier_station.ui.verifying import verify_dossier

        report = await asyncio.to_thread(verify_dossier, work / "dossier.pdf", name, request.app.state.cfg.profile, trust_files, op.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return JSONResponse(_titled(request, report))
