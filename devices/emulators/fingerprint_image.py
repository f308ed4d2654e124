"""Procedural fingerprint images for the sensor emulator (no downloaded biometric data).

Ridges are a sine of a warped distance field around a core point, inside an elliptical contact
area with softened edges: enough structure to pass a contrast check and to look like a print in
the demo, while a blank or washed-out variant exercises the "press again" path.
"""

from __future__ import annotations

import numpy as np

WIDTH, HEIGHT = 256, 288


def synthetic_fingerprint(seed: int = 0, *, width: int = WIDTH, height: int = HEIGHT,
                          ridge_period: float = 9.0) -> np.ndarray:
    """An 8-bit grey print: dark ridges on a light background, shape varied by ``seed``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cx = width * (0.5 + rng.uniform(-0.05, 0.05))
    cy = height * (0.45 + rng.uniform(-0.05, 0.05))
    dx, dy = xx - cx, (yy - cy) * 1.15
    # warp: low-frequency sinusoids bend the rings into loops/whorl-like flow
    phase = rng.uniform(0, 2 * np.pi, size=4)
    warp = (6.0 * np.sin(xx / 37.0 + phase[0]) * np.cos(yy / 53.0 + phase[1])
            + 4.0 * np.sin((xx + yy) / 29.0 + phase[2]) + 3.0 * np.cos(yy / 17.0 + phase[3]))
    r = np.hypot(dx, dy) + warp + 0.18 * dx * np.tanh(dy / 40.0)
    ridges = 0.5 + 0.5 * np.cos(2 * np.pi * r / ridge_period)  # 1 = ridge
    # contact area: an ellipse with a soft rim, slightly lighter pressure towards the edges
    ex, ey = (xx - cx) / (width * 0.42), (yy - cy) / (height * 0.46)
    d = np.hypot(ex, ey)
    contact = np.clip((1.05 - d) / 0.12, 0.0, 1.0)
    noise = rng.normal(0.0, 0.06, size=(height, width))
    darkness = np.clip(ridges * contact * (0.85 + noise), 0.0, 1.0)
    return np.round(235 - 215 * darkness).astype(np.uint8)


def blank_image(*, width: int = WIDTH, height: int = HEIGHT, level: int = 238) -> np.ndarray:
    """What a sensor reports with nothing (or a dry finger) on the glass."""
    return np.full((height, width), level, dtype=np.uint8)


def low_contrast_image(seed: int = 0) -> np.ndarray:
    """A washed-out print: ridges present but within a few grey levels of the background."""
    print_ = synthetic_fingerprint(seed).astype(np.float64)
    return np.round(200 + (print_ - print_.mean()) * 0.3).astype(np.uint8)
