"""The transcript as it will be signed: the signer's mark on the pages, the escrow blob attached.

Both change the document, so both happen *before* the one PAdES signature (an attachment or
page content added after a signature is, rightly, an illegal modification to a validator).
The prepared file is written by pikepdf as a whole new file — the transcript is unsigned at
this point — and its PDF/A claim moves from 2 to 3 when a file is attached (PDF/A-2 allows
only PDF/A attachments; PDF/A-3 allows any, as associated files).
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from datetime import datetime

import pikepdf
from PIL import Image

from dossier_station.core.errors import EncryptedPdfError, InputFileError
from dossier_station.signing.pades import pdfa_claim


@dataclass(frozen=True)
class Mark:
    """The signer's mark image at ``box`` (x1, y1, x2, y2 in pt) on page ``page`` (0-based)."""

    page: int
    box: tuple[float, float, float, float]


def foot_box(mediabox: list[float], w: float = 170.0, h: float = 56.0, margin: float = 36.0) -> tuple[float, float, float, float]:
    """Bottom right, above the page-number line: where a 笔录 page is signed and fingerprinted."""
    x1, y1, x2, _ = (float(v) for v in mediabox)
    return (x2 - margin - w, y1 + margin + 18, x2 - margin, y1 + margin + 18 + h)


def page_boxes(data: bytes) -> list[list[float]]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [[float(v) for v in page.mediabox] for page in pdf.pages]


def _image_xobject(pdf: pikepdf.Pdf, img: Image.Image) -> pikepdf.Stream:
    rgb = img.convert("RGB")
    stream = pikepdf.Stream(pdf, zlib.compress(rgb.tobytes(), 6))
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height = rgb.width, rgb.height
    stream.ColorSpace, stream.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    stream.Filter = pikepdf.Name.FlateDecode
    return stream


def prepare(data: bytes, *, marks: list[Mark], mark_image: Image.Image | None,
            attachment: tuple[str, bytes, str, str] | None, when: datetime) -> bytes:
    """Return the prepared PDF: marks drawn, ``attachment`` (name, data, mime, description) embedded."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise EncryptedPdfError("the transcript is password-protected", hint="sign the unencrypted original") from None
    except pikepdf.PdfError as exc:
        raise InputFileError(f"the transcript is not a readable PDF ({exc})", hint="check the file") from None
    with pdf:
        if "/AcroForm" in pdf.Root and any(f.get("/FT") == "/Sig" and "/V" in f for f in pdf.Root.AcroForm.get("/Fields", [])):
            raise InputFileError("the transcript is already signed: marks and the biometric envelope would break that signature",
                               hint="run the ceremony on the unsigned transcript; further signers use `dossier sign --pkcs12/--key`")
        if marks and mark_image is not None:
            xobj = pdf.make_indirect(_image_xobject(pdf, mark_image))
            for m in marks:
                page = pdf.pages[m.page]
                name = page.add_resource(xobj, pikepdf.Name.XObject, prefix="DsMark")
                x1, y1, x2, y2 = m.box
                page.contents_add(pikepdf.Stream(pdf, b"q"), prepend=True)
                page.contents_add(pikepdf.Stream(
                    pdf, f"Q q {x2 - x1:.2f} 0 0 {y2 - y1:.2f} {x1:.2f} {y1:.2f} cm {name} Do Q".encode()))
        claim = pdfa_claim(pdf)
        if attachment is not None:
            name, blob, mime, description = attachment
            stamp = pikepdf.String(when.strftime("D:%Y%m%d%H%M%S") + _tz(when))
            spec = pikepdf.AttachedFileSpec(pdf, blob, description=description, filename=name, mime_type=mime,
                                            creation_date=stamp.__str__(), mod_date=stamp.__str__(),
                                            relationship=pikepdf.Name.Data)
            pdf.attachments[name] = spec
            af = pdf.Root.get("/AF", pikepdf.Array())
            af.append(spec.obj)
            pdf.Root.AF = af
            if claim and not claim.startswith("3"):
                with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
                    meta["pdfaid:part"] = "3"
        out = io.BytesIO()
        pdf.save(out, fix_metadata_version=False, deterministic_id=True)
        return out.getvalue()


def _tz(when: datetime) -> str:
    off = when.utcoffset()
    if off is None:
        return "Z"
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
