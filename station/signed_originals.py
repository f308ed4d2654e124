"""Signed documents among a dossier's inputs keep their legal force inside the volume.

A transcript signed in the interrogation room (or any PDF carrying a signature) that becomes a
document of the dossier has its pages laid into the volume like any other document — but those
pages are a copy, and a copy carries no signature. So the signed original itself, byte for byte,
is embedded in every volume that holds its pages, as a PDF/A-3 associated file
(AFRelationship /Source), before the volume is sealed; ``dossier verify`` then checks the
original's own signatures as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pikepdf

from dossier_station.core.files import sha256_file
from dossier_station.core.model import Attachment

PREFIX = "signed-original-"


def _signature_fields(fields: Iterable[Any], depth: int = 0) -> bool:
    for field in fields:
        if depth < 8 and "/Kids" in field and _signature_fields(field.Kids, depth + 1):
            return True
        if field.get("/FT") == pikepdf.Name.Sig and "/V" in field:
            return True
    return False


def is_signed_pdf(path: Path) -> bool:
    """True when the PDF has a filled signature field (a signature, not an empty slot)."""
    if path.suffix.lower() != ".pdf":
        return False
    try:
        with pikepdf.open(path) as pdf:
            form = pdf.Root.get("/AcroForm")
            return form is not None and "/Fields" in form and _signature_fields(form.Fields)
    except (pikepdf.PdfError, OSError, ValueError):
        return False  # the loader has already said what is wrong with an unreadable input


def signed_originals(sources: Sequence[Any]) -> dict[str, Attachment]:
    """One attachment per signed input file, keyed by the file's path as the page specs name it."""
    found: dict[str, Attachment] = {}
    for src in sources:
        path = Path(src.path)
        key = str(path)
        if key in found or not is_signed_pdf(path):
            continue
        data = path.read_bytes()
        expected = getattr(src, "sha256", None)
        if expected and sha256_file(path) != expected:
            continue  # changed since it was hashed: the build's own check reports it
        name = f"{PREFIX}{len(found) + 1:02d}-{path.name}"
        found[key] = Attachment(name, data, "application/pdf", f"签名原件 signed original of {path.name}", "/Source")
    return found


def for_volume(originals: dict[str, Attachment], volume: Sequence[tuple[Any, Sequence[Any]]]) -> list[Attachment]:
    """The signed originals whose pages lie in this volume (rows of (row, page specs))."""
    sources = {str(Path(spec.source)) for _, specs in volume for spec in specs if getattr(spec, "source", "")}
    return [att for key, att in originals.items() if key in sources]
