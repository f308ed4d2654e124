"""The batch list, uploads, and the images of a batch (thumbnails, large previews).

Images are found through the batch's own manifest by page number; the browser never names a
file. An upload becomes a new batch: each file is checked by ``ocr.loader.scan_inputs`` — the
same loader ``dossier build`` uses — before it is kept, and stored under a name we choose.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from PIL import Image

from dossier_station.capture.batch import BatchFolder
from dossier_station.core.errors import BadArgsError, InputFileError
from dossier_station.core.files import sha256_file
from dossier_station.devices.scanner import ScanSettings
from dossier_station.ocr.loader import IMAGE_SUFFIXES, PDF_SUFFIXES, load_page, scan_inputs
from dossier_station.ui.app import MAX_UPLOAD_BYTES, operator, render
from dossier_station.ui.store import page_record

router = APIRouter()
PREVIEW_PX = 1400  # long side of the large view: sharp at 1366×768, small to send


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/batches", status_code=303)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/batches")
async def batches(request: Request) -> Response:
    operator(request)
    return render(request, "batches.html", batches=request.app.state.store.list_batches())


def _thumb(batch: BatchFolder, seq: int, src: Path, kind_image: Image.Image) -> str:
    thumbs = batch.path / "thumbs"
    thumbs.mkdir(exist_ok=True)
    im = kind_image.copy()
    im.thumbnail((240, 340))
    im.convert("RGB" if im.mode in ("RGB", "RGBA", "P") else "L").save(thumbs / f"{seq:04d}.jpg", quality=70)
    return f"thumbs/{seq:04d}.jpg"


@router.post("/api/upload")
async def upload(request: Request, files: list[UploadFile]) -> Response:
    op = operator(request, "scan")
    store = request.app.state.store
    if not files:
        raise BadArgsError("no files were sent", hint="choose page images or scanned PDFs")
    batch_id = store.new_batch_id()
    batch = BatchFolder.create(store.batch_path(batch_id), ScanSettings(device=None, dpi=300, mode="color", source="flatbed"))
    batch.data["device"] = {"name": "upload", "vendor": "", "model": "", "operator": op.name}
    total = 0
    try:
        for n, f in enumerate(files, start=1):
            suffix = Path(f.filename or "").suffix.lower()
            if suffix not in IMAGE_SUFFIXES | PDF_SUFFIXES:
                raise InputFileError(f"upload {n} ({f.filename}): unsupported file type {suffix or '(none)'}",
                                     hint="supported: PNG, JPEG, TIFF, PNM, BMP and scanned PDF")
            data = await f.read(MAX_UPLOAD_BYTES + 1)
            total += len(data)
            if total > MAX_UPLOAD_BYTES:
                raise BadArgsError(f"upload larger than {MAX_UPLOAD_BYTES // 2**20} MiB", hint="send fewer pages at a time")
            final = batch.path / "pages" / f"{n:04d}{suffix}"
            tmp = final.with_name(f".incoming-{n:04d}{suffix}")
            tmp.write_bytes(data)
            try:
                sources = scan_inputs([tmp])  # the build's own checks: type, truncation, encryption
                if len(sources) != 1:
                    raise InputFileError(f"upload {n} ({f.filename}) holds {len(sources)} pages", hint="upload one page per file (split multi-page files first)")
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.link(tmp, final)
            except InputFileError as exc:
                raise InputFileError(exc.message.replace(str(tmp), f"upload {n} ({f.filename})"), hint=exc.hint) from None
            finally:
                tmp.unlink(missing_ok=True)
            loaded = load_page(scan_inputs([final])[0])
            batch.add({"seq": n, "file": f"pages/{final.name}", "sha256": sha256_file(final), "bytes": final.stat().st_size,
                       "dpi": round(loaded.dpi), "side": "front", "role": "page", "flags": [], "uploaded_as": (f.filename or "")[:200],
                       "thumb": _thumb(batch, n, final, loaded.image), "width": loaded.image.width, "height": loaded.image.height})
    except Exception:
        shutil.rmtree(batch.path, ignore_errors=True)  # nothing was kept: no half batch in the list
        raise
    batch.data["state"] = "complete"
    batch.save()
    from dossier_station.ui.edits import operator_journal

    with operator_journal(op.name) as journal:
        for p in batch.pages:
            journal.record("capture", str((batch.path / p["file"]).resolve()), p["sha256"], device="upload", operator=op.name)
    return JSONResponse({"batch": batch_id, "pages": len(batch.pages)})


def _image_response(path: Path, media: str) -> Response:
    return FileResponse(path, media_type=media, headers={"cache-control": "private, max-age=300"})


@router.get("/batch/{batch_id}/thumb/{seq}")
async def thumb(request: Request, batch_id: str, seq: int) -> Response:
    operator(request)
    store = request.app.state.store
    batch = store.open_batch(batch_id)
    page = page_record(batch, seq)
    path = store.inside(batch.path, page.get("thumb") or f"thumbs/{seq:04d}.jpg")
    if not path.exists():
        path = _preview(store, batch, page, 240)
    return _image_response(path, "image/jpeg")


def _preview(store, batch: BatchFolder, page: dict, size: int) -> Path:  # type: ignore[no-untyped-def]
    """A JPEG copy of the raw page for the browser (derived; the raw page is only read)."""
    out = batch.path / "ui-preview" / f"{page['seq']:04d}-{size}.jpg"
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        loaded = load_page(scan_inputs([store.inside(batch.path, page["file"])])[0])
        im = loaded.image
        im.thumbnail((size, size))
        tmp = out.with_name(f".{out.name}.tmp")
        im.convert("RGB" if im.mode not in ("L", "RGB") else im.mode).save(tmp, "JPEG", quality=85)
        os.replace(tmp, out)
    return out


@router.get("/batch/{batch_id}/preview/{seq}")
async def preview(request: Request, batch_id: str, seq: int) -> Response:
    operator(request)
    store = request.app.state.store
    batch = store.open_batch(batch_id)
    import asyncio

    path = await asyncio.to_thread(_preview, store, batch, page_record(batch, seq), PREVIEW_PX)
    return _image_response(path, "image/jpeg")
