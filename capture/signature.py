"""The signing ceremony: one handwritten signature and one fingerprint into a capture package.

An officer runs it at the end of a transcript; the suspect signs and presses a finger. Each
step has its own quality check and a bounded number of attempts, because a bad capture noticed
now costs a second, while one noticed in court costs the evidence. Device faults surface as
:class:`station.errors.DeviceError` with the port and what to do; nothing here hangs longer
than the configured timeouts.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from dossier_station.capture.signature_package import (
    FingerRecording,
    PenRecording,
    check_output_dir,
    write_package,
)
from dossier_station.core.errors import BadArgsError, DeviceError, ProfileError
from dossier_station.core.profile import Profile, check_keys
from dossier_station.devices.fingerprint_zfm import (
    DEFAULT_BAUD,
    FingerprintQualityError,
    ZfmSensor,
    confirmation_message,
)
from dossier_station.devices.pen_isdv4 import DEFAULT_BAUDS, IsdV4Pen, PenSample

PADS_KEYS = {"pen_port", "finger_port", "pen_baud", "finger_baud", "finger_password",
             "attempts", "pen_timeout", "pen_idle", "finger_timeout", "min_ink_points",
             "min_ink_length_mm", "station", "operator"}


class CaptureQualityError(DeviceError):
    """Every attempt produced an unusable signature or fingerprint."""


class CaptureTimeout(DeviceError):
    """Nobody signed or pressed within the allowed time."""


@dataclass(frozen=True)
class SignatureCaptureOptions:
    pen_port: str = ""
    finger_port: str = ""
    signer: str = ""
    operator: str = ""
    station: str = field(default_factory=socket.gethostname)
    attempts: int = 3
    pen_bauds: tuple[int, ...] = DEFAULT_BAUDS
    pen_timeout: float = 60.0  # wait for the first pen-down
    pen_idle: float = 2.0  # pen out of range this long after ink = signature finished
    pen_max: float = 120.0  # hard limit on one signature
    pen_settle: float = 0.25
    finger_baud: int = DEFAULT_BAUD
    finger_password: int = 0
    finger_timeout: float = 30.0
    finger_poll: float = 0.1
    min_ink_points: int = 20
    min_ink_length_mm: float = 10.0

    @classmethod
    def from_profile(cls, profile: Profile, **overrides: Any) -> SignatureCaptureOptions:
        """``[pads]`` of the station profile, then command-line values (None = not given)."""
        section = dict(profile.section("pads"))
        check_keys(section, PADS_KEYS, "pads")
        types = {f.name: type(f.default) for f in fields(cls) if f.default is not MISSING}
        for key, value in section.items():
            want = {"pen_baud": int}.get(key, types.get(key, str))
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or isinstance(value, bool):
                raise ProfileError(f"profile [pads] {key} = {value!r}: expected {want.__name__}",
                                   hint=f"write it as a TOML {want.__name__}")
        if "pen_baud" in section:
            section["pen_bauds"] = (section.pop("pen_baud"),)
        section.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**section)


# (level, message); levels: "status" (a new step), "progress" (frequent live detail a log may
# skip), "warn" (asked again), "ok" (a step done)
Reporter = Callable[[str, str], None]


def _quiet(_level: str, _message: str) -> None:
    pass


def check_signature(rec: PenRecording, opts: SignatureCaptureOptions) -> str | None:
    """Why this signature is unusable, or None."""
    ink = len(rec.ink_samples)
    if ink < opts.min_ink_points:
        return f"signature too short: only {ink} pen-down points (need {opts.min_ink_points})"
    length = rec.ink_length_mm()
    if length < opts.min_ink_length_mm:
        return f"signature too small: {length:.1f} mm of ink (need {opts.min_ink_length_mm:g} mm)"
    return None


def check_fingerprint(image: np.ndarray) -> str | None:
    """Blank or washed-out images carry no ridges worth keeping; the sensor may still accept them."""
    lo, hi = np.percentile(image, [5, 95])
    if hi - lo < 2 * 17:
        return "fingerprint image is blank: no finger print visible"
    dark = float(np.mean(image < (lo + hi) / 2))
    if hi - lo < 6 * 17 or dark < 0.05:
        return f"fingerprint image has too little contrast (range {int(hi - lo)} of 255)"
    return None


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _record_once(pen: IsdV4Pen, opts: SignatureCaptureOptions, report: Reporter) -> PenRecording:
    """Stream until ink has been seen and the pen has left range for ``pen_idle`` seconds
    (or has written nothing for three times that, e.g. left lying in range)."""
    assert pen.caps is not None
    pen.start()
    start_utc = _utc_now()
    began = time.monotonic()
    samples: list[PenSample] = []
    first_ink: float | None = None
    last_ink: float | None = None
    last_activity = began
    in_range = False
    shown, last_state = 0.0, ""
    try:
        while True:
            now = time.monotonic()
            batch = pen.poll()
            if batch:
                if not samples:
                    start_utc = _utc_now()
                samples += batch
                on_ink = getattr(report, "on_ink", None)  # a live view (the station UI) draws the strokes as they come
                if on_ink is not None:
                    on_ink(pen.caps, batch)
                last_activity = batch[-1].t
                in_range = batch[-1].packet.proximity
                if any(s.ink for s in batch):
                    last_ink = batch[-1].t
                if first_ink is None and last_ink is not None:
                    first_ink = last_ink
                    report("status", "signing… (lift the pen away from the pad when done)")
                state = ("pen on the pad" if batch[-1].ink else "pen up" if in_range
                         else f"pen away, finishing in {opts.pen_idle:g} s")
                if first_ink is not None and (state != last_state or now - shown > 0.2):
                    shown, last_state = now, state
                    ink = sum(1 for s in samples if s.ink)
                    report("progress", f"signing… points: {ink} ({state})")
            if first_ink is None:
                if now - began > opts.pen_timeout:
                    raise CaptureTimeout(
                        f"{pen.port}: no signature on the pen pad within {opts.pen_timeout:g} s",
                        hint="hand the pen to the signer and run the capture again")
                continue
            if not in_range and now - last_activity >= opts.pen_idle:
                break  # pen taken away from the pad: done
            if last_ink is not None and now - last_ink >= 3 * opts.pen_idle:
                break  # pen left hovering or resting without writing: done
            if now - first_ink > opts.pen_max:
                report("warn", f"signature longer than {opts.pen_max:g} s; stopping it there")
                break
    finally:
        pen.stop()
    rec = PenRecording(pen.caps, samples, bytes(pen.raw), start_utc, pen.framer.dropped)
    if any(s.tool == "eraser" for s in samples):
        rec.flags.append("eraser-used")
    if rec.dropped_bytes:
        rec.flags.append(f"{rec.dropped_bytes}-bytes-dropped-by-framer")
    return rec


def capture_pen(opts: SignatureCaptureOptions, report: Reporter = _quiet) -> tuple[PenRecording, int]:
    with IsdV4Pen(opts.pen_port, bauds=opts.pen_bauds, settle=opts.pen_settle) as pen:
        assert pen.caps is not None
        report("ok", f"pen pad on {pen.port}: {pen.caps.baud} baud, "
               f"{pen.caps.max_x}×{pen.caps.max_y}, pressure 0–{pen.caps.max_pressure}")
        problem = ""
        for attempt in range(1, opts.attempts + 1):
            report("status", f"signature {attempt}/{opts.attempts}: {opts.signer}, please sign "
                   "on the pad")
            rec = _record_once(pen, opts, report)
            problem = check_signature(rec, opts) or ""
            if not problem:
                report("ok", f"signature captured: {len(rec.ink_samples)} points, "
                       f"{len(rec.strokes())} strokes, {rec.ink_length_mm():.0f} mm of ink")
                return rec, attempt
            report("warn", f"{problem}; please sign again")
    raise CaptureQualityError(
        f"{opts.pen_port}: no usable signature after {opts.attempts} attempt(s): {problem}",
        hint="ask the signer to write the full name, larger, then run the capture again")


def capture_finger(opts: SignatureCaptureOptions, report: Reporter = _quiet) -> tuple[FingerRecording, int]:
    with ZfmSensor(opts.finger_port, baud=opts.finger_baud, password=opts.finger_password) as fp:
        assert fp.params is not None
        report("ok", f"fingerprint sensor on {fp.port}: {fp.baud} baud, "
               f"library {fp.params.library_size}, packet {fp.params.packet_size} B")
        problem = ""
        for attempt in range(1, opts.attempts + 1):
            report("status", f"fingerprint {attempt}/{opts.attempts}: press a finger flat on the "
                   "sensor")
            fp.wait_for_finger(opts.finger_timeout, poll=opts.finger_poll)
            when = _utc_now()
            try:
                fp.img2tz(1)
            except FingerprintQualityError as exc:
                problem = confirmation_message(exc.code or 0)
                report("warn", problem)
                continue
            report("status", "reading the fingerprint image…")
            image = fp.up_image(on_packet=lambda done, total: report(
                "progress", f"reading the fingerprint image… {100 * done // total}%"))
            problem = check_fingerprint(image) or ""
            if not problem:
                sensor = {"protocol": "ZFM/R30x EF01", "port": fp.port, "baud": fp.baud,
                          **fp.params.as_dict()}
                report("ok", "fingerprint captured")
                return FingerRecording(image, sensor, when), attempt
            report("warn", f"{problem}; lift the finger and press again")
    raise CaptureQualityError(
        f"{opts.finger_port}: no usable fingerprint after {opts.attempts} attempt(s): {problem}",
        hint="clean the sensor glass and the finger, then run the capture again")


def capture_signature(opts: SignatureCaptureOptions, out_dir: Path,
                      report: Reporter = _quiet, document: dict[str, object] | None = None) -> Path:
    """The whole ceremony; the package is written only when both captures are good.

    ``document`` (``{"sha256": …, "name": …}``) binds the capture to the transcript the signer
    read: it is recorded in the manifest at the moment of capture, and ``dossier sign
    --capture`` refuses the package for any other file.
    """
    if not opts.signer.strip():
        raise BadArgsError("the signer's name is empty", hint="pass --signer \"姓名\"")
    check_output_dir(out_dir)  # before anyone signs: a refused folder must not waste a signature
    pen, pen_attempts = capture_pen(opts, report)
    finger, finger_attempts = capture_finger(opts, report)
    meta = {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "station": opts.station,
        "operator": opts.operator,
        "signer": opts.signer,
        "attempts": {"signature": pen_attempts, "fingerprint": finger_attempts},
    }
    if document is not None:
        meta["document"] = dict(document)
    path = write_package(out_dir, pen, finger, meta)
    report("ok", f"capture package written to {path}")
    return path
