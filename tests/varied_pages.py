"""Synthetic scans of the pages a dossier holds besides dense text, for the orientation tests.

The sample pages (../shared/data/pages) are all dense justified print. A real volume also has
ruled tables, pages with a red round seal, sparse forms (换押证, 送达回证) that are mostly empty
boxes, handwritten records and letters, and photo pages with a caption or none. Each is
drawn here at a scanner's resolution (A4, 200–300 dpi, grey or colour), then scanned as a
scanner would: paper tone, a small skew (±2°), optics blur, sensor noise, dust and JPEG.

Handwriting, signatures, photos and seals are drawn by tests/varied_marks.py. Only PIL, OpenCV
and numpy; every page is deterministic for its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw
from varied_marks import (
    INK,
    SANS,
    SANS_BOLD,
    SEAL_RED,
    SERIF,
    SERIF_BOLD,
    font,
    fractal,
    handwrite,
    lay_ink,
    photo,
    scrawl,
    seal,
)

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
    "sealed_certificate": (250, True),  # a few lines, a large seal, a half 骑缝章 at the edge
    "registration_form": (300, False),  # a grid with labels written top to bottom, an ID photo
    "approval_form": (250, False),  # 审批表: most of its few words written top to bottom
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
    "sealed_certificate": "证明",
    "registration_form": "登记表",
    "approval_form": "审批表",
}



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
    lay_ink(a, stamp, cx - h // 2, cy - h // 2, SEAL_RED)
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


def _sealed_certificate(s: Sheet, rng: np.random.Generator) -> np.ndarray:
    s.text(105, 40, "证明", SERIF_BOLD, 26, centre=True)
    y = s.paragraph(25, 65, 160, "兹证明陈小明同志系我单位职工，现任后勤部科员，特此证明。", pt=16)
    s.text(118, y + 25, "北京市朝阳区某某有限公司", pt=15)
    s.text(128, y + 37, "2026年10月20日", pt=15)
    a = s.array()
    for diameter, (x_mm, y_mm), name in ((44, (150, y + 33), "北京市朝阳区某某有限公司"), (40, (210, 150), COURT)):
        stamp = seal(s.px(diameter), name, rng)  # the second is half off the sheet: a 骑缝章
        h = stamp.shape[0]
        lay_ink(a, stamp, s.px(x_mm) - h // 2, s.px(y_mm) - h // 2, SEAL_RED)
    return a


def _vertical(s: Sheet, x_mm: float, y_mm: float, label: str, pt: float = 12) -> None:
    """A label written top to bottom, one character under the other, as narrow cells have."""
    step = pt * 25.4 / 72 * 1.25
    for i, ch in enumerate(label):
        s.text(x_mm, y_mm + i * step, ch, SANS, pt, centre=True)


def _registration_form(s: Sheet, rng: np.random.Generator) -> np.ndarray:
    s.text(105, 20, "犯罪嫌疑人登记表", SERIF_BOLD, 20, centre=True)
    fields = (("姓名", "陈小明"), ("性别", "男"), ("出生日期", "1990年5月"), ("民族", "汉族"), ("文化程度", "高中"), ("职业", "司机"))
    for i, (label, value) in enumerate(fields):
        y = 38 + (i // 2) * 12
        x = 20 + (i % 2) * 65
        s.box(x, y, x + 65, y + 12)
        s.vline(x + 24, y, y + 12)
        s.text(x + 2, y + 3.5, label, SANS, 11)
        s.text(x + 26, y + 3.5, value, pt=11)
    s.box(150, 38, 190, 74)
    for top, height, label in ((74, 60, "主要经历"), (134, 60, "家庭成员"), (194, 50, "处理意见")):
        s.box(20, top, 190, top + height)
        s.vline(32, top, top + height)
        _vertical(s, 26, top + 8, label)
    for i, line in enumerate(("2008年至2012年在某某中学读书", "2013年至今在某某物流公司任司机")):
        s.text(36, 80 + i * 9, line, pt=11)
    a = s.array()
    x0, y0, w, h = s.px(152), s.px(40), s.px(36), s.px(32)
    face = photo(w, h, rng)  # the ID photo: no text, small
    cv2.ellipse(face, (w // 2, int(h * 0.45)), (w // 5, h // 4), 0, 0, 360, (205, 170, 150), -1)
    a[y0 : y0 + h, x0 : x0 + w] = cv2.cvtColor(cv2.cvtColor(face, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return a


def _approval_form(s: Sheet, rng: np.random.Generator) -> None:
    """Labels in narrow cells, one character under the other: most of the page's line length
    runs top to bottom although the page reads left to right."""
    s.text(105, 18, "提请批准逮捕审批表", SERIF_BOLD, 18, centre=True)
    top = 32
    for i, label in enumerate(("案件编号", "犯罪嫌疑人", "简要案情", "承办人意见", "办案部门意见", "审核意见", "领导批示")):
        s.box(20, top, 190, top + 35)
        s.vline(34, top, top + 35)
        _vertical(s, 27, top + 2.5, label, 11)
        if i == 0:
            s.text(38, top + 4, "2026-0417", pt=11)
        top += 35


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
        "sealed_certificate": _sealed_certificate,
        "registration_form": _registration_form,
        "approval_form": _approval_form,
    }[kind]
    drawn = maker(s, rng)
    return (drawn if drawn is not None else s.array()), dpi, colour


# -- the scanner ------------------------------------------------------------------------------
def scanned(page: np.ndarray, colour: bool, rng: np.random.Generator) -> np.ndarray:
    """What a flatbed or ADF makes of the sheet: paper tone, skew, blur, noise, dust."""
    h, w = page.shape[:2]
    tone = np.array((247, 245, 238) if colour else (244, 244, 244), np.float32)
    paper = tone * (1 + (fractal(h // 8, w // 8, rng, 3) - 0.5) * 0.03)[..., None]
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
