"""The OCR engine interface and its plugin registry (pluggy, in OCRmyPDF's manner).

An engine turns an upright, deskewed page raster into text lines with boxes. Engines also
say which of two half-turns of a page reads better (0° or 180°), because a profile cannot
tell and each engine's own confidence is the most reliable judge of its own reading.

Built-in engines register through the ``dossier_ocr_engines`` hook; third-party packages can
add engines through the ``dossier.plugins`` entry point group.
"""

from __future__ import annotations

from functools import cache

import pluggy

from dossier_station.core.errors import BadArgsError
from dossier_station.ocr.engines.base import EngineSpecs, OcrEngine, OcrLine, Reading, hookimpl

__all__ = ["OcrEngine", "OcrLine", "Reading", "hookimpl", "available_engines", "make_engine", "plugin_manager"]


@cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("dossier")
    pm.add_hookspecs(EngineSpecs)
    from dossier_station.ocr.engines import rapid, tesseract

    pm.register(rapid)
    pm.register(tesseract)
    pm.load_setuptools_entrypoints("dossier.plugins")
    return pm


def available_engines() -> dict[str, type]:
    engines: dict[str, type] = {}
    for group in plugin_manager().hook.dossier_ocr_engines():
        for cls in group:
            engines[cls.name] = cls
    return engines


DEFAULT_ENGINE = "rapidocr"  # measured: CER 0.02 vs tesseract's 0.45 on our samples (bench/)


def make_engine(name: str | None = None, threads: int = 1) -> OcrEngine:
    name = name or DEFAULT_ENGINE
    engines = available_engines()
    if name not in engines:
        raise BadArgsError(
            f"unknown OCR engine {name!r}", hint=f"choose one of: {', '.join(sorted(engines))}"
        )
    return engines[name](threads=threads)
