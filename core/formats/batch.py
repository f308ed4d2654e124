"""``batch.json`` (format ``dossier-batch/1``) as a typed model: the one way a batch is read.

The manifest is written by ``dossier scan`` after every page, but it is also read back by the
build, by ``--resume`` and by other systems that produce batches; it may have been edited by
hand or cut short by a full disk. Reading it through one strict model means a missing key, a
page without a SHA-256, a page file outside the batch or a seq used twice is one clear error
naming batch.json and the page — never a KeyError half-way through a build.

Adding a key to batch.json means adding it here (unknown keys are refused, with the nearest
known name, so a misspelt key is never silently ignored).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator

from dossier_station.core.errors import InputFileError
from dossier_station.core.formats.reading import decode_json_object, read_bounded
from dossier_station.core.formats.validation import STRICT, raise_for

BATCH_FORMAT = "dossier-batch/1"
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
BatchState = Literal["scanning", "complete", "stopped", "failed"]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _relative_file(value: str) -> str:
    p = PurePosixPath(value)
    if not value or p.is_absolute() or ".." in p.parts or "\\" in value or "\0" in value:
        raise ValueError("must be a path inside the batch folder, like pages/0001.png")
    return value


def _sha256_or_empty(value: str) -> str:
    if value and not _HEX64.match(value):
        raise ValueError("is not a SHA-256 (64 lower-case hex digits)")
    return value


RelativeFile = Annotated[str, AfterValidator(_relative_file)]


class BatchPage(BaseModel):
    """One captured page: the raw file (immutable), its hash, and what the station learnt of it."""

    model_config = STRICT

    seq: int = Field(ge=1, description="capture number, 1 up, never reused")
    file: RelativeFile = Field(description="raw page, relative to the batch folder")
    sha256: Annotated[str, AfterValidator(_sha256_or_empty)] = Field("", description="SHA-256 of the raw file at capture")
    bytes: int | None = Field(None, ge=0)
    width: int | None = Field(None, ge=1)
    height: int | None = Field(None, ge=1)
    dpi: int | float | None = Field(None, gt=0)
    mode: str | None = None
    side: Literal["front", "back"] = "front"
    time: str = ""
    thumb: str = ""
    fingerprint: list[int] = Field(default_factory=list, description="8×8 grey thumbnail for re-feed checks")
    role: Literal["page", "separator", "blank", "aside"] = Field("page", description="aside: set aside by the clerk (check screen)")
    flags: list[str] = Field(default_factory=list)
    order: int | None = Field(None, ge=1, description="binding order when it differs from seq (manual duplex)")
    classified: bool = False
    separator_row: int | None = Field(None, ge=0)
    separator_case: str | None = None
    ink_ratio: float | None = Field(None, ge=0)
    rotate: Literal[0, 90, 180, 270] = Field(0, description="quarter turns the clerk asked for (check screen)")
    uploaded_as: str = Field("", description="original file name of an uploaded page")


class BatchDocument(BaseModel):
    """Pages after one separator sheet: a catalogue row and the seqs of its pages."""

    model_config = STRICT

    row: int = Field(ge=1, description="catalogue row (顺序号)")
    pages: list[int] = Field(description="seq of each page, in binding order")


class BatchSession(BaseModel):
    model_config = STRICT

    started: str
    first_seq: int = Field(ge=1)
    ended: str | None = None
    reason: str | None = None
    pages: int | None = Field(None, ge=0)


class BatchManifest(BaseModel):
    """The whole batch.json."""

    model_config = STRICT

    format: Literal["dossier-batch/1"]
    created: str = ""
    device: dict[str, Any] | None = None
    applied: dict[str, Any] | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    pages: list[BatchPage]
    state: BatchState
    sessions: list[BatchSession] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    documents: list[BatchDocument] | None = None
    unassigned: list[int] | None = Field(None, description="seqs of pages that follow no separator sheet")
    duplex: Literal["manual"] | None = None
    title: str | None = None
    catalogue: dict[str, Any] | None = Field(None, description="the catalogue form as the clerk last saved it (browser)")
    edits: list[dict[str, Any]] = Field(default_factory=list, description="check-screen edits: time, operator, action, page …")

    @model_validator(mode="after")
    def _seqs_once(self) -> BatchManifest:
        seen: set[int] = set()
        for p in self.pages:
            if p.seq in seen:
                raise ValueError(f"page seq {p.seq} is listed twice")
            seen.add(p.seq)
        return self




def _page_label(raw: Any) -> Any:
    def label(loc: tuple[Any, ...]) -> str | None:
        if len(loc) >= 2 and loc[0] == "pages" and isinstance(loc[1], int) and isinstance(raw, dict):
            pages = raw.get("pages")
            if isinstance(pages, list) and loc[1] < len(pages) and isinstance(pages[loc[1]], dict):
                p = pages[loc[1]]
                name = p.get("file") if isinstance(p.get("file"), str) else None
                seq = p.get("seq")
                return f"page {seq}" + (f" ({name})" if name else "") if isinstance(seq, int) else f"page #{loc[1] + 1}"
            return f"page #{loc[1] + 1}"
        if len(loc) >= 2 and loc[0] == "documents" and isinstance(loc[1], int):
            return f"documents #{loc[1] + 1}"
        return None

    return label


def parse_batch_bytes(data: bytes, name: str) -> tuple[BatchManifest, dict[str, Any]]:
    """Validate batch.json's bytes: the model and the raw dict (kept for the writer's round trip)."""
    hint = "restore batch.json (or rescan the batch); see docs/schemas/batch.schema.json"
    raw = decode_json_object(data, name, "a batch manifest", hint)
    if raw.get("format") != BATCH_FORMAT and "format" in raw:
        raise InputFileError(f"{name}: format {raw.get('format')!r} is not {BATCH_FORMAT}", hint="read it with the dossier-station version that wrote it")
    try:
        return BatchManifest.model_validate(raw), raw
    except ValidationError as exc:
        raise_for(exc, BatchManifest, InputFileError, source=name, label=_page_label(raw), hint=hint)


def read_batch_manifest(folder: Path) -> tuple[BatchManifest, dict[str, Any]]:
    """Read ``<folder>/batch.json``; a missing, unreadable or invalid one is an InputFileError."""
    path = Path(folder) / "batch.json"
    data = read_bounded(
        path, MAX_MANIFEST_BYTES, "a batch manifest",
        missing=f"{folder}: no batch.json — not a batch folder", missing_hint="start a batch with: dossier scan --batch DIR",
    )
    return parse_batch_bytes(data, str(path))
