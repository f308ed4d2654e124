"""Is a PDF on disk whole? Reopen it and check what a truncated or half-written file lacks.

Used as the ``verify`` step of :class:`dossier_station.core.files.AtomicOutput` for every PDF the
station writes (volumes, signed files, separator sheets), so no broken PDF is ever put in place.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

from dossier_station.core.errors import OutputError


def check_pdf(path: Path, *, pages: int | None = None, what: str = "PDF") -> None:
    """Raise :class:`OutputError` unless ``path`` opens, ends with ``%%EOF`` and has ``pages`` pages."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(max(0, size - 1024))
            tail = f.read()
        if b"%%EOF" not in tail or b"startxref" not in tail:
            raise OutputError(f"{path}: the {what} was cut short while writing", hint="check free disk space; nothing was replaced")
        with pikepdf.open(path) as pdf:
            n = len(pdf.pages)
            if pdf.trailer.get("/Root") is None:
                raise OutputError(f"{path}: the {what} has no document catalogue", hint="this is a bug; please report it")
    except pikepdf.PdfError as exc:
        raise OutputError(f"{path}: the {what} written is not readable ({exc})", hint="check the disk; nothing was replaced") from None
    if pages is not None and n != pages:
        raise OutputError(f"{path}: the {what} has {n} pages, {pages} were written", hint="check the disk; nothing was replaced")


def pdf_verifier(pages: int | None = None, what: str = "PDF"):  # type: ignore[no-untyped-def]
    """A ``verify`` callable for AtomicOutput."""
    return lambda p: check_pdf(p, pages=pages, what=what)
