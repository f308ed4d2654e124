"""The signature capture package's ``manifest.json`` (``dossier-signature-capture/1``), typed.

docs/capture-package.md promises readers two things: refuse a major version they do not know,
and accept additive changes (new optional keys) within ``/1``. So the model is strict on the
types of the keys it knows — a part without a SHA-256, a byte count of ``true``, a file name
that climbs out of the package — and lets unknown *optional* keys through, unlike the files a
person types (case file, profile), where an unknown key is a typo. :func:`read_capture_package`
also checks that every part on disk has the size and hash its manifest names.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from dossier_station.core.errors import InputFileError
from dossier_station.core.formats.reading import decode_json_object
from dossier_station.core.formats.validation import STRICT, raise_for

PACKAGE_FORMAT = "dossier-signature-capture/1"
REQUIRED_ROLES = ("signature-samples", "signature-raw-stream", "signature-image", "fingerprint-image")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

# strict types, frozen, but additive keys of a later /1 writer are kept, not refused
OPEN = ConfigDict(**{**STRICT, "extra": "allow"})


def _part_name(value: str) -> str:
    if not value or "/" in value or "\\" in value or value in (".", "..") or "\0" in value or value == "manifest.json":
        raise ValueError("must be a file name inside the package (no folders)")
    return value


def _sha256(value: str) -> str:
    if not _HEX64.match(value):
        raise ValueError("is not a SHA-256 (64 lower-case hex digits)")
    return value


class Part(BaseModel):
    model_config = OPEN

    role: str = Field(min_length=1)
    media_type: str = Field(min_length=1)
    file: Annotated[str, AfterValidator(_part_name)]
    bytes: int = Field(ge=0)
    sha256: Annotated[str, AfterValidator(_sha256)]


class SignatureSummary(BaseModel):
    model_config = OPEN

    start_utc: str
    samples: int = Field(ge=0)
    ink_samples: int = Field(ge=0)
    strokes: int = Field(ge=0)
    ink_length_mm: float = Field(ge=0)
    flags: list[str] = Field(default_factory=list)


class FingerprintSummary(BaseModel):
    model_config = OPEN

    time_utc: str


class Attempts(BaseModel):
    model_config = OPEN

    signature: int = Field(ge=1)
    fingerprint: int = Field(ge=1)


class CaptureManifest(BaseModel):
    """manifest.json of a signature capture package."""

    model_config = OPEN

    format: Literal["dossier-signature-capture/1"]
    created: str
    station: str
    operator: str
    signer: str = Field(min_length=1)
    attempts: Attempts
    signature: SignatureSummary
    fingerprint: FingerprintSummary
    devices: dict[str, dict[str, Any]]
    parts: list[Part] = Field(min_length=1)

    def part(self, role: str) -> Part | None:
        return next((p for p in self.parts if p.role == role), None)


def parse_capture_manifest(data: bytes, name: str = "manifest.json") -> CaptureManifest:
    """Validate manifest.json bytes; a later major version is refused by name."""
    hint = "it is not a capture package written by dossier capture-signature (docs/capture-package.md)"
    raw = decode_json_object(data, name, "a manifest", hint)
    fmt = raw.get("format")
    if isinstance(fmt, str) and fmt.startswith("dossier-signature-capture/") and fmt != PACKAGE_FORMAT:
        raise InputFileError(f"{name}: format {fmt} is newer than this station reads ({PACKAGE_FORMAT})", hint="update dossier-station to read it")
    try:
        manifest = CaptureManifest.model_validate(raw)
    except ValidationError as exc:
        raise_for(exc, CaptureManifest, InputFileError, source=name, hint=hint)
    missing = [r for r in REQUIRED_ROLES if manifest.part(r) is None]
    if missing:
        raise InputFileError(f"{name}: no {missing[0]} part", hint="the package is incomplete: capture the signature again")
    return manifest


def read_capture_package(folder: Path) -> CaptureManifest:
    """A whole package: manifest valid, every part present with the size and SHA-256 it names."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if folder.name.endswith(".partial"):
        raise InputFileError(f"{folder}: an unfinished capture (.partial) is not a package", hint="capture the signature again")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise InputFileError(f"{folder}: no manifest.json — not a capture package (or an interrupted one)", hint="give the folder dossier capture-signature wrote") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read: {exc.strerror or exc}", hint="check the folder and its permissions") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise InputFileError(f"{path}: too large to be a capture manifest", hint="check the folder")
    manifest = parse_capture_manifest(data, str(path))
    for part in manifest.parts:
        f = folder / part.file
        try:
            body = f.read_bytes()
        except OSError:
            raise InputFileError(f"{f}: part {part.role} is missing or unreadable", hint="the package is damaged: restore it from its mirror") from None
        if len(body) != part.bytes or hashlib.sha256(body).hexdigest() != part.sha256:
            raise InputFileError(f"{f}: differs from its manifest (size or SHA-256)", hint="the package was changed after capture: restore it from its mirror")
    return manifest
