"""Raster appearances: the signer's mark and the unit seal drawn with Pillow into one image.

Why raster: a text appearance needs an embedded CJK font in every signed file (3–16 MB to
load, 250–600 ms a signature, and PDF/A traps — unembedded Courier, widths in the wrong
units, CIDSet), while one flattened RGB image has no font at all, cannot break PDF/A and costs
a few milliseconds. The image has no alpha channel (PDF/A-1 forbids soft masks), so it is
composited on white here.
"""

from __future__ import annotations

import io
import math
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from dossier_station.core.errors import MissingDependencyError

FONT_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),  # index 2 = SC
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)
SEAL_RED = (200, 16, 24)
INK = (16, 32, 74)
PX_PER_PT = 2.5  # 180 dpi: sharp enough on paper, small enough to embed fast


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    for path, index in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size, index=index)
    raise MissingDependencyError("no CJK font for the signature appearance",
                                 hint="apt-get install fonts-noto-cjk (or fonts-arphic-uming)")


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


def _fit(img: Image.Image, w: int, h: int) -> Image.Image:
    scale = min(w / img.width, h / img.height)
    return img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))), Image.Resampling.LANCZOS)


def signer_mark(size_pt: tuple[float, float], *, signature_png: bytes | None, fingerprint_png: bytes | None,
                lines: list[str]) -> Image.Image:
    """Handwriting left, fingerprint (red, as an inked print) beside it, name and time below."""
    w, h = (max(1, round(v * PX_PER_PT)) for v in size_pt)
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    text_h = max(8, h // 4) if lines else 0
    fsize = max(6, int(text_h / max(1, len(lines)) * 0.85)) if lines else 0
    art_h = h - text_h
    fp_w = art_h * 0.8 if fingerprint_png else 0
    if signature_png:
        sig = _fit(_flatten(Image.open(io.BytesIO(signature_png))), int(w - fp_w - 4), art_h - 2)
        img.paste(sig, (2, (art_h - sig.height) // 2))
    if fingerprint_png:
        grey = Image.open(io.BytesIO(fingerprint_png)).convert("L")
        fp = _fit(grey, int(fp_w) - 2, art_h - 2)
        # ridges (dark) become red ink; valleys stay paper-white
        red = Image.new("RGB", fp.size, (190, 20, 30))
        mask = fp.point(lambda v: 255 - v)
        img.paste(red, (int(w - fp_w), (art_h - fp.height) // 2), mask)
    for i, line in enumerate(lines):
        draw.text((3, art_h + i * (text_h // max(1, len(lines)))), line, fill=INK, font=font(fsize))
    return img


def _arc_text(img: Image.Image, text: str, center: tuple[float, float], radius: float, size: int) -> None:
    """Characters upright along the top arc of the seal, as on a 公章."""
    if not text:
        return
    span = min(240.0, 22.0 * len(text))
    for i, ch in enumerate(text):
        angle = -90 - span / 2 + span * (i + 0.5) / len(text)
        tile = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(tile).text((size // 2, size // 2), ch, fill=255, font=font(size))
        tile = tile.rotate(-(angle + 90), resample=Image.Resampling.BICUBIC)
        x = center[0] + radius * math.cos(math.radians(angle)) - size
        y = center[1] + radius * math.sin(math.radians(angle)) - size
        img.paste(Image.new("RGB", tile.size, SEAL_RED), (int(x), int(y)), tile)


@cache
def seal_image(unit: str, size_px: int = 240, caption: str = "") -> Image.Image:
    """A round red unit seal (ring, star, unit name on the arc, caption under the star)."""
    img = Image.new("RGB", (size_px, size_px), (255, 255, 255))
    d = ImageDraw.Draw(img)
    c = size_px / 2
    ring = max(3, size_px // 40)
    d.ellipse([ring, ring, size_px - ring, size_px - ring], outline=SEAL_RED, width=ring)
    r_out, r_in = size_px * 0.14, size_px * 0.055
    pts = [(c + (r_out if k % 2 == 0 else r_in) * math.cos(math.radians(-90 + 36 * k)),
            c + (r_out if k % 2 == 0 else r_in) * math.sin(math.radians(-90 + 36 * k))) for k in range(10)]
    d.polygon(pts, fill=SEAL_RED)
    _arc_text(img, unit, (c, c), size_px * 0.34, max(8, size_px // 9))
    if caption:
        f = font(max(7, size_px // 14))
        tw = d.textlength(caption, font=f)
        d.text((c - tw / 2, c + size_px * 0.2), caption, fill=SEAL_RED, font=f)
    return img


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def stamp_style(img: Image.Image):  # type: ignore[no-untyped-def]
    """A pyHanko stamp style that paints just this image, opaque, edge to edge (public API only)."""
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.stamp import StaticStampStyle

    return StaticStampStyle(
        background=PdfImage(_flatten(img)), background_opacity=1.0, border_width=0,
        background_layout=layout.SimpleBoxLayoutRule(x_align=layout.AxisAlignment.ALIGN_MID,
                                                     y_align=layout.AxisAlignment.ALIGN_MID,
                                                     margins=layout.Margins.uniform(0)))
