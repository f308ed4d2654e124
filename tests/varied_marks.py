"""The marks on a varied page that a typeface does not make: handwriting, signatures, photos, seals.

Handwriting is made from a font's glyphs, each one scaled, turned, sheared, elastically warped,
thickened or thinned, set on a drifting baseline in pen ink, so that it has a hand's
irregularity and not a typeface's. Photos are synthesised (gradients, fractal texture,
shapes): no text in them, but edges and regions a text detector may take for lines. A seal is
a ring, its owner's name along the upper arc and a star, patchily inked in red.
Only PIL, OpenCV and numpy (used by tests/varied_pages.py).
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (28, 28, 30)
PEN = (25, 40, 120)  # blue-black ballpoint
SEAL_RED = (214, 36, 44)


@cache
def font_file(family: str) -> tuple[str, int]:
    """(file, face index) of an installed family, by fontconfig (as assemble/fonts.py does)."""
    out = subprocess.run(["fc-match", "-f", "%{file}|%{index}", family], capture_output=True, text=True, check=True).stdout
    path, index = out.rsplit("|", 1)
    assert Path(path).is_file(), f"font {family!r} not installed (fonts-noto-cjk, fonts-arphic-uming)"
    return path, int(index)


def font(family: str, px: float) -> ImageFont.FreeTypeFont:
    path, index = font_file(family)
    return ImageFont.truetype(path, max(8, round(px)), index=index)


SERIF, SERIF_BOLD, SANS, SANS_BOLD, MING = "Noto Serif CJK SC", "Noto Serif CJK SC:bold", "Noto Sans CJK SC", "Noto Sans CJK SC:bold", "AR PL UMing CN"


# -- handwriting ------------------------------------------------------------------------------
def _glyph_mask(ch: str, px: int, family: str) -> np.ndarray:
    size = int(px * 1.6)
    im = Image.new("L", (size, size), 0)
    ImageDraw.Draw(im).text((size // 2, size // 2), ch, font=font(family, px), fill=255, anchor="mm")
    return np.asarray(im)


def _hand_glyph(ch: str, px: int, rng: np.random.Generator, family: str = SANS) -> np.ndarray:
    """One character as a hand writes it: scaled, turned, sheared, warped, its stroke varied."""
    g = _glyph_mask(ch, px, family).astype(np.float32)
    n = g.shape[0]
    c = n / 2
    m = cv2.getRotationMatrix2D((c, c), rng.uniform(-8, 8), rng.uniform(0.82, 1.12))
    m[:, :2] = m[:, :2] @ np.array([[1, rng.uniform(-0.18, 0.18)], [rng.uniform(-0.08, 0.08), 1]])
    m[:, 2] += c - m[:, :2] @ np.array([c, c])
    g = cv2.warpAffine(g, m, (n, n), flags=cv2.INTER_LINEAR)
    amp, sigma = px * 0.07, px / 5
    dx = cv2.GaussianBlur(rng.standard_normal((n, n)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.standard_normal((n, n)).astype(np.float32), (0, 0), sigma)
    dx *= amp / (np.abs(dx).max() + 1e-6)
    dy *= amp / (np.abs(dy).max() + 1e-6)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    g = cv2.remap(g, xx + dx, yy + dy, cv2.INTER_LINEAR)
    k = int(rng.choice((-1, 0, 0, 1)))  # the pen pressed a little harder or lighter
    if k:
        g = cv2.dilate(g, np.ones((3, 3), np.uint8)) if k > 0 else cv2.erode(g, np.ones((2, 2), np.uint8))
    pressure = cv2.GaussianBlur(rng.uniform(0.7, 1.0, (n, n)).astype(np.float32), (0, 0), px / 4)
    return np.clip(g / 255.0 * np.clip(pressure * 1.3, 0, 1), 0, 1)


def lay_ink(canvas: np.ndarray, alpha: np.ndarray, x: int, y: int, ink) -> None:
    """Lay ``alpha`` (0–1) of ``ink`` with its top-left at (x, y), darkening like real ink."""
    h, w = alpha.shape
    x0, y0, x1, y1 = max(0, x), max(0, y), min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = np.minimum(region, region * (1 - a) + np.array(ink, np.float32) * a).astype(np.uint8)


def handwrite(canvas: np.ndarray, x: int, y: int, text: str, px: int, rng: np.random.Generator, ink=PEN) -> int:
    """Write ``text`` from (x, y) (top of the line), baseline drifting; returns the x after it."""
    drift, slope = 0.0, rng.uniform(-0.025, 0.025)
    family = SANS if rng.random() < 0.75 else MING  # one hand (one source face) per line
    for i, ch in enumerate(text):
        drift += rng.normal(0, px * 0.03)
        drift *= 0.9
        if ch in " \u3000":
            x += px // 2
            continue
        g = _hand_glyph(ch, px, rng, family)
        off = g.shape[0] // 2 - px // 2
        lay_ink(canvas, g, x - off, int(y + drift + slope * i * px + rng.normal(0, px * 0.05)) - off, ink)
        x += int(px * (0.55 if ch in "，。、：；" else rng.uniform(0.86, 1.08)))
    return x


def scrawl(canvas: np.ndarray, x: int, y: int, width: int, height: int, rng: np.random.Generator, ink=PEN) -> None:
    """A signature: a fast looping stroke, a spline through jittered points, with a tail."""
    n = 14
    t = np.linspace(0, 1, n)
    pts = np.stack([x + t * width + rng.normal(0, width * 0.04, n), y + height / 2 + np.sin(t * rng.uniform(8, 14)) * height * 0.45 + rng.normal(0, height * 0.12, n)], 1)
    fine = np.linspace(0, n - 1, n * 24)
    curve = np.stack([np.interp(fine, np.arange(n), pts[:, 0]), np.interp(fine, np.arange(n), pts[:, 1])], 1)
    curve = cv2.GaussianBlur(curve.reshape(-1, 1, 2).astype(np.float32), (1, 0), 6).reshape(-1, 2) if len(curve) > 12 else curve
    mask = np.zeros(canvas.shape[:2], np.uint8)
    cv2.polylines(mask, [curve.astype(np.int32).reshape(-1, 1, 2)], False, 255, max(2, height // 18), cv2.LINE_AA)
    cv2.line(mask, tuple(curve[-1].astype(int)), (int(x + width * 1.15), int(y + height * 0.3)), 255, max(2, height // 22), cv2.LINE_AA)
    lay_ink(canvas, mask.astype(np.float32) / 255, 0, 0, ink)


# -- photos and seals -------------------------------------------------------------------------
def fractal(h: int, w: int, rng: np.random.Generator, octaves: int = 6) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    for o in range(octaves):
        s = 2 ** (o + 2)
        small = rng.standard_normal((s * h // max(h, w) + 2, s * w // max(h, w) + 2)).astype(np.float32)
        out += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) / (1.7**o)
    return (out - out.min()) / (np.ptp(out) + 1e-6)


def photo(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """A natural-looking outdoor scene: sky gradient, hills, textured ground, a wall, a car, trees."""
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    img = np.empty((h, w, 3), np.float32)
    for i, (top, bottom) in enumerate(zip((90, 140, 215), (190, 215, 240), strict=True)):
        img[..., i] = top + (bottom - top) * yy
    clouds = fractal(h, w, rng)
    img += (clouds[..., None] - 0.5) * 50
    horizon = (0.42 + 0.12 * (fractal(8, w, rng, 4)[4] - 0.5)) * h
    ground = yy * h > horizon[None, :]
    tex = fractal(h, w, rng, 7)
    soil = np.stack([110 + 60 * tex, 105 + 50 * tex, 70 + 30 * tex], -1)
    img[ground] = soil[ground]
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    bx, by = int(w * rng.uniform(0.05, 0.3)), int(h * 0.22)
    cv2.rectangle(canvas, (bx, by), (bx + w // 3, int(h * 0.62)), (178, 170, 160), -1)  # a wall
    cv2.fillPoly(canvas, [np.array([[bx - 20, by], [bx + w // 6, by - h // 8], [bx + w // 3 + 20, by]], np.int32)], (120, 60, 50))
    cv2.rectangle(canvas, (bx + w // 8, int(h * 0.45)), (bx + w // 8 + w // 18, int(h * 0.62)), (70, 50, 40), -1)  # a door
    cx, cy = int(w * rng.uniform(0.55, 0.75)), int(h * 0.72)
    cv2.ellipse(canvas, (cx, cy), (w // 7, h // 14), 0, 180, 360, (40, 60, 150), -1)  # a car
    cv2.rectangle(canvas, (cx - w // 7, cy), (cx + w // 7, cy + h // 16), (40, 60, 150), -1)
    for dx in (-w // 10, w // 10):
        cv2.circle(canvas, (cx + dx, cy + h // 16), h // 28, (20, 20, 20), -1)
    for _ in range(3):  # trees: a trunk and a noisy crown
        tx, ty = int(rng.uniform(0.05, 0.95) * w), int(horizon[0] + rng.uniform(0.0, 0.1) * h)
        cv2.line(canvas, (tx, ty), (tx, ty - h // 8), (70, 50, 35), max(3, w // 120))
        for _ in range(25):
            r = int(rng.uniform(0.02, 0.05) * w)
            cv2.circle(canvas, (tx + int(rng.normal(0, w * 0.03)), ty - h // 6 + int(rng.normal(0, h * 0.04))), r, (int(rng.uniform(30, 70)), int(rng.uniform(90, 140)), int(rng.uniform(30, 60))), -1)
    shade = 0.75 + 0.35 * fractal(h, w, rng, 3)[..., None]  # light falling unevenly
    noisy = canvas.astype(np.float32) * shade + rng.normal(0, 6, canvas.shape)
    return cv2.GaussianBlur(np.clip(noisy, 0, 255).astype(np.uint8), (0, 0), 1.1)


def seal(diameter: int, name: str, rng: np.random.Generator) -> np.ndarray:
    """A round 公章's ink (0–1): ring, the name along the upper arc, a star, patchy inking."""
    n = diameter + 8
    c = n / 2
    im = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(im)
    ring = max(3, diameter // 28)
    d.ellipse((4, 4, n - 4, n - 4), outline=255, width=ring)
    r_star = diameter * 0.17
    star = [(c + (r_star if k % 2 == 0 else r_star * 0.38) * np.sin(k * np.pi / 5), c - (r_star if k % 2 == 0 else r_star * 0.38) * np.cos(k * np.pi / 5)) for k in range(10)]
    d.polygon(star, fill=255)
    char_px = int(diameter * 0.14)
    f = font(SANS_BOLD, char_px)
    r_text = diameter / 2 - ring - char_px * 0.75
    for i, ch in enumerate(name):
        theta = np.radians(215 - 250 * i / max(1, len(name) - 1))  # over the top, left to right
        g = Image.new("L", (char_px * 2, char_px * 2), 0)
        ImageDraw.Draw(g).text((char_px, char_px), ch, font=f, fill=255, anchor="mm")
        g = g.rotate(np.degrees(theta) - 90, resample=Image.Resampling.BICUBIC)
        x, y = c + r_text * np.cos(theta), c - r_text * np.sin(theta)
        im.paste(255, (int(x - char_px), int(y - char_px)), g)
    a = np.asarray(im).astype(np.float32) / 255
    patchy = 0.55 + 0.45 * fractal(n, n, rng, 5)
    return np.clip(a * patchy * 1.2, 0, 1)
