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


def load_trajectory(path: str | Path | None = None) -> Trajectory:
    data = json.loads(Path(path or DEFAULT_TRAJECTORY).read_text(encoding="utf-8"))
    if data.get("format") != TRAJECTORY_FORMAT:
        raise ValueError(f"{path}: not a {TRAJECTORY_FORMAT} file")
    pts = tuple(TrajectoryPoint(float(t), int(x), int(y), int(p), bool(tip), bool(prox))
                for t, x, y, p, tip, prox in data["points"])
    return Trajectory(str(data.get("name", "")), pts)


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
