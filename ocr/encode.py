"""Encode a page image for the PDF without needless loss.

JPEG scans are passed through byte for byte (the PDF then holds the very stream that was
captured, whose hash the report records). Bilevel pages become CCITT G4, lossless and small;
other rasters are Flate-compressed, lossless. Deskew and quarter turns never touch pixels: the
writer places the image with a transformation matrix.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin

from dossier_station.core.model import EncodedImage

# Saturated pixels (red seals, red headers, photos) above this share make a page "colour".
COLOUR_PIXEL_SHARE = 0.0008


def colour_class(im: Image.Image) -> str:
    """'bilevel', 'gray' or 'color' — what DA/T 31-2017 §9.3 asks us to keep."""
    if im.mode == "1":
        return "bilevel"
    if im.mode in ("L", "LA", "I", "I;16"):
        return "gray"
    rgb = np.asarray(im.convert("RGB").reduce(4))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    saturated = (hsv[..., 1] > 90) & (hsv[..., 2] > 60)
    return "color" if saturated.mean() > COLOUR_PIXEL_SHARE else "gray"


def _g4(im: Image.Image, out: Path) -> EncodedImage:
    buf = io.BytesIO()
    im.save(buf, "TIFF", compression="group4", strip_size=2**30)
    tiff = Image.open(io.BytesIO(buf.getvalue()))
    assert isinstance(tiff, TiffImagePlugin.TiffImageFile)
    (offset,), (length,) = tiff.tag_v2[273], tiff.tag_v2[279]
    photometric = tiff.tag_v2.get(262, 0)
    out.write_bytes(buf.getvalue()[offset : offset + length])
    return EncodedImage(
        data_path=out,
        filter="/CCITTFaxDecode",
        width=im.width,
        height=im.height,
        colorspace="/DeviceGray",
        bits=1,
        # TIFF photometric 1 (BlackIsZero) stores white as 1 bits, as PDF's BlackIs1 = true.
        decode_parms={"/K": -1, "/Columns": im.width, "/Rows": im.height, "/BlackIs1": photometric == 1},
    )


def encode_page_image(im: Image.Image, jpeg_bytes: bytes | None, jpeg_path: Path | None, work_stem: Path) -> EncodedImage:
    """Choose the lossless-where-possible encoding; write it beside ``work_stem`` if needed."""
    if jpeg_bytes is not None and im.mode in ("L", "RGB"):
        if jpeg_path is None:
            jpeg_path = work_stem.with_suffix(".jpg")
            jpeg_path.write_bytes(jpeg_bytes)
        return _eight_bit(jpeg_path, "/DCTDecode", im)
    if im.mode == "1":
        return _g4(im, work_stem.with_suffix(".g4"))
    if im.mode not in ("L", "RGB"):
        im = im.convert("L" if im.mode in ("LA", "I", "I;16", "F") else "RGB")
    out = work_stem.with_suffix(".flate")
    out.write_bytes(zlib.compress(im.tobytes(), 6))
    return _eight_bit(out, "/FlateDecode", im)


def _eight_bit(path: Path, pdf_filter: str, im: Image.Image) -> EncodedImage:
    colorspace = "/DeviceRGB" if im.mode == "RGB" else "/DeviceGray"
    return EncodedImage(data_path=path, filter=pdf_filter, width=im.width, height=im.height, colorspace=colorspace, bits=8)


def binarize(gray: np.ndarray) -> np.ndarray:
    """Black text on white, for compact output: background-normalised Otsu, specks removed.

    Dividing by a smoothed background (a dilation at 1/8 size, so text does not count as
    background) evens out shading and paper tone before one global threshold. Stains and
    holes of the original stay (DA/T 31 原貌); isolated scanner specks under 6 px go.
    """
    norm = cv2.medianBlur(paper_normalised(gray), 3)
    _, binary = cv2.threshold(norm, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(255 - binary, connectivity=8)
    speck = stats[:, cv2.CC_STAT_AREA] < 6
    speck[0] = False
    if speck.any():
        binary[speck[labels]] = 255  # a lookup per pixel: linear, unlike np.isin over labels
    return binary


def paper_normalised(gray: np.ndarray) -> np.ndarray:
    """The page divided by its paper tone (a dilation at 1/8 size): paper → 255, ink stays dark."""
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    background = cv2.medianBlur(cv2.dilate(small, np.ones((5, 5), np.uint8)), 9)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    # uint8 in, uint8 out (saturating): no float copy of a 35-Mpx page
    return cv2.divide(gray, np.maximum(background, 1), scale=255)


COMPACT_JPEG_QUALITY = 60


def encode_compact(im: Image.Image, colour: str, work_stem: Path) -> EncodedImage:
    """Small output (DA/T 31 §9.3 allows bitonal for black-on-white text): grey → G4,
    colour → denoised JPEG at moderate quality (red stays red), bilevel → G4."""
    if colour == "color":
        rgb = cv2.medianBlur(np.asarray(im.convert("RGB")), 3)
        out = work_stem.with_suffix(".jpg")
        Image.fromarray(rgb).save(out, "JPEG", quality=COMPACT_JPEG_QUALITY, optimize=True)
        return EncodedImage(out, "/DCTDecode", im.width, im.height, "/DeviceRGB", 8)
    if im.mode != "1":
        im = Image.fromarray(binarize(np.asarray(im.convert("L")))).convert("1")
    return _g4(im, work_stem.with_suffix(".g4"))
