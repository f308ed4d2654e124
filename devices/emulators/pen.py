"""ISDV4 pen-only digitizer on a pty (pads.md §2.10).

Encoding here is written from the spec independently of the driver's decoder, so tests that
run the driver against the emulator cross-check two implementations rather than one with itself.
Behaviour: single command bytes at any time, unknown bytes ignored; ``*`` → one 11-byte reply;
``1`` → replay a trajectory as 9-byte packets at ``rate`` Hz (time compressed by ``speed``),
ending with a proximity-out packet; ``0`` → stop at once. Faults are injected on demand.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from dossier_station.devices.emulators.pty_device import PtyDevice
from dossier_station.devices.emulators.trajectory import (
    Trajectory,
    TrajectoryPoint,
    load_trajectory,
)


@dataclass(frozen=True)
class PenModel:
    """The emulated unit's query values; defaults are the ThinkPad X201's (§2.1)."""

    max_x: int = 26312
    max_y: int = 16520
    max_pressure: int = 255
    tilt_x_max: int = 0
    tilt_y_max: int = 0
    version: int = 992


def encode_query_reply(m: PenModel) -> bytes:
    """§2.5: byte 0 = 0xC0, 7-bit groups, low bits of X/Y and pressure high bits in byte 6."""
    return bytes((
        0xC0,
        (m.max_x >> 9) & 0x7F, (m.max_x >> 2) & 0x7F,
        (m.max_y >> 9) & 0x7F, (m.max_y >> 2) & 0x7F,
        m.max_pressure & 0x7F,
        ((m.max_x & 3) << 5) | ((m.max_y & 3) << 3) | ((m.max_pressure >> 7) & 7),
        m.tilt_x_max & 0x7F, m.tilt_y_max & 0x7F,
        (m.version >> 7) & 0x7F, m.version & 0x7F,
    ))


def encode_pen_packet(x: int, y: int, pressure: int, *, proximity: bool = True, tip: bool = False,
                      f1: bool = False, f2: bool = False, tilt_x: int = 0, tilt_y: int = 0) -> bytes:
    """§2.6 encoding: the inverse of the decoding formulas."""
    header = 0x80 | (0x20 if proximity else 0) | (4 if f2 else 0) | (2 if f1 else 0) | (1 if tip else 0)
    return bytes((
        header,
        (x >> 9) & 0x7F, (x >> 2) & 0x7F,
        (y >> 9) & 0x7F, (y >> 2) & 0x7F,
        pressure & 0x7F,
        ((x & 3) << 5) | ((y & 3) << 3) | ((pressure >> 7) & 7),
        tilt_x & 0x7F, tilt_y & 0x7F,
    ))


class PenEmulator(PtyDevice):
    """A pen-only ISDV4 unit (tablet id 0x90 class) at ``baud`` (19200 by default)."""

    def __init__(
        self,
        *,
        model: PenModel | None = None,
        baud: int = 19200,
        rate: float = 133.0,
        speed: float = 1.0,
        trajectories: list[Trajectory] | None = None,
        loop: bool = False,
        streaming: bool = False,
        start_delay: float = 0.0,
        wire_time: bool = False,
        ignore_stop: bool = False,
        touch_reply: bytes | None = None,
    ) -> None:
        super().__init__(baud=baud, wire_time=wire_time)
        self.ignore_stop = ignore_stop  # fault: a unit deaf to '0' keeps streaming
        self.touch_reply = touch_reply  # 11-byte '%' reply of a touch-capable unit, if any
        self.model = model or PenModel()
        self.rate = rate
        self.speed = speed
        self.trajectories = list(trajectories or [load_trajectory()])
        self.loop = loop
        self.start_delay = start_delay
        self.streaming = streaming
        self.replays_started = 0
        self.packets_sent = 0
        self._faults: deque[tuple[str, int]] = deque()
        self._play_start: float | None = None
        self._index = 0  # next packet index of the current replay
        self._current: Trajectory | None = None
        if streaming:
            self._begin_replay(time.monotonic())

    # -- fault injection ----------------------------------------------------------------------
    def inject_stray(self, data: bytes = b"\x13\x7f\x00") -> None:
        """Stray bytes on the line now (bytes < 0x80 are dropped by a correct framer)."""
        self.send_raw(data)

    def truncate_next(self, count: int = 1, keep: int = 5) -> None:
        """The next ``count`` packets lose their tail: only ``keep`` bytes are sent."""
        self._faults.extend([("truncate", keep)] * count)

    def overlong_next(self, count: int = 1, extra: int = 2) -> None:
        """The next ``count`` packets carry ``extra`` surplus body bytes (the X60 quirk)."""
        self._faults.extend([("overlong", extra)] * count)

    def set_silent(self, silent: bool = True) -> None:
        self.silent = silent

    # -- protocol -------------------------------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        for byte in data:
            if byte == 0x30 and not self.ignore_stop:  # '0' stop, promptly: drop the unsent
                self.streaming = False
                self._play_start = None
                self._current = None
                self._out.clear()
            elif byte == 0x31:  # '1' start
                if not self.streaming:
                    self.streaming = True
                    self._begin_replay(now + self.start_delay)
            elif byte == 0x2A:  # '*' query
                self._send_packet(encode_query_reply(self.model))
            elif byte == 0x25 and self.touch_reply is not None:  # '%' on a touch unit
                self._send_packet(self.touch_reply)
            # '%' on a pen-only unit and '&' reset: silence; anything else is ignored

    def _begin_replay(self, at: float) -> None:
        self._current = self.trajectories[min(self.replays_started, len(self.trajectories) - 1)]
        self.replays_started += 1
        self._play_start = at
        self._index = 0

    def _packet_count(self) -> int:
        assert self._current is not None
        return int(self._current.duration_ms / 1000.0 * self.rate) + 1

    def _point(self, index: int) -> TrajectoryPoint:
        assert self._current is not None
        if index >= self._packet_count() - 1:
            return self._current.points[-1]  # always end with the proximity-out packet
        return self._current.at(index * 1000.0 / self.rate)

    def tick(self, now: float) -> None:
        if not self.streaming or self._play_start is None or self._current is None:
            return
        if self.pending_output() > 512:
            return  # host not reading: do not pile up (a real UART would just be late)
        interval = 1.0 / (self.rate * self.speed) if self.speed > 0 else 0.0
        total = self._packet_count()
        while self._index < total and now >= self._play_start + self._index * interval:
            p = self._point(self._index)
            self._send_packet(encode_pen_packet(p.x, p.y, p.pressure, proximity=p.proximity,
                                                tip=p.tip))
            self._index += 1
            if self.pending_output() > 512:
                break
        if self._index >= total:
            if self.loop:
                self._begin_replay(now + 0.5 / max(self.speed, 1e-3))
            else:
                self._current = None  # pen out of range: the device sends nothing

    def _send_packet(self, packet: bytes) -> None:
        if self._faults:
            kind, n = self._faults.popleft()
            packet = packet[:n] if kind == "truncate" else packet + bytes(range(1, n + 1))
        self.packets_sent += 1
        self.send(packet)
