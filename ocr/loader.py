"""Input files → page sources, with every bad input turned into a clear error.

A folder of scans may hold single images, multi-page TIFFs and scanned PDFs. Each file is
hashed (SHA-256 of its bytes, the evidence) and checked here, before any work starts, so a
truncated JPEG or an encrypted PDF stops the build with the file's name instead of failing
half-way through a volume.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile

from dossier_station.core.errors import EncryptedPdfError, InputFileError
from dossier_station.core.files import sha256_file as _sha256_file

# A4 at 600 dpi is ~35 Mpx; anything beyond 4× that is a decompression bomb, not a scan.
MAX_PIXELS = 150_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pnm", ".pbm", ".pgm", ".ppm", ".bmp"}
PDF_SUFFIXES = {".pdf"}
DEFAULT_DPI = 300


@dataclass(frozen=True)
class PageSource:
    """One page of one input file. ``index`` counts from 0 within the file."""

    path: Path
    index: int
    count: int  # pages in the file
    sha256: str  # of the whole file
    kind: str  # "image" | "tiff" | "pdf"

    @property
    def key(self) -> str:
        return self.path.name if self.count == 1 else f"{self.path.name}#{self.index + 1}"


def sha256_file(path: Path) -> str:
    return _sha256_file(path)  # the station's one file hash (core.files)


# Metadata beside scans (ground truth, manifests, batch.json) is never a page.
SIDECAR_SUFFIXES = {".json", ".txt", ".md", ".xml"}


def list_input_files(folder: Path) -> list[Path]:
    """Files of a folder in name order (natural: page2 before page10).

    Hidden files and metadata sidecars (.json/.txt/.md/.xml) are skipped; anything else that
    is not a page format stops the build with an error naming it.
    """
    import re

    def natural(p: Path) -> list[object]:
        return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]

    files = (p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return sorted((p for p in files if p.suffix.lower() not in SIDECAR_SUFFIXES), key=natural)


def _check_image(path: Path) -> tuple[int, str]:
    """Open and fully decode every frame once; return (frames, kind)."""
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            for i in range(frames):
                im.seek(i)
                if im.width * im.height > MAX_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                im.load()
            kind = "tiff" if im.format == "TIFF" else "image"
            return frames, kind
    except Image.DecompressionBombError:
        raise InputFileError(
            f"{path}: image too large to be a scan (over {MAX_PIXELS // 1_000_000} Mpx); refusing a possible decompression bomb",
            hint="rescan at ≤ 600 dpi, or remove the file from the folder",
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputFileError(
            f"{path}: unreadable or truncated image ({exc})",
            hint="rescan the page or copy the file again; the original is left untouched",
        ) from None


def _check_pdf(path: Path) -> int:
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            n = len(pdf.pages)
            if n == 0:
                raise InputFileError(f"{path}: the PDF has no pages", hint="remove it or supply the scanned PDF")
            return n
    except pikepdf.PasswordError:
        raise EncryptedPdfError(
            f"{path}: the PDF is encrypted (password protected)",
            hint="ask the sender for an unprotected copy; dossiers cannot contain encrypted PDFs",
        ) from None
    except pikepdf.PdfError as exc:
        raise InputFileError(f"{path}: broken PDF ({exc})", hint="obtain an intact copy of the file") from None


def scan_inputs(paths: list[Path]) -> list[PageSource]:
    """Check every input file and expand it into pages, in the given order."""
    pages: list[PageSource] = []
    for path in paths:
        if not path.exists():
            raise InputFileError(f"{path}: no such file", hint="check the path")
        if path.stat().st_size == 0:
            raise InputFileError(f"{path}: empty file (0 bytes)", hint="the copy or scan failed; rescan the page")
        suffix = path.suffix.lower()
        digest = sha256_file(path)
        if suffix in PDF_SUFFIXES:
            n, kind = _check_pdf(path), "pdf"
        elif suffix in IMAGE_SUFFIXES:
            n, kind = _check_image(path)
        else:
            raise InputFileError(
                f"{path}: unsupported file type {suffix or '(none)'}",
                hint="supported: PNG, JPEG, TIFF, PNM, BMP and scanned PDF",
            )
        pages.extend(PageSource(path, i, n, digest, kind) for i in range(n))
    return pages


@dataclass
class LoadedPage:
    """A page raster plus what is needed to embed the original without re-encoding."""

    image: Image.Image
    dpi: float
    jpeg_bytes: bytes | None  # the original JPEG stream, when it can be passed through


def _dpi_of(info: dict, fallback: float = DEFAULT_DPI) -> float:
    dpi = info.get("dpi")
    if dpi and 50 <= float(dpi[0]) <= 2400:
        return float(dpi[0])
    return fallback


def load_page(src: PageSource) -> LoadedPage:
    """Decode one page. JPEG files keep their bytes for pass-through into the PDF."""
    if src.kind == "pdf":
        return _load_pdf_page(src)
    im = Image.open(src.path)
    if src.kind == "tiff":
        im.seek(src.index)
    im.load()
    jpeg = None
    if im.format == "JPEG" and im.mode in ("L", "RGB"):
        jpeg = src.path.read_bytes()
    return LoadedPage(im, _dpi_of(im.info), jpeg)


def _load_pdf_page(src: PageSource) -> LoadedPage:
    """A scanned PDF page: take its largest image at native resolution (no re-rasterising)."""
    import pikepdf
    from pikepdf import PdfImage

    with pikepdf.open(src.path) as pdf:
        page = pdf.pages[src.index]
        images = list(page.images.values())
        if not images:
            raise InputFileError(
                f"{src.path}, page {src.index + 1}: no scanned image on this page",
                hint="only scanned (image) PDFs can be built into a dossier; scan the paper original",
            )
        raw = max(images, key=lambda im: int(im.Width) * int(im.Height))
        pdfimage = PdfImage(raw)
        width_pt = float(page.mediabox[2]) - float(page.mediabox[0])
        dpi = round(pdfimage.width / (width_pt / 72.0)) if width_pt > 0 else DEFAULT_DPI
        jpeg = None
        if raw.get("/Filter") == pikepdf.Name.DCTDecode and pdfimage.colorspace in ("/DeviceRGB", "/DeviceGray"):
            jpeg = raw.read_raw_bytes()
        pil = pdfimage.as_pil_image()
        pil.load()
    if pil.width * pil.height > MAX_PIXELS:
        raise InputFileError(f"{src.path}, page {src.index + 1}: image too large to be a scan", hint="rescan at ≤ 600 dpi")
    return LoadedPage(pil, float(dpi), jpeg)


def image_bytes(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()
