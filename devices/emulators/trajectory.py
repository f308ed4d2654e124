"""Pen trajectories the pen emulator replays: a shipped synthetic signature and tiny scribbles.

A trajectory is a time series in device units (100 units/mm) with pressure, tip and proximity,
including hover between strokes, because that is what a real signature looks like on the wire.
The shipped file ``signature_wang_xiaoming.json`` was produced by :func:`generate_signature`
(run this module to regenerate it), so the demo and tests replay the very same strokes.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from dossier_station.core.errors import InputFileError
from dossier_station.core.formats.reading import decode_json_object, read_bounded
from dossier_station.core.formats.validation import STRICT, raise_for

TRAJECTORY_FORMAT = "dossier-pen-trajectory/1"
DEFAULT_TRAJECTORY = Path(__file__).with_name("signature_wang_xiaoming.json")
UNITS_PER_MM = 100

# 王 小 明, each stroke a polyline in mm inside a ~11 mm box (y grows downwards)
_STROKES_MM: list[list[tuple[float, float]]] = [
    # 王
    [(0.5, 0.0), (10.0, 0.6)],
    [(1.5, 5.0), (9.0, 5.4)],
    [(5.2, -0.3), (5.0, 5.0), (5.1, 10.4)],
    [(-0.5, 10.6), (5.0, 10.5), (10.8, 10.0)],
    # 小
    [(19.0, -1.0), (19.0, 5.0), (19.0, 10.0), (17.8, 9.0)],
    [(16.0, 4.0), (15.0, 6.0), (14.3, 7.6)],
    [(22.0, 4.0), (23.0, 5.8), (23.8, 7.3)],
    # 明: 日
    [(28.0, 1.0), (28.0, 10.0)],
    [(28.0, 1.0), (32.0, 1.0), (32.0, 10.0)],
    [(28.2, 5.5), (31.8, 5.5)],
    [(28.2, 9.8), (31.8, 9.8)],
    # 明: 月
    [(34.5, 0.0), (34.5, 7.0), (33.5, 11.0)],
    [(34.5, 0.0), (38.0, 0.0), (38.0, 10.5), (37.0, 10.0)],
    [(34.7, 3.5), (37.8, 3.5)],
    [(34.7, 7.0), (37.8, 7.0)],
]


@dataclass(frozen=True)
class TrajectoryPoint:
    t_ms: float
    x: int
    y: int
    pressure: int
    tip: bool
    proximity: bool


@dataclass(frozen=True)
class Trajectory:
    name: str
    points: tuple[TrajectoryPoint, ...]

    @property
    def duration_ms(self) -> float:
        return self.points[-1].t_ms if self.points else 0.0

    def at(self, t_ms: float) -> TrajectoryPoint:
        """State at time t: position and pressure interpolated, switches from the earlier point."""
        pts = self.points
        i = bisect_right([p.t_ms for p in pts], t_ms) - 1
        if i < 0:
            return pts[0]
        if i >= len(pts) - 1:
            return pts[-1]
        a, b = pts[i], pts[i + 1]
        f = (t_ms - a.t_ms) / (b.t_ms - a.t_ms) if b.t_ms > a.t_ms else 0.0
        same = a.tip == b.tip
        pressure = round(a.pressure + (b.pressure - a.pressure) * f) if same else a.pressure
        return TrajectoryPoint(t_ms, round(a.x + (b.x - a.x) * f), round(a.y + (b.y - a.y) * f),
                               pressure, a.tip, a.proximity)

    def to_json(self) -> dict[str, object]:
        return {"format": TRAJECTORY_FORMAT, "name": self.name, "units_per_mm": UNITS_PER_MM,
                "columns": ["t_ms", "x", "y", "pressure", "tip", "proximity"],
                "points": [[round(p.t_ms, 1), p.x, p.y, p.pressure, int(p.tip), int(p.proximity)]
                           for p in self.points]}


Switch = Annotated[int, Field(ge=0, le=1)] | bool  # the writer uses 0/1; true/false also read
PointRow = tuple[
    Annotated[float, Field(ge=0)], Annotated[int, Field(ge=0, le=65535)], Annotated[int, Field(ge=0, le=65535)],
    Annotated[int, Field(ge=0, le=65535)], Switch, Switch,
]
COLUMNS = ["t_ms", "x", "y", "pressure", "tip", "proximity"]
MAX_TRAJECTORY_BYTES = 64 * 1024 * 1024


class TrajectoryFile(BaseModel):
    """A ``dossier-pen-trajectory/1`` file: rows of t_ms, x, y, pressure, tip, proximity."""

    model_config = STRICT

    format: Literal["dossier-pen-trajectory/1"]
    name: str = ""
    units_per_mm: int = Field(UNITS_PER_MM, ge=1)
    columns: list[str] = Field(default_factory=lambda: list(COLUMNS))
    points: list[PointRow] = Field(min_length=1, description="time-ordered samples in device units")

    @model_validator(mode="after")
    def _ordered(self) -> TrajectoryFile:
        if self.columns != COLUMNS:
            raise ValueError(f"columns must be {COLUMNS}")
        for i in range(1, len(self.points)):
            if self.points[i][0] < self.points[i - 1][0]:
                raise ValueError(f"points[{i}] goes back in time ({self.points[i][0]} ms after {self.points[i - 1][0]} ms)")
        return self


def _point_label(loc: tuple[object, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "points" and isinstance(loc[1], int):
        column = f" {COLUMNS[loc[2]]}" if len(loc) > 2 and isinstance(loc[2], int) and loc[2] < len(COLUMNS) else ""
        return f"point {loc[1] + 1}{column}"
    return None


def parse_trajectory(data: bytes, name: str) -> Trajectory:
    """A trajectory from JSON bytes; anything else is an InputFileError naming the file and field."""
    hint = f"give a {TRAJECTORY_FORMAT} JSON file (run python -m dossier_station.devices.emulators.trajectory for an example)"
    decode_json_object(data, name, "a trajectory", hint)
    try:  # JSON mode: a point is a JSON array, read as the typed tuple
        doc = TrajectoryFile.model_validate_json(data)
    except ValidationError as exc:
        raise_for(exc, TrajectoryFile, InputFileError, source=name, hint=hint, label=_point_label)
    pts = tuple(TrajectoryPoint(float(t), x, y, p, bool(tip), bool(prox)) for t, x, y, p, tip, prox in doc.points)
    return Trajectory(doc.name, pts)


def load_trajectory(path: str | Path | None = None) -> Trajectory:
    p = Path(path or DEFAULT_TRAJECTORY)
    data = read_bounded(p, MAX_TRAJECTORY_BYTES, "a trajectory file")
    return parse_trajectory(data, str(p))


def _polyline_points(poly: list[tuple[float, float]], step_mm: float) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for (x0, y0), (x1, y1) in zip(poly, poly[1:], strict=False):
        n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step_mm))
        out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(n)]
    out.append(poly[-1])
    return out


def generate_signature(strokes: list[list[tuple[float, float]]] | None = None, *,
                       rate_hz: float = 133.0, speed_mm_s: float = 55.0, max_pressure: int = 255,
                       origin_mm: tuple[float, float] = (60.0, 60.0), seed: int = 7,
                       name: str = "王小明 (synthetic)") -> Trajectory:
    """Sample strokes like a hand would: ramped pressure on ink, hover moves between strokes."""
    rng = random.Random(seed)
    strokes = strokes or _STROKES_MM
    dt = 1000.0 / rate_hz
    step = speed_mm_s / rate_hz
    pts: list[TrajectoryPoint] = []
    t = 0.0
    ox, oy = origin_mm

    def emit(x: float, y: float, p: int, tip: bool) -> None:
        nonlocal t
        pts.append(TrajectoryPoint(round(t, 1), round((ox + x) * UNITS_PER_MM),
                                   round((oy + y) * UNITS_PER_MM), p, tip, True))
        t += dt

    prev: tuple[float, float] | None = None
    for stroke in strokes:
        start = stroke[0]
        if prev is None:
            prev = (start[0] - 4.0, start[1] - 3.0)
        hover = _polyline_points([prev, start], step * 1.6)
        for x, y in hover[:-1]:
            emit(x, y, 0, False)
        ink = _polyline_points(stroke, step)
        n = len(ink)
        for k, (x, y) in enumerate(ink):
            ramp = min(1.0, (k + 1) / 4, (n - k) / 4)
            p = int(max_pressure * (0.35 + 0.4 * ramp + rng.uniform(-0.05, 0.05)))
            emit(x + rng.uniform(-0.03, 0.03), y + rng.uniform(-0.03, 0.03), p, True)
        prev = stroke[-1]
    for k in range(1, 12):
        emit(prev[0] + k * 0.4, prev[1] - k * 0.4, 0, False)
    last = pts[-1]
    pts.append(TrajectoryPoint(round(t, 1), last.x, last.y, 0, False, False))
    return Trajectory(name, tuple(pts))


def scribble(points: int = 5) -> Trajectory:
    """A dot-sized touch: what the quality check must reject as 'too short a signature'."""
    return generate_signature([[(0.0, 0.0), (0.15 * points, 0.1)]], name="scribble",
                              speed_mm_s=20.0)


if __name__ == "__main__":  # regenerate the shipped file
    DEFAULT_TRAJECTORY.write_text(
        json.dumps(generate_signature().to_json(), ensure_ascii=False, separators=(",", ":")),
        encoding="utf-8")
