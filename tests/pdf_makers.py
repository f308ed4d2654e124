"""Scanned-PDF shapes that real scanners and scanning software write, made here for the tests.

No Debian package encodes JBIG2, so ``jbig2_generic_mmr`` writes the simplest valid JBIG2
embedded stream itself: a page-information segment, one immediate lossless generic region
coded with MMR (which is ITU T.6, i.e. CCITT G4 — produced by libtiff through Pillow) and an
end-of-page segment. pdfium and jbig2dec (``jbig2dec -e``) both decode it.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image


def _g4(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "TIFF", compression="group4", strip_size=2**30)
    tiff = Image.open(io.BytesIO(buf.getvalue()))
    (offset,), (length,) = tiff.tag_v2[273], tiff.tag_v2[279]
    return buf.getvalue()[offset : offset + length]


def _segment(number: int, kind: int, data: bytes, page: int = 1) -> bytes:
    # number, flags (type; 1-byte page association), referred-to segments (none), page, length
    return struct.pack(">IBBBI", number, kind, 0, page, len(data)) + data


def jbig2_generic_mmr(bilevel: Image.Image) -> bytes:
    """A JBIG2 embedded stream (PDF /JBIG2Decode) of a bilevel image, black = ink."""
    w, h = bilevel.size
    # JBIG2 codes ink as 1; Pillow's G4 of a mode-"1" image codes white as 1: code the negative.
    negative = Image.fromarray(255 - np.asarray(bilevel.convert("L"))).convert("1")
    page_info = struct.pack(">IIIIBH", w, h, 0, 0, 0, 0)
    region = struct.pack(">IIIIB", w, h, 0, 0, 0) + bytes([1]) + _g4(negative)  # generic flags: MMR
    return _segment(0, 48, page_info) + _segment(1, 38, region) + _segment(2, 49, b"")


def _image(pdf: pikepdf.Pdf, data: bytes, w: int, h: int, filt: str, colorspace: str = "/DeviceGray", bits: int = 8) -> pikepdf.Stream:
    st = pikepdf.Stream(pdf, data)
    st.Type, st.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    st.Width, st.Height, st.BitsPerComponent = w, h, bits
    st.ColorSpace = pikepdf.Name(colorspace)
    st.Filter = pikepdf.Name(filt)
    return st


def _page(pdf: pikepdf.Pdf, size: tuple[float, float], images: dict[str, pikepdf.Stream], content: bytes) -> pikepdf.Page:
    pdf.add_blank_page(page_size=size)
    page = pdf.pages[-1]
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({f"/{k}": v for k, v in images.items()}))
    page.Contents = pikepdf.Stream(pdf, content)
    return page


def jbig2_pdf(bilevel: Image.Image, out: Path, dpi: float = 300.0) -> Path:
    w, h = bilevel.size
    wp, hp = w * 72 / dpi, h * 72 / dpi
    pdf = pikepdf.new()
    _page(pdf, (wp, hp), {"Im0": _image(pdf, jbig2_generic_mmr(bilevel), w, h, "/JBIG2Decode", bits=1)}, f"q {wp:.3f} 0 0 {hp:.3f} 0 0 cm /Im0 Do Q".encode())
    pdf.save(out)
    return out


def oversized_pdf(out: Path, side: int = 35000) -> Path:
    """A page whose one bilevel image claims side×side px (the data is a small JBIG2 page)."""
    pdf = pikepdf.new()
    small = jbig2_generic_mmr(Image.new("1", (64, 64), 1))
    _page(pdf, (595, 842), {"Im0": _image(pdf, small, side, side, "/JBIG2Decode", bits=1)}, b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    pdf.save(out)
    return out


def strips_pdf(page: Image.Image, out: Path, strips: int = 4, dpi: float = 300.0) -> Path:
    """A page built of horizontal JPEG strips, as banded scanner output is."""
    grey = page.convert("L")
    w, h = grey.size
    wp, hp = w * 72 / dpi, h * 72 / dpi
    pdf = pikepdf.new()
    images, content = {}, []
    bounds = np.linspace(0, h, strips + 1).astype(int)
    for i in range(strips):
        top, bottom = int(bounds[i]), int(bounds[i + 1])
        buf = io.BytesIO()
        grey.crop((0, top, w, bottom)).save(buf, "JPEG", quality=90)
        images[f"S{i}"] = _image(pdf, buf.getvalue(), w, bottom - top, "/DCTDecode")
        y = (h - bottom) * 72 / dpi
        content.append(f"q {wp:.3f} 0 0 {(bottom - top) * 72 / dpi:.3f} 0 {y:.3f} cm /S{i} Do Q")
    _page(pdf, (wp, hp), images, "\n".join(content).encode())
    pdf.save(out)
    return out


def rotated_pdf(page: Image.Image, out: Path, rotate: int = 90, dpi: float = 300.0) -> Path:
    """A JPEG page shown turned by /Rotate (the viewer, and we, display it turned)."""
    grey = page.convert("L")
    w, h = grey.size
    wp, hp = w * 72 / dpi, h * 72 / dpi
    buf = io.BytesIO()
    grey.save(buf, "JPEG", quality=90)
    pdf = pikepdf.new()
    pg = _page(pdf, (wp, hp), {"Im0": _image(pdf, buf.getvalue(), w, h, "/DCTDecode")}, f"q {wp:.3f} 0 0 {hp:.3f} 0 0 cm /Im0 Do Q".encode())
    pg.Rotate = rotate
    pdf.save(out)
    return out


def broken_jbig2_pdf(out: Path) -> Path:
    pdf = pikepdf.new()
    _page(pdf, (595, 842), {"Im0": _image(pdf, b"\x00\x00\x00\x00\x30garbage" * 8, 2480, 3508, "/JBIG2Decode", bits=1)}, b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    pdf.save(out)
    return out


def born_digital_pdf(out: Path, lines: list[str]) -> Path:
    """A text PDF as a case system writes it (Helvetica, one of the standard 14 fonts)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0]
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica))
    page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    ops = [f"BT /F1 16 Tf 72 {760 - 30 * i} Td ({t}) Tj ET" for i, t in enumerate(lines)]
    ops.append("0 0 1 rg 72 300 200 100 re f")  # vector content that must not be lost
    page.Contents = pikepdf.Stream(pdf, "\n".join(ops).encode())
    pdf.save(out)
    return out
