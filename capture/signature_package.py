"""The signature capture package on disk (format ``dossier-signature-capture/1``).

The package is evidence: every part is written once and fsynced, the manifest (written last)
records the SHA-256 of each part, and the whole directory appears under its final name only
when complete (built as ``<name>.partial`` and renamed), so a crash never leaves a package that
looks finished. Samples stay in native device units with host timestamps; the PNGs are
derived views. The format is documented in ``docs/capture-package.md``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dossier_station.core.errors import OutputError
from dossier_station.core.files import fsync_dir, sha256_bytes
from dossier_station.devices.pen_isdv4 import UNITS_PER_MM, PenCapabilities, PenSample

PACKAGE_FORMAT = "dossier-signature-capture/1"
SAMPLES_FORMAT = "dossier-signature-samples/1"
RENDER_PX_PER_MM = 12
INK_RGBA = (16, 32, 74, 255)


@dataclass
class PenRecording:
    caps: PenCapabilities
    samples: list[PenSample]
    raw: bytes
    start_utc: str
    dropped_bytes: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def ink_samples(self) -> list[PenSample]:
        return [s for s in self.samples if s.ink]

    def strokes(self) -> list[list[PenSample]]:
        """Runs of consecutive ink samples (pen tip down, not the eraser)."""
        out: list[list[PenSample]] = []
        current: list[PenSample] = []
        for s in self.samples:
            if s.ink:
                current.append(s)
            elif current:
                out.append(current)
                current = []
        if current:
            out.append(current)
        return out

    def ink_length_mm(self) -> float:
        total = 0.0
        for stroke in self.strokes():
            for a, b in zip(stroke, stroke[1:], strict=False):
                total += float(np.hypot(b.packet.x - a.packet.x, b.packet.y - a.packet.y))
        return total / UNITS_PER_MM


@dataclass
class FingerRecording:
    image: np.ndarray  # 8-bit grey, expanded from the 4-bit UART image
    sensor: dict[str, object]
    time_utc: str


def samples_document(rec: PenRecording) -> dict[str, object]:
    """ISO/IEC 19794-7-style channels in native units (pads.md §5.1), hover included."""
    caps = rec.caps
    t0 = rec.samples[0].t if rec.samples else 0.0
    rows = [[round((s.t - t0) * 1000, 3), s.packet.x, s.packet.y, s.packet.pressure,
             int(s.packet.tip), int(s.packet.proximity), int(s.packet.f1), int(s.packet.f2),
             s.tool, s.packet.tilt_x, s.packet.tilt_y] for s in rec.samples]
    return {
        "format": SAMPLES_FORMAT,
        "channels_after": "ISO/IEC 19794-7 (X, Y, T, F, S; native units, no force scaling)",
        "device": caps.as_dict(),
        "start_utc": rec.start_utc,
        "channels": [
            {"name": "T", "column": "t_ms", "unit": "ms",
             "meaning": "host monotonic receive time since the first sample (ISDV4 has no clock)"},
            {"name": "X", "column": "x", "unit": "device units (100/mm)", "min": 0, "max": caps.max_x},
            {"name": "Y", "column": "y", "unit": "device units (100/mm)", "min": 0, "max": caps.max_y},
            {"name": "F", "column": "pressure", "unit": "raw pressure (not newtons)", "min": 0,
             "max": caps.max_pressure},
            {"name": "S", "column": "tip", "meaning": "tip switch: 1 = pen down (ink)"},
            {"name": "PROX", "column": "proximity", "meaning": "1 = pen in range (hover or ink)"},
            {"name": "F1", "column": "f1", "meaning": "side switch 1"},
            {"name": "F2", "column": "f2", "meaning": "side switch 2 or eraser end"},
            {"name": "TOOL", "column": "tool", "meaning": "pen / eraser / null (out of range)"},
            {"name": "TX", "column": "tilt_x", "meaning": "tilt, 0 on units without tilt"},
            {"name": "TY", "column": "tilt_y", "meaning": "tilt, 0 on units without tilt"},
        ],
        "columns": ["t_ms", "x", "y", "pressure", "tip", "proximity", "f1", "f2", "tool",
                    "tilt_x", "tilt_y"],
        "samples": rows,
        "sample_count": len(rows),
        "ink_sample_count": len(rec.ink_samples),
        "stroke_count": len(rec.strokes()),
        "ink_length_mm": round(rec.ink_length_mm(), 2),
        "duration_ms": rows[-1][0] if rows else 0,
        "raw_stream": {"file": "signature.isdv4", "bytes": len(rec.raw),
                       "sha256": sha256_bytes(rec.raw),
                       "dropped_bytes": rec.dropped_bytes},
        "flags": rec.flags,
    }


def render_signature(rec: PenRecording, *, px_per_mm: int = RENDER_PX_PER_MM, scale: int = 4) -> bytes:
    """Pressure-weighted strokes on a transparent background, supersampled for smooth edges."""
    ink = rec.ink_samples
    if not ink:
        raise OutputError("nothing to render: the signature has no pen-down samples",
                          hint="capture the signature again")
    xs = [s.packet.x for s in ink]
    ys = [s.packet.y for s in ink]
    margin = 3 * UNITS_PER_MM
    x0, y0 = min(xs) - margin, min(ys) - margin
    k = px_per_mm * scale / UNITS_PER_MM
    size = (int((max(xs) + margin - x0) * k) + 1, int((max(ys) + margin - y0) * k) + 1)
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    max_p = max(rec.caps.max_pressure, 1)
    for stroke in rec.strokes():
        for a, b in zip(stroke, stroke[1:] or stroke, strict=False):
            p = (a.packet.pressure + b.packet.pressure) / 2 / max_p
            width = max(1, round((0.2 + 0.5 * p) * px_per_mm * scale))
            pa = ((a.packet.x - x0) * k, (a.packet.y - y0) * k)
            pb = ((b.packet.x - x0) * k, (b.packet.y - y0) * k)
            draw.line([pa, pb], fill=INK_RGBA, width=width)
            r = width / 2
            draw.ellipse([pb[0] - r, pb[1] - r, pb[0] + r, pb[1] + r], fill=INK_RGBA)
    img = img.resize((max(1, size[0] // scale), max(1, size[1] // scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(px_per_mm * 25.4, px_per_mm * 25.4))
    return buf.getvalue()


def fingerprint_png(image: np.ndarray, nominal_ppi: int = 500) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image.astype(np.uint8)).save(buf, format="PNG", dpi=(nominal_ppi, nominal_ppi))
    return buf.getvalue()


def _write_once(path: Path, data: bytes) -> dict[str, object]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return {"file": path.name, "bytes": len(data), "sha256": sha256_bytes(data)}


def _json_bytes(doc: object) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _samples_json_bytes(doc: dict[str, object]) -> bytes:
    """Readable header, then one sample per line (a 10 s signature stays diffable and small)."""
    rows = doc["samples"]
    head = json.dumps({k: v for k, v in doc.items() if k != "samples"}, ensure_ascii=False,
                      indent=1)
    body = ",\n".join("  " + json.dumps(row, ensure_ascii=False, separators=(",", ":"))
                      for row in rows)  # type: ignore[union-attr]
    return (head[:-2] + ',\n "samples": [\n' + body + "\n ]\n}\n").encode("utf-8")


def check_output_dir(out_dir: Path) -> None:
    """Packages are written once: refuse a folder that already holds anything."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputError(f"{out_dir}: already exists and is not an empty folder",
                          hint="capture packages are written once; choose a new -o folder")


def write_package(out_dir: Path, pen: PenRecording, finger: FingerRecording,
                  meta: dict[str, object]) -> Path:
    """Write all parts into ``<out>.partial``, manifest last, then rename into place."""
    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    partial = out_dir.with_name(out_dir.name + ".partial")
    try:
        if partial.exists():
            shutil.rmtree(partial)  # leftovers of a crashed run: never complete, never hashed
        partial.mkdir(parents=True)
        parts = [
            {"role": "signature-samples", "media_type": "application/json",
             **_write_once(partial / "signature.json", _samples_json_bytes(samples_document(pen)))},
            {"role": "signature-raw-stream", "media_type": "application/octet-stream",
             "encoding": "ISDV4 serial bytes as received while streaming",
             **_write_once(partial / "signature.isdv4", pen.raw)},
            {"role": "signature-image", "media_type": "image/png",
             "derived_from": "signature.json",
             **_write_once(partial / "signature.png", render_signature(pen))},
            {"role": "fingerprint-image", "media_type": "image/png",
             "width": int(finger.image.shape[1]), "height": int(finger.image.shape[0]),
             "bits_per_pixel": 8, "source_bits_per_pixel": 4,
             "resolution_ppi": 500, "resolution_note": "nominal, unverified",
             **_write_once(partial / "fingerprint.png", fingerprint_png(finger.image))},
        ]
        manifest = {
            "format": PACKAGE_FORMAT,
            **meta,
            "signature": {"start_utc": pen.start_utc, "samples": len(pen.samples),
                          "ink_samples": len(pen.ink_samples), "strokes": len(pen.strokes()),
                          "ink_length_mm": round(pen.ink_length_mm(), 2), "flags": pen.flags},
            "fingerprint": {"time_utc": finger.time_utc},
            "devices": {"pen": pen.caps.as_dict(), "fingerprint": finger.sensor},
            "parts": parts,
        }
        _write_once(partial / "manifest.json", _json_bytes(manifest))
        fsync_dir(partial)
        if out_dir.exists():
            out_dir.rmdir()
        os.rename(partial, out_dir)
        fsync_dir(out_dir.parent)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot write the capture package: {exc.strerror or exc}",
                          hint="check the folder is writable and the disk has space") from None
    return out_dir
