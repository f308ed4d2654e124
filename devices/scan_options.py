"""Scan options as a value object, and their negotiation against what a device offers.

NAPS2's shape: the request is a frozen dataclass; the device's option constraints are read and
the request mapped onto them — vendor ``source``/``mode`` strings by pattern, the resolution to
the device's list or range — and a value the device cannot do is an error naming what it can.
These functions are pure, so they are tested without a device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dossier_station.core.errors import BadArgsError

SANE_FIXED = 65536.0
MODE_PATTERNS = {
    "color": ("color", "colour", "rgb", "24bit", "true gray"),
    "gray": ("gray", "grey", "8bit", "grayscale"),
    "lineart": ("lineart", "line art", "binary", "black & white", "bw", "halftone", "1bit"),
}
SOURCE_PATTERNS = {
    "adf-duplex": ("adf duplex", "duplex", "2-sided", "two-sided", "dp", "adf back"),
    "adf": ("automatic document feeder", "adf", "feeder", "adf front", "document feeder"),
    "flatbed": ("flatbed", "platen", "glass", "normal", "document table"),
}

# What the clerk is told for each SANE status that stops a batch.
FAULTS = {
    "JAMMED": "paper jam in the feeder: open the feeder, remove the jammed sheet, put it back on top of the unscanned pages",
    "COVER_OPEN": "the scanner cover is open: close it",
    "DEVICE_BUSY": "the scanner is busy (another program may be using it): close that program or wait",
    "IO_ERROR": "communication with the scanner failed: check its cable and power",
    "NO_DOCS": "the document feeder is empty: load the pages",
    "ACCESS_DENIED": "access to the scanner was denied: check the station's permissions",
    "NO_MEM": "the scanner ran out of memory: scan at a lower resolution or fewer pages at a time",
}


@dataclass(frozen=True)
class ScanSettings:
    device: str | None = None
    dpi: int = 300
    mode: str = "color"  # color | gray | lineart
    source: str = "adf"  # flatbed | adf | adf-duplex
    page_mm: tuple[float, float] | None = None  # width, height; None = the largest area
    brightness: int | None = None
    contrast: int | None = None
    source_name: str | None = None  # exact vendor string (profile override per model)
    extra: tuple[tuple[str, Any], ...] = ()  # further raw device options, by name

    def __post_init__(self) -> None:
        if self.mode not in MODE_PATTERNS:
            raise BadArgsError(f"colour mode {self.mode!r} is not known", hint="use color, gray or lineart")
        if self.source not in SOURCE_PATTERNS:
            raise BadArgsError(f"source {self.source!r} is not known", hint="use flatbed, adf or adf-duplex")


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    vendor: str
    model: str
    kind: str = ""


@dataclass
class PageRecord:
    seq: int
    file: str
    sha256: str
    bytes: int
    width: int
    height: int
    dpi: int
    mode: str
    side: str
    time: str
    thumb: str = ""
    fingerprint: list[int] = field(default_factory=list)  # 8×8 grey thumbnail, for re-feed checks


def pick_string(wanted: str, patterns: dict[str, tuple[str, ...]], offered: list[str], what: str, exact: str | None = None) -> str:
    """Map our name (``adf``) to the device's string (``Automatic Document Feeder``)."""
    if exact:
        if exact in offered:
            return exact
        raise BadArgsError(f"the scanner has no {what} {exact!r}", hint=f"it offers: {', '.join(offered)}")
    lowered = {o.lower(): o for o in offered}
    for pattern in patterns[wanted]:
        for low, original in lowered.items():
            if low == pattern:
                return original
    for pattern in patterns[wanted]:
        for low, original in lowered.items():
            others = [p for k, ps in patterns.items() if k != wanted for p in ps if len(p) > len(pattern)]
            matches = pattern in low.split() or (len(pattern) > 3 and pattern in low)
            if matches and not any(o in low for o in others):
                return original
    raise BadArgsError(f"the scanner cannot scan {what} {wanted!r}", hint=f"it offers: {', '.join(offered)}")


def pick_resolution(dpi: int, constraint: Any, fixed: bool) -> int | float:
    """The requested dpi if the device can do it; otherwise an error naming the nearest ones."""
    scale = SANE_FIXED if fixed else 1.0
    if isinstance(constraint, tuple) and len(constraint) == 3:  # range (min, max, step)
        lo, hi, step = (v / scale for v in constraint)
        ok = lo <= dpi <= hi and (not step or abs(((dpi - lo) / step) - round((dpi - lo) / step)) < 1e-6)
        if ok:
            return int(dpi * scale) if fixed else dpi
        raise BadArgsError(f"the scanner cannot scan at {dpi} dpi", hint=f"it can do {lo:g}–{hi:g} dpi" + (f" in steps of {step:g}" if step else ""))
    if isinstance(constraint, list) and constraint:
        values = sorted(v / scale for v in constraint)
        if dpi in values:
            return int(dpi * scale) if fixed else dpi
        nearest = sorted(values, key=lambda v: abs(v - dpi))[:3]
        raise BadArgsError(f"the scanner cannot scan at {dpi} dpi", hint=f"nearest resolutions it offers: {', '.join(f'{v:g}' for v in sorted(nearest))}")
    return int(dpi * scale) if fixed else dpi



def raw_value(option: Any, value: Any) -> Any:
    """A user's text value ("yes", "200", "0.5") as the SANE type of ``option`` wants it."""
    kind = str(option.val_type)
    if "Bool" in kind:
        return 1 if str(value).lower() in ("1", "yes", "true", "on") else 0
    if "Fixed" in kind:
        return int(float(value) * SANE_FIXED)
    if "Int" in kind:
        return int(value)
    return str(value)
