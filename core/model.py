"""Plain data handed from the page stage to the dossier writer.

``ocr`` produces one :class:`PageSpec` per page (the encoded image, where it sits on the page,
the invisible text); ``assemble`` turns a list of them plus the case into PDF/A volumes. Keeping
this contract as frozen dataclasses of plain values lets pages be processed in worker processes
and written to disk as JSON between the stages.

Coordinates are PDF points with the origin at the bottom-left of the page (y up), as in the
PDF content stream, so the writer never has to guess a convention.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Matrix = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class EncodedImage:
    """Image stream bytes ready to embed unchanged (no re-encoding in the writer).

    ``filter`` is a PDF filter name: ``/DCTDecode`` (JPEG passed through), ``/CCITTFaxDecode``
    (bilevel G4; ``decode_parms`` then holds K, Columns, Rows, BlackIs1) or ``/FlateDecode``.
    """

    data_path: Path
    filter: str
    width: int
    height: int
    colorspace: str  # "/DeviceRGB" or "/DeviceGray"
    bits: int  # 8, or 1 for bilevel
    decode_parms: dict[str, Any] | None = None


@dataclass(frozen=True)
class TextLine:
    """One line of recognised text, as an axis-aligned box in page points (y up).

    The writer sets it invisibly (text render mode 3) with the font size taken from the box
    height and a horizontal scale that makes the string exactly as wide as the box, so
    selection and search line up with the image and no spaces appear between Han characters.
    """

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float = 1.0


@dataclass(frozen=True)
class ImportedPage:
    """A born-digital PDF page put into the dossier as it is (a Form XObject), not as a raster.

    ``path`` and ``sha256`` name the input file (the writer re-hashes the bytes it imports),
    ``index`` counts from 0. ``bbox`` is the page's displayed box (crop box within the media
    box) in the source page's own user space; ``matrix`` is the ``cm`` operand that maps that
    space onto the dossier page, applying /Rotate and /UserUnit, so the page shows as a viewer
    shows the original. Plain values, so pages travel between worker processes as JSON.
    """

    path: Path
    index: int
    sha256: str
    matrix: Matrix
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class PageSpec:
    """One dossier page: an image placed by ``matrix`` on a page of ``width_pt × height_pt``.

    ``matrix`` is the ``cm`` operand that maps the image's unit square onto the page: deskew,
    quarter turns and scaling are done here, losslessly, instead of resampling the scan.
    ``clip`` (x0, y0, x1, y1) hides the scanner-lid border without touching the pixels.
    ``imported`` (born-digital PDF pages) asks the writer to place that PDF page itself instead
    of ``image``; ``image`` and ``lines`` stay as the fallback (raster + the page's own text)
    for when the page cannot be imported into a PDF/A volume.
    """

    width_pt: float
    height_pt: float
    image: EncodedImage
    matrix: Matrix
    lines: tuple[TextLine, ...] = ()
    clip: tuple[float, float, float, float] | None = None
    source: str = ""
    source_sha256: str = ""
    key: str = ""  # stable id of the page in the build report, e.g. "dev_001.png#1"
    imported: ImportedPage | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["image"]["data_path"] = str(self.image.data_path)
        if self.imported is None:
            d.pop("imported")
        else:
            d["imported"]["path"] = str(self.imported.path)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PageSpec:
        img = dict(d["image"])
        img["data_path"] = Path(img["data_path"])
        return cls(
            width_pt=d["width_pt"],
            height_pt=d["height_pt"],
            image=EncodedImage(**img),
            matrix=tuple(d["matrix"]),  # type: ignore[arg-type]
            lines=tuple(TextLine(**t) for t in d.get("lines", ())),
            clip=tuple(d["clip"]) if d.get("clip") else None,  # type: ignore[arg-type]
            source=d.get("source", ""),
            source_sha256=d.get("source_sha256", ""),
            key=d.get("key", ""),
            imported=_imported_from_json(d.get("imported")),
        )


def _imported_from_json(d: dict[str, Any] | None) -> ImportedPage | None:
    if not d:
        return None
    return ImportedPage(
        path=Path(d["path"]),
        index=int(d["index"]),
        sha256=str(d["sha256"]),
        matrix=tuple(float(v) for v in d["matrix"]),  # type: ignore[arg-type]
        bbox=tuple(float(v) for v in d["bbox"]),  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class Attachment:
    """A file embedded as a PDF/A-3 associated file (case description, build report)."""

    name: str
    data: bytes
    mime: str
    description: str
    relationship: str = "/Source"  # /Source, /Data, /Supplement …


@dataclass
class VolumeResult:
    """What the writer reports back for the build report and the summary line."""

    path: Path
    volume_no: int
    volume_count: int
    numbered_pages: int
    total_pages: int
    # per catalogue row: (seq, first page number, last page number)
    row_pages: list[tuple[int, int, int]] = field(default_factory=list)
    # per dossier page, in order: the page key and its stamped number (None = unnumbered)
    page_numbers: list[tuple[str, int | None]] = field(default_factory=list)
    # born-digital pages placed as the PDF pages themselves (keys), and those that asked to be
    # but went in as raster + their own text, with why (PDF/A would not allow them as they are)
    kept_vector: list[str] = field(default_factory=list)
    vector_refused: dict[str, str] = field(default_factory=dict)
