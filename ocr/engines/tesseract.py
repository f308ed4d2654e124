"""Tesseract through pytesseract (chi_sim+eng): the selectable second engine.

Measured on our samples it leaves far more characters wrong than PP-OCR on Chinese, so it is
not the default, but it is the engine most stations already trust and it needs no model
files beyond Debian's packages. Each call runs with OMP_THREAD_LIMIT=1: tesseract's default
OpenMP threading is several times slower on a busy 2-core station than one thread per page.
"""

from __future__ import annotations

import os

import numpy as np

from dossier_station.core.errors import MissingDependencyError
from dossier_station.ocr.engines.base import OcrLine, Reading, hookimpl
from dossier_station.ocr.text import join_words

LANGUAGES = "chi_sim+eng"


def check_tesseract(languages: str = LANGUAGES) -> str:
    """Version of the installed tesseract; a clear error naming the Debian packages if not."""
    import pytesseract

    try:
        version = str(pytesseract.get_tesseract_version())
        have = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError):
        raise MissingDependencyError(
            "tesseract is not installed",
            hint="apt-get install tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-osd",
        ) from None
    missing = [lang for lang in languages.split("+") if lang not in have]
    if missing:
        pkgs = " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
        raise MissingDependencyError(f"tesseract language data missing: {', '.join(missing)}", hint=f"apt-get install {pkgs}")
    return version


class TesseractEngine:
    name = "tesseract"

    def __init__(self, threads: int = 1, languages: str = LANGUAGES) -> None:
        os.environ["OMP_THREAD_LIMIT"] = str(max(1, threads))
        check_tesseract(languages)
        self.languages = languages

    def _lines(self, image: np.ndarray) -> list[OcrLine]:
        import pytesseract

        data = pytesseract.image_to_data(image, lang=self.languages, config="--psm 3", output_type=pytesseract.Output.DICT)
        groups: dict[tuple[int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if word.strip() and float(data["conf"][i]) >= 0:
                key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
                groups.setdefault(key, []).append(i)
        lines = []
        for idx in groups.values():
            x0 = min(data["left"][i] for i in idx)
            y0 = min(data["top"][i] for i in idx)
            x1 = max(data["left"][i] + data["width"][i] for i in idx)
            y1 = max(data["top"][i] + data["height"][i] for i in idx)
            conf = sum(float(data["conf"][i]) for i in idx) / len(idx) / 100.0
            text = join_words([data["text"][i] for i in idx])
            if text:
                lines.append(OcrLine(text, x0, y0, x1, y1, conf))
        lines.sort(key=lambda ln: (round(ln.y0 / 20), ln.x0))
        return lines

    def _sample_confidence(self, image: np.ndarray) -> float:
        """Mean word confidence on the middle third of the page (cheap orientation probe)."""
        h = image.shape[0]
        lines = self._lines(image[h // 3 : 2 * h // 3])
        return float(np.mean([ln.confidence for ln in lines])) if lines else 0.0

    def read(self, image: np.ndarray, dpi: int, *, check_upside_down: bool = True) -> Reading:
        as_is = turned = 0.0
        flipped = False
        if check_upside_down:
            as_is = self._sample_confidence(image)
            turned = self._sample_confidence(np.ascontiguousarray(image[::-1, ::-1]))
            flipped = turned > as_is
        if flipped:
            image = np.ascontiguousarray(image[::-1, ::-1])
        return Reading(self._lines(image), flipped, as_is, turned)


@hookimpl
def dossier_ocr_engines() -> list[type]:
    return [TesseractEngine]
