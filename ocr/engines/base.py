"""What an OCR engine is: the pluggy markers, the hook spec and the values an engine returns.

Kept apart from the registry (``ocr.engine``) so engines import this and the registry imports
the engines, and no import runs in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pluggy

hookspec = pluggy.HookspecMarker("dossier")
hookimpl = pluggy.HookimplMarker("dossier")


@dataclass(frozen=True)
class OcrLine:
    """A recognised line in raster pixel coordinates of the image given to the engine."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float


@dataclass(frozen=True)
class Reading:
    """An engine's reading of a page. ``flipped`` means the page read better turned 180°;
    the lines' coordinates are then in the turned raster."""

    lines: list[OcrLine]
    flipped: bool
    score_as_is: float
    score_flipped: float

    @property
    def mean_confidence(self) -> float:
        if not self.lines:
            return 0.0
        return sum(line.confidence for line in self.lines) / len(self.lines)


class OcrEngine(Protocol):
    name: str

    def read(self, image: np.ndarray, dpi: int, *, check_upside_down: bool = True) -> Reading:
        """Read a page whose lines are level and horizontal (BGR or grey raster)."""


class EngineSpecs:
    @hookspec
    def dossier_ocr_engines(self) -> list[type]:
        """Return engine classes; each has a ``name`` and ``__init__(threads: int)``."""
