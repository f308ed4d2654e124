"""Synthetic scans of the pages a dossier holds besides dense text, for the orientation tests.

The sample pages (../shared/data/pages) are all dense justified print. A real volume also has
ruled tables, pages with a red round seal, sparse forms (换押证, 送达回证) that are mostly empty
boxes, handwritten records and letters, and photo pages with a caption or none. Each is
drawn here at a scanner's resolution (A4, 200–300 dpi, grey or colour), then scanned as a
scanner would: paper tone, a small skew (±2°), optics blur, sensor noise, dust and JPEG.

Handwriting is made from a font's glyphs, each one scaled, turned, sheared, elastically warped,
thickened or thinned, set on a drifting baseline in pen ink, so that it has a hand's
irregularity and not a typeface's. Photos are synthesised (gradients, fractal texture,
shapes): no text in them, but edges and textures a text detector may mistake for lines.
Only PIL, OpenCV and numpy; every page is deterministic for its seed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

INK = (28, 28, 30)
PEN = (25, 40, 120)  # blue-black ballpoint
SEAL_RED = (214, 36, 44)
COURT = "北京市朝阳区人民法院"
# (kind, dpi, colour scan): the kinds a clerk scans besides dense print.
KINDS = {
    "table": (300, False),
    "seal": (300, True),
    "custody_exchange": (200, False),  # 换押证
    "service_receipt": (250, False),  # 送达回证
    "handwritten_form": (300, True),
    "handwritten_letter": (200, True),
    "photo_with_caption": (300, True),
    "mostly_photo": (200, True),
    "photo_only": (200, True),  # no text at all: nothing says which way is up
}
TITLES = {  # a line a reading of the upright page must contain (none for the photo alone)
    "table": "证据目录",
    "seal": "审判长",
    "custody_exchange": "换押证",
    "service_receipt": "送达回证",
    "handwritten_form": "询问笔录",
    "handwritten_letter": "",
    "photo_with_caption": "现场",
    "mostly_photo": "照片",
    "photo_only": "",
}


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


@dataclass(frozen=True)
class VariedPage:
    kind: str
    image: np.ndarray  # the scan of the upright page: H×W grey or H×W×3 RGB, uint8
    dpi: int
    title: str


class Sheet:
    """An A4 sheet at ``dpi`` to draw on in millimetres and points."""

    def __init__(self, dpi: int) -> None:
        self.dpi = dpi
        self.im = Image.new("RGB", (self.px(210), self.px(297)), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.im)

    def px(self, mm: float) -> int:
        return round(mm * self.dpi / 25.4)

    def pt(self, points: float) -> float:
        return points * self.dpi / 72

    def text(self, x_mm: float, y_mm: float, s: str, family: str = SERIF, pt: float = 12, fill=INK, centre: bool = False) -> None:
        f = font(family, self.pt(pt))
        x = self.px(x_mm)
        if centre:
            x -= round(self.draw.textlength(s, font=f) / 2)
        self.draw.text((x, self.px(y_mm)), s, font=f, fill=fill)

    def box(self, x0: float, y0: float, x1: float, y1: float, width_mm: float = 0.3) -> None:
        self.draw.rectangle((self.px(x0), self.px(y0), self.px(x1), self.px(y1)), outline=INK, width=max(1, self.px(width_mm)))

    def hline(self, x0: float, x1: float, y: float, width_mm: float = 0.3, fill=INK) -> None:
        self.draw.line((self.px(x0), self.px(y), self.px(x1), self.px(y)), fill=fill, width=max(1, self.px(width_mm)))

    def vline(self, x: float, y0: float, y1: float, width_mm: float = 0.3) -> None:
        self.draw.line((self.px(x), self.px(y0), self.px(x), self.px(y1)), fill=INK, width=max(1, self.px(width_mm)))

    def paragraph(self, x0: float, y0: float, width_mm: float, s: str, pt: float = 14, leading: float = 1.8, indent: int = 2) -> float:
        """Justified-by-count CJK text; returns the y (mm) below it."""
        per_line = int(width_mm / (pt * 25.4 / 72))
        s = "\u3000" * indent + s
        y = y0
        for i in range(0, len(s), per_line):
            self.text(x0, y, s[i : i + per_line], pt=pt)
            y += pt * 25.4 / 72 * leading
        return y

    def array(self) -> np.ndarray:
        return np.asarray(self.im).copy()


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


def _ink(canvas: np.ndarray, alpha: np.ndarray, x: int, y: int, ink) -> None:
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
        _ink(canvas, g, x - off, int(y + drift + slope * i * px + rng.normal(0, px * 0.05)) - off, ink)
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
    _ink(canvas, mask.astype(np.float32) / 255, 0, 0, ink)


# -- photos and seals -------------------------------------------------------------------------
def _fractal(h: int, w: int, rng: np.random.Generator, octaves: int = 6) -> np.ndarray:
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
    clouds = _fractal(h, w, rng)
    img += (clouds[..., None] - 0.5) * 50
    horizon = (0.42 + 0.12 * (_fractal(8, w, rng, 4)[4] - 0.5)) * h
    ground = yy * h > horizon[None, :]
    tex = _fractal(h, w, rng, 7)
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
    shade = 0.75 + 0.35 * _fractal(h, w, rng, 3)[..., None]  # light falling unevenly
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
    patchy = 0.55 + 0.45 * _fractal(n, n, rng, 5)
    return np.clip(a * patchy * 1.2, 0, 1)


# -- the page kinds ---------------------------------------------------------------------------
def _table(s: Sheet, rng: np.random.Generator) -> None:
    s.text(105, 22, "证据目录", SERIF_BOLD, 22, centre=True)
    s.text(25, 40, "案号：（2026）京0105刑初1234号", pt=12)
    cols = (20, 35, 95, 160, 190)
    heads = ("序号", "证据名称", "证明内容", "页码")
    rows = [("书证", "受案登记表", "案件来源", "1"), ("书证", "立案决定书", "立案时间", "3"), ("物证", "扣押清单", "涉案物品", "5"), ("证言", "证人王某证言", "案发经过", "8"),
            ("鉴定", "伤情鉴定意见", "轻伤二级", "15"), ("书证", "户籍证明", "主体身份", "19"), ("视听", "监控录像截图", "作案过程", "21"), ("笔录", "现场勘验笔录", "现场情况", "26"),
            ("书证", "到案经过", "自首情节", "30"), ("书证", "谅解书", "取得谅解", "31"), ("书证", "前科材料", "累犯情节", "33")]  # fmt: skip
    top, step = 50, 13
    for i in range(len(rows) + 2):
        s.hline(cols[0], cols[-1], top + i * step, 0.35)
    for x in cols:
        s.vline(x, top, top + (len(rows) + 1) * step, 0.35)
    for j, h in enumerate(heads):
        s.text((cols[j] + cols[j + 1]) / 2, top + 3.5, h, SANS_BOLD, 11, centre=True)
    for i, (kind, name, proves, page) in enumerate(rows):
        y = top + (i + 1) * step + 3.5
        s.text((cols[0] + cols[1]) / 2, y, str(i + 1), pt=11, centre=True)
        s.text(cols[1] + 2, y, f"{name}（{kind}）", pt=11)
        s.text(cols[2] + 2, y, proves, pt=11)
        s.text((cols[3] + cols[4]) / 2, y, page, pt=11, centre=True)
    s.text(120, 222, "提交人：北京市朝阳区人民检察院", pt=12)
    s.text(140, 232, "2026年11月30日", pt=12)


def _seal(s: Sheet, rng: np.random.Generator) -> np.ndarray:
    body = ("如不服本判决，可在接到判决书的第二日起十日内，通过本院或者直接向北京市第三中级人民法院提出上诉。"
            "书面上诉的，应当提交上诉状正本一份，副本二份。本判决为终审判决前，被告人在押期间的羁押日期依法折抵刑期。")  # fmt: skip
    y = s.paragraph(25, 30, 160, body, pt=15)
    for i, (role, who) in enumerate((("审判长", "张志明"), ("人民陪审员", "李秀兰"), ("人民陪审员", "赵国强"))):
        s.text(110, y + 20 + i * 11, role, pt=15)
        s.text(150, y + 20 + i * 11, who, pt=15)
    s.text(115, y + 60, "二〇二六年十一月三十日", pt=15)
    s.text(110, y + 75, "本件与原本核对无异", pt=13)
    s.text(110, y + 86, "书记员", pt=15)
    s.text(150, y + 86, "孙丽", pt=15)
    a = s.array()
    stamp = seal(s.px(42), COURT, rng)
    cx, cy = s.px(142), s.px(y + 62)
    h = stamp.shape[0]
    _ink(a, stamp, cx - h // 2, cy - h // 2, SEAL_RED)
    return a


def _custody_exchange(s: Sheet, rng: np.random.Generator) -> None:
    s.text(105, 25, "换押证", SERIF_BOLD, 24, centre=True)
    s.text(150, 40, "编号：2026-0417", pt=11)
    for i, label in enumerate(("犯罪嫌疑人：", "原办案机关：", "现办案机关：", "换押原因：")):
        s.text(25, 55 + i * 14, label, pt=13)
        s.hline(55, 185, 62 + i * 14, 0.2)
    s.box(25, 115, 185, 185)
    s.text(28, 118, "看守所意见", pt=11)
    s.box(25, 195, 185, 255)
    s.text(28, 198, "备注", pt=11)
    s.text(140, 262, "（公章）", pt=12)


def _service_receipt(s: Sheet, rng: np.random.Generator) -> None:
    s.text(105, 22, COURT, SERIF, 16, centre=True)
    s.text(105, 33, "送达回证", SERIF_BOLD, 22, centre=True)
    rows = (("案号", 14), ("受送达人", 14), ("送达地点", 14), ("送达文书", 22), ("受送达人签收", 55), ("代收人", 18), ("送达人", 14), ("备注", 45))
    y = 48
    for label, height in rows:
        s.box(20, y, 190, y + height, 0.4)
        s.vline(62, y, y + height, 0.4)
        s.text(24, y + min(height / 2 - 2.5, 4), label, pt=12)
        y += height


def _handwritten_form(s: Sheet, rng: np.random.Generator) -> np.ndarray:
    s.text(105, 20, "询问笔录", SERIF_BOLD, 22, centre=True)
    for i, label in enumerate(("时间：", "地点：", "询问人：", "记录人：", "被询问人：")):
        s.text(22, 38 + i * 10, label, pt=12)
        s.hline(48, 188, 44 + i * 10, 0.2)
    for i in range(17):
        s.hline(22, 188, 110 + i * 10, 0.15, fill=(150, 150, 150))
    a = s.array()
    px = s.px(6.2)
    fields = ("2026年11月3日9时", "朝阳区公安分局", "王建国 刘洋", "刘洋", "陈小明")
    for i, v in enumerate(fields):
        handwrite(a, s.px(52), s.px(38 + i * 10) - px // 3, v, px, rng)
    body = ("问：你是否明白自己的权利义务", "答：明白", "问：你把当天的事情说一下", "答：那天晚上我下班回家路过", "小区门口看见两个人在吵架", "后来其中一个人动手打了对方",
            "我就打电话报了警", "问：你还有什么补充的", "答：没有了", "以上笔录我看过和我说的一样")  # fmt: skip
    for i, line in enumerate(body):
        handwrite(a, s.px(26), s.px(102 + i * 10 + 1), line, px, rng)
    scrawl(a, s.px(120), s.px(215), s.px(45), s.px(14), rng)
    return a


def _handwritten_letter(s: Sheet, rng: np.random.Generator) -> np.ndarray:
    a = s.array()
    px = s.px(8)
    handwrite(a, s.px(80), s.px(22), "情况说明", s.px(10), rng)
    lines = ("本人陈小明于二零二六年十月", "十二日晚在朝阳区某小区门口", "目睹了一起打架事件当时两个", "男子因为停车的事情发生争吵",
             "后来其中穿黑衣服的男子先动", "手打了对方我当即报了警并在", "现场等候民警到来以上情况属", "实特此说明")  # fmt: skip
    for i, line in enumerate(lines):
        handwrite(a, s.px(22 + (12 if i == 0 else 0)), s.px(45 + i * 16), line, px, rng)
    handwrite(a, s.px(110), s.px(190), "说明人：", px, rng)
    scrawl(a, s.px(150), s.px(186), s.px(35), s.px(14), rng)
    handwrite(a, s.px(110), s.px(210), "2026.10.13", px, rng)
    return a


def _photo_page(s: Sheet, rng: np.random.Generator, size_mm: tuple[float, float], captions: tuple[str, ...]) -> np.ndarray:
    w, h = s.px(size_mm[0]), s.px(size_mm[1])
    x0, y0 = (s.im.width - w) // 2, s.px(20)
    for i, cap in enumerate(captions):
        s.text(105, 20 + size_mm[1] + 6 + i * 9, cap, pt=12, centre=True)
    a = s.array()
    a[y0 : y0 + h, x0 : x0 + w] = photo(w, h, rng)
    return a


def draw(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, int, bool]:
    dpi, colour = KINDS[kind]
    s = Sheet(dpi)
    maker = {
        "table": _table,
        "seal": _seal,
        "custody_exchange": _custody_exchange,
        "service_receipt": _service_receipt,
        "handwritten_form": _handwritten_form,
        "handwritten_letter": _handwritten_letter,
        "photo_with_caption": lambda s, r: _photo_page(s, r, (170, 125), ("图1 案发现场东侧全景，拍摄于2026年10月12日", "拍摄人：王建国  见证人：李秀兰")),
        "mostly_photo": lambda s, r: _photo_page(s, r, (180, 240), ("照片2 现场提取的作案车辆",)),
        "photo_only": lambda s, r: _photo_page(s, r, (180, 250), ()),
    }[kind]
    drawn = maker(s, rng)
    return (drawn if drawn is not None else s.array()), dpi, colour


# -- the scanner ------------------------------------------------------------------------------
def scanned(page: np.ndarray, colour: bool, rng: np.random.Generator) -> np.ndarray:
    """What a flatbed or ADF makes of the sheet: paper tone, skew, blur, noise, dust."""
    h, w = page.shape[:2]
    tone = np.array((247, 245, 238) if colour else (244, 244, 244), np.float32)
    paper = tone * (1 + (_fractal(h // 8, w // 8, rng, 3) - 0.5) * 0.03)[..., None]
    img = page.astype(np.float32) / 255 * cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
    skew = rng.uniform(-2, 2)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), skew, 1.0)
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in tone))
    img = cv2.GaussianBlur(img, (0, 0), 0.7)
    img += rng.normal(0, 3.0, img.shape[:2])[..., None]
    for _ in range(int(rng.integers(20, 60))):  # dust and specks
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 3)), (60.0, 60.0, 60.0), -1)
    out = np.clip(img, 0, 255).astype(np.uint8)
    return out if colour else cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)


def make_page(kind: str, seed: int = 0) -> VariedPage:
    rng = np.random.default_rng(seed * 1000 + list(KINDS).index(kind))
    page, dpi, colour = draw(kind, rng)
    return VariedPage(kind, scanned(page, colour, rng), dpi, TITLES[kind])


def save_turned(page: VariedPage, turn: int, path: Path, quality: int = 85) -> Path:
    """The scan as captured with the sheet turned ``turn``° counter-clockwise (an exact quarter
    turn of the raster), stored as a scanner's JPEG with its resolution."""
    turned = np.ascontiguousarray(np.rot90(page.image, turn // 90))
    Image.fromarray(turned).save(path, "JPEG", quality=quality, dpi=(page.dpi, page.dpi))
    return path


if __name__ == "__main__":  # look at them: python tests/varied_pages.py /tmp/varied
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/varied")
    out.mkdir(parents=True, exist_ok=True)
    for k in KINDS:
        save_turned(make_page(k), 0, out / f"{k}.jpg")
        print(out / f"{k}.jpg")
