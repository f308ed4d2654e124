"""Born-digital PDF pages placed in a volume as they are: a Form XObject, not a raster.

A page with real text of its own (a 起诉书 from the case system, a signed transcript) goes
into the dossier the way OCRmyPDF's ``--skip-text`` keeps it: its content stream, fonts and
vectors are imported (``Page.as_form_xobject`` + ``copy_foreign``), so its text is its own —
no OCR text layer over it — and nothing is rasterised.

A volume is PDF/A, and a page made elsewhere can break that (fonts not embedded, transparency
in PDF/A-1, optional content, DeviceCMYK against our sRGB intent, an encrypted source …).
So each page is first tried alone: the form is placed on a one-page probe carrying the
volume's OutputIntent and XMP, and pikepdf's allowlist PDF/A validator (``pikepdf.pdfa.check``,
no file written) must approve it at the volume's level. A page it refuses goes in as the page
stage's raster plus its own text, and the reason goes to the build report.

What a printout of the source shows stays: annotations marked to print that have an
appearance (a visible signature, a stamp) are flattened into the page first, as the raster
fallback would show them. The rest is left out — invisible signature fields, links, JavaScript
actions: they are not part of what the page shows, and a signed original is attached to the
volume as it is.
Each source file is copied into the work folder while its hash is checked (the bytes imported
are the bytes hashed) and opened once per volume, so pages of one file share its fonts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pikepdf

from dossier_station.core.errors import InputFileError
from dossier_station.core.files import TMP_SUFFIX, HashMismatchError, copy_hashed, discard
from dossier_station.core.model import ImportedPage

FORM_NAME = "/Fm0"  # the imported page's resource name on a dossier page (images are /Im0)
MAX_REASONS = 3
MAX_VERDICTS = 10_000
# (sha256, page, level) → refusal or None: the build's report and its writer ask the same
# question of the same bytes, and get the same answer without a second probe
_VERDICTS: dict[tuple[str, int, str], str | None] = {}


def _level(level: str) -> str:
    return "1b" if level == "1b" else "2b"  # PDF/A-3 differs from 2 in attachments only, not in page content


class SourcePdfs:
    """The born-digital source files of one volume, each hash-checked, copied and opened once."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = Path(scratch)
        self._pdfs: dict[str, pikepdf.Pdf] = {}
        self._copies: list[Path] = []
        self._forms: dict[tuple[str, int], pikepdf.Object] = {}
        self._unflattened: dict[str, str] = {}

    def __enter__(self) -> SourcePdfs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for pdf in self._pdfs.values():
            pdf.close()
        self._pdfs.clear()
        self._forms.clear()
        for copy in self._copies:
            discard(copy)
        self._copies.clear()

    def _open(self, imp: ImportedPage, fallback: str = "") -> pikepdf.Pdf:
        if imp.sha256 in self._pdfs:
            return self._pdfs[imp.sha256]
        # the page stage's path; on the worker pool that was the worker's, the spec's source is ours
        candidates = [Path(imp.path), *([Path(fallback)] if fallback else [])]
        path = next((p for p in candidates if p.is_file()), candidates[0])
        # unique to this object (two builds in one process never share a copy); named as the
        # station's temporaries are, so a killed build's copy is cleared by the next one
        copy = self.scratch / f".import-{imp.sha256[:16]}-{id(self):x}.{os.getpid()}{TMP_SUFFIX}"
        try:
            copy_hashed(path, copy, imp.sha256)
        except HashMismatchError:
            raise InputFileError(
                f"{path}: the file changed during the build (its SHA-256 is no longer the one recorded)",
                hint="leave the input pages alone while a build runs, then build again",
            ) from None
        except OSError as exc:
            raise InputFileError(f"{path}: cannot be read to import its pages ({exc.strerror or exc})", hint="check the file, then build again") from None
        self._copies.append(copy)
        try:
            pdf = pikepdf.open(copy)
        except Exception as exc:  # noqa: BLE001 - it opened at the page stage; anything now is the file's fault
            raise InputFileError(f"{path}: the PDF cannot be opened to import its pages ({exc})", hint="obtain an intact copy of the file") from None
        try:
            pdf.flatten_annotations("print")  # what a printout shows (a visible signature, a stamp) stays
        except Exception as exc:  # noqa: BLE001 - the page cannot be shown as printed: raster instead
            self._unflattened[imp.sha256] = f"its annotations cannot be flattened into the page ({type(exc).__name__}: {exc})"
        self._pdfs[imp.sha256] = pdf
        return pdf

    def _form(self, imp: ImportedPage, fallback: str = "") -> pikepdf.Object:
        """The page as a Form XObject in its own file (made once), clipped to its displayed box."""
        key = (imp.sha256, imp.index)
        if key not in self._forms:
            pdf = self._open(imp, fallback)
            form = pdf.pages[imp.index].as_form_xobject(handle_transformations=False)
            form.BBox = pikepdf.Array(imp.bbox)
            form.Matrix = pikepdf.Array([1, 0, 0, 1, 0, 0])
            for name in ("/Metadata", "/PieceInfo", "/StructParents"):
                if name in form:
                    del form[name]
            self._forms[key] = pdf.make_indirect(form)
        return self._forms[key]

    def refusal(self, imp: ImportedPage, level: str, fallback: str = "") -> str | None:
        """Why the page cannot go into a PDF/A-``level`` volume as it is, or None when it can."""
        level = _level(level)
        key = (imp.sha256, imp.index, level)
        if key not in _VERDICTS:
            if len(_VERDICTS) >= MAX_VERDICTS:  # a long-running station (UI, hot folders): stay bounded
                _VERDICTS.clear()
            _VERDICTS[key] = self._probe(imp, level, fallback)
        return _VERDICTS[key]

    def _probe(self, imp: ImportedPage, level: str, fallback: str) -> str | None:
        from pikepdf.pdfa import check

        from dossier_station.assemble.pdfa import add_output_intent, set_identity

        pdf = self._open(imp, fallback)
        if imp.sha256 in self._unflattened:
            return self._unflattened[imp.sha256]
        if pdf.is_encrypted:
            return "the PDF is encrypted (its author restricted it); a copy of its pages may not be allowed"
        if imp.index >= len(pdf.pages):
            return f"the PDF has no page {imp.index + 1}"
        probe = pikepdf.new()
        try:
            optional = _optional_content(pdf.pages[imp.index])
            if optional:
                return optional
            form = probe.copy_foreign(self._form(imp, fallback))
            width, height = page_size(imp)
            probe.pages.append(dossier_page(probe, imp, form, width, height, b""))
            add_output_intent(probe, level)
            set_identity(probe, level, "probe", "dossier-station", "", [])
            report = check(probe, level)
        except Exception as exc:  # noqa: BLE001 - a construct the importer cannot copy: raster instead
            return f"the page cannot be copied as it is ({type(exc).__name__}: {exc})"
        finally:
            probe.close()
        if report.passed:
            return None
        reasons = []
        for f in report.findings:
            said = f"{f.message} ({f.rule})"
            if said not in reasons:
                reasons.append(said)
        more = f"; and {len(reasons) - MAX_REASONS} more" if len(reasons) > MAX_REASONS else ""
        return f"PDF/A-{level} would not hold it as it is: " + "; ".join(reasons[:MAX_REASONS]) + more

    def place(self, dest: pikepdf.Pdf, imp: ImportedPage, fallback: str = "") -> pikepdf.Object:
        """The page's form copied into ``dest`` (resources shared by pages of one source)."""
        return dest.copy_foreign(self._form(imp, fallback))


def page_size(imp: ImportedPage) -> tuple[float, float]:
    """The displayed size (pt) of the box once placed by the matrix."""
    a, b, c, d, e, f = imp.matrix
    x0, y0, x1, y1 = imp.bbox
    xs = [a * x + c * y + e for x in (x0, x1) for y in (y0, y1)]
    ys = [b * x + d * y + f for x in (x0, x1) for y in (y0, y1)]
    return round(max(xs) - min(xs), 3), round(max(ys) - min(ys), 3)


def placing_ops(imp: ImportedPage) -> str:
    a, b, c, d, e, f = imp.matrix
    return f"q {a:.6f} {b:.6f} {c:.6f} {d:.6f} {e:.4f} {f:.4f} cm {FORM_NAME} Do Q"


def dossier_page(pdf: pikepdf.Pdf, imp: ImportedPage, form: pikepdf.Object, width: float, height: float, extra: bytes) -> pikepdf.Page:
    """A page showing the imported form (and ``extra`` content over it, e.g. a page number)."""
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, round(width, 3), round(height, 3)],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary({FORM_NAME: form})),
        Contents=pikepdf.Stream(pdf, placing_ops(imp).encode("ascii") + (b"\n" + extra if extra else b"")),
    )
    return pikepdf.Page(pdf.make_indirect(page))


def _optional_content(page: pikepdf.Page) -> str | None:
    """Optional content (layers) refers to the source's /OCProperties, which is not imported:
    the page could not show as it did, and PDF/A-1 forbids it anyway."""
    seen: set[tuple[int, int]] = set()
    stack: list[pikepdf.Object] = [page.obj.get("/Resources", pikepdf.Dictionary())]
    while stack:
        obj = stack.pop()
        if not isinstance(obj, pikepdf.Object):  # numbers, booleans: nothing below them
            continue
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
            if obj.get("/Type") in (pikepdf.Name.OCG, pikepdf.Name.OCMD) or "/OC" in obj:
                return "it uses optional content (layers), which the volume cannot carry as the source showed it"
            stack.extend(v for k, v in obj.items() if k not in ("/Parent", "/P"))
        elif isinstance(obj, pikepdf.Array):
            stack.extend(obj)
        if len(seen) > 20000:
            break
    return None
