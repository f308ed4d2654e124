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
class PageSpec:
    """One dossier page: an image placed by ``matrix`` on a page of ``width_pt × height_pt``.

    ``matrix`` is the ``cm`` operand that maps the image's unit square onto the page: deskew,
    quarter turns and scaling are done here, losslessly, instead of resampling the scan.
    ``clip`` (x0, y0, x1, y1) hides the scanner-lid border without touching the pixels.
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

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["image"]["data_path"] = str(self.image.data_path)
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
