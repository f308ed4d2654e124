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
from dossier_station.core.model import ImportedPage

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
    # The clerk's quarter turn (clockwise degrees that make the capture upright), set on the check
    # screen; 0 = let the page stage decide. A person who looked at the page outranks the machine.
    turn: int = 0

    @property
    def key(self) -> str:
        return self.path.name if self.count == 1 else f"{self.path.name}#{self.index + 1}"


def sha256_file(path: Path) -> str:
    return _sha256_file(path)  # the station's one file hash (core.files)


# Metadata beside scans (ground truth, manifests, batch.json) is never a page.
SIDECAR_SUFFIXES = {".json", ".txt", ".md", ".xml"}


def _natural(p: Path) -> list[object]:
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def _why_skipped(p: Path) -> str | None:
    """Why a folder entry is not a page, or None when it is a candidate page file."""
    import errno
    import os

    if p.name.startswith("."):
        return "hidden file"
    try:
        os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if p.is_symlink():
            return "dangling symbolic link (its target does not exist)"
        return f"cannot be read ({exc.strerror})"
    if p.is_dir():
        return "subfolder (only the folder's own files are pages; move its pages up or build it separately)"
    if not p.is_file():
        return "not a regular file"
    if p.suffix.lower() in SIDECAR_SUFFIXES:
        return "metadata beside the scans, not a page"
    return None


def skipped_inputs(folder: Path) -> list[tuple[Path, str]]:
    """Every entry of a folder that is not used as a page, with why (for the output and report)."""
    entries = sorted(folder.iterdir(), key=_natural)
    return [(p, why) for p in entries if (why := _why_skipped(p)) is not None]


def list_input_files(folder: Path) -> list[Path]:
    """Files of a folder in name order (natural: page2 before page10).

    Hidden files, subfolders, broken links and metadata sidecars (.json/.txt/.md/.xml) are
    not pages (``skipped_inputs`` says which and why); anything else that is not a page
    format stops the build with an error naming it.
    """
    return sorted((p for p in folder.iterdir() if _why_skipped(p) is None), key=_natural)


# Smaller than this on either side, a file is an icon or a thumbnail, not a scanned page (and
# OpenCV's resizes would fail on it further on).
MIN_SIDE_PX = 64


def _check_image(path: Path) -> tuple[int, str]:
    """Open and decode every frame once (bad bytes fail here, before any OCR); return (frames, kind)."""
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            for i in range(frames):
                im.seek(i)
                if im.width * im.height > MAX_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                if min(im.width, im.height) < MIN_SIDE_PX:
                    where = f", page {i + 1}" if frames > 1 else ""
                    raise InputFileError(
                        f"{path}{where}: {im.width}×{im.height} px is too small to be a scanned page",
                        hint=f"scan pages at ≥ 200 dpi (a page is at least {MIN_SIDE_PX} px on each side); remove the file from the folder",
                    )
                if im.format == "JPEG":
                    # Every byte of the scan is still entropy-decoded (a truncated or damaged
                    # file fails here as in a full decode), the pixels at 1/8 scale: a quarter
                    # of the time, and the worker decodes the page again anyway.
                    im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
            kind = "tiff" if im.format == "TIFF" else "image"
            return frames, kind
    except InputFileError:
        raise
    except Image.DecompressionBombError:
        raise InputFileError(
            f"{path}: image too large to be a scan (over {MAX_PIXELS // 1_000_000} Mpx); refusing a possible decompression bomb",
            hint="rescan at ≤ 600 dpi, or remove the file from the folder",
        ) from None
    except PermissionError:
        raise InputFileError(f"{path}: permission denied", hint="give the station read access to the file (chmod/chown), then rerun") from None
    except Exception as exc:  # any decoder failure (truncated TIFF frames raise EOFError, struct.error …)
        raise InputFileError(
            f"{path}: unreadable or truncated image ({type(exc).__name__}: {exc})",
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
    except PermissionError:
        raise InputFileError(f"{path}: permission denied", hint="give the station read access to the file (chmod/chown), then rerun") from None
    except InputFileError:
        raise
    except Exception as exc:  # pikepdf/qpdf may raise others on hostile files
        raise InputFileError(f"{path}: broken PDF ({type(exc).__name__}: {exc})", hint="obtain an intact copy of the file") from None


def scan_inputs(paths: list[Path]) -> list[PageSource]:
    """Check every input file and expand it into pages, in the given order."""
    pages: list[PageSource] = []
    for path in paths:
        if not path.exists():
            raise InputFileError(f"{path}: no such file", hint="check the path")
        if path.stat().st_size == 0:
            raise InputFileError(f"{path}: empty file (0 bytes)", hint="the copy or scan failed; rescan the page")
        suffix = path.suffix.lower()
        try:
            digest = sha256_file(path)
        except PermissionError:
            raise InputFileError(f"{path}: permission denied", hint="give the station read access to the file (chmod/chown), then rerun") from None
        except IsADirectoryError:
            raise InputFileError(f"{path}: is a folder, not a page file", hint="give the folder itself as INPUTS, or name its files") from None
        except OSError as exc:
            raise InputFileError(f"{path}: cannot be read ({exc.strerror or exc})", hint="check the disk and the file, then rerun") from None
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
    dpi_note: str = ""  # how the resolution was found, when the file did not say it plausibly
    how: str = ""  # PDF pages: "extracted (…)" or "rendered at N dpi"
    text: str = ""  # PDF pages: visible text the page already carries (born digital)
    text_lines: list[tuple[str, float, float, float, float]] | None = None  # its lines, raster px
    imported: ImportedPage | None = None  # born digital: the PDF page itself, to place as it is
    size_pt: tuple[float, float] | None = None  # born digital: its displayed size in points
    corrected: int = 0  # born digital: clockwise turn added to its /Rotate to show its text upright


# Plausible scanning resolutions; outside, the file's figure is a placeholder (72, 1, 60000).
PLAUSIBLE_DPI = (100.0, 2400.0)
# Paper sizes a scanned page is likely to be (inches, portrait): A4, A3, A5, B5 (JIS and
# ISO), Letter, Legal, 16K. The page's aspect ratio picks one; its pixels then give the dpi.
PAPER_IN = {
    "A4": (8.27, 11.69), "A3": (11.69, 16.54), "A5": (5.83, 8.27), "B5": (6.93, 9.84),
    "JIS B5": (7.17, 10.12), "Letter": (8.5, 11.0), "Legal": (8.5, 14.0), "16K": (7.68, 10.63),
}
PAPER_ASPECT_TOLERANCE = 0.02


COMMON_DPI = (100, 150, 200, 240, 300, 400, 600, 1200)


def infer_dpi(width_px: int, height_px: int) -> tuple[float, str] | None:
    """Resolution of a page whose file does not give one, from the paper size its shape fits.

    A-series sizes share one shape (√2), so the shape alone cannot tell A4 from A3 or A5: of
    the sizes that fit, the one whose resolution is nearest a usual scanner setting wins
    (1240×1754 px is A4 at 150 dpi, not A3 at 106), A4 first on a tie.
    """
    short, long_ = sorted((width_px, height_px))
    aspect = long_ / short
    fits = []
    for order, (name, (w_in, h_in)) in enumerate(PAPER_IN.items()):
        if abs(h_in / w_in - aspect) / aspect <= PAPER_ASPECT_TOLERANCE:
            dpi = long_ / h_in
            off = min(abs(dpi - c) / c for c in COMMON_DPI)
            fits.append((round(off, 2), order, name, round(dpi)))
    if not fits:
        return None
    _, _, name, dpi = min(fits)
    if not PLAUSIBLE_DPI[0] / 2 <= dpi <= PLAUSIBLE_DPI[1]:
        return None
    return float(dpi), f"inferred {dpi} dpi from the page's shape and size ({name} paper)"


def page_dpi(info: dict, width_px: int, height_px: int) -> tuple[float, str]:
    """The page's resolution and, unless the file gave a plausible one, how it was found."""
    dpi = info.get("dpi")
    given = None
    try:
        if dpi:
            given = float(dpi[0])
    except (TypeError, ValueError, IndexError):
        given = None
    if given is not None and PLAUSIBLE_DPI[0] <= given <= PLAUSIBLE_DPI[1]:
        return given, ""
    said = f"the file says {given:g} dpi, not a scanning resolution; " if given else "the file gives no resolution; "
    inferred = infer_dpi(width_px, height_px)
    if inferred:
        return inferred[0], said + inferred[1]
    return float(DEFAULT_DPI), said + f"assumed {DEFAULT_DPI} dpi (the page fits no standard paper size)"


def load_page(src: PageSource) -> LoadedPage:
    """Decode one page. JPEG files keep their bytes for pass-through into the PDF."""
    if src.kind == "pdf":
        from dossier_station.ocr.pdf_pages import load_pdf_page

        r = load_pdf_page(src.path, src.index, MAX_PIXELS)
        return LoadedPage(r.image, r.dpi, r.jpeg_bytes, r.note, r.how, r.text, r.text_lines, r.imported, r.size_pt, r.corrected)
    try:
        im = Image.open(src.path)
        if src.kind == "tiff":
            im.seek(src.index)
        im.load()
    except PermissionError:
        raise InputFileError(f"{src.path}: permission denied", hint="give the station read access to the file (chmod/chown), then rerun") from None
    except Exception as exc:  # the file changed since it was checked, or a frame is damaged
        where = f", page {src.index + 1}" if src.count > 1 else ""
        raise InputFileError(f"{src.path}{where}: unreadable or truncated image ({type(exc).__name__}: {exc})", hint="rescan the page or copy the file again") from None
    jpeg = None
    if im.format == "JPEG" and im.mode in ("L", "RGB"):
        jpeg = src.path.read_bytes()
    dpi, note = page_dpi(im.info, im.width, im.height)
    return LoadedPage(im, dpi, jpeg, note)


def image_bytes(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()
