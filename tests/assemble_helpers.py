"""PageSpecs made from the sample pages and their ground truth, without OCR.

The writer's tests should not depend on the OCR: the image is the sample file passed through
and the text lines are the ground truth's boxes, so any misplacement is the writer's.
"""

from __future__ import annotations

import json
from pathlib import Path

from dossier_station.core.model import EncodedImage, PageSpec, TextLine


def spec_from_sample(image: Path) -> PageSpec:
    gt = json.loads(image.with_suffix(".json").read_text("utf-8"))
    w, h, dpi = gt["width"], gt["height"], gt["dpi"]
    k = 72.0 / dpi
    wpt, hpt = (h, w) if gt["rotation_deg"] in (90, 270) else (w, h)
    wpt, hpt = wpt * k, hpt * k
    enc = EncodedImage(image, "/DCTDecode", w, h, "/DeviceGray" if gt["format"] == "jpeg-gray" else "/DeviceRGB", 8)
    lines = []
    for ln in gt["lines"]:
        xs = [p[0] for p in ln["quad_image"]]
        ys = [p[1] for p in ln["quad_image"]]
        lines.append(TextLine(ln["text"], min(xs) * k, hpt - max(ys) * k, max(xs) * k, hpt - min(ys) * k))
    return PageSpec(wpt, hpt, enc, (wpt, 0.0, 0.0, hpt, 0.0, 0.0), tuple(lines), None, str(image), "", image.name)
