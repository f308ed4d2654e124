"""Wacom ISDV4 serial pen digitizer: query, resynchronising framer, proximity state, capture.

The wire protocol (``shared/specs/pads.md`` §2) has no checksum, no length byte and no clock:
bit 7 of the first byte is the only sync mark and packets are stamped by us on receipt. So the
framer is the strict xf86 one (a header byte inside a body means the packet was truncated), and
every sample carries a host monotonic timestamp, because a forensic recording needs timing the
device cannot give.
"""

from __future__ import annotations

import contextlib
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import serial

from dossier_station.core.errors import DeviceError, DeviceNotFoundError

CMD_STOP = b"0"
CMD_START = b"1"
CMD_QUERY = b"*"
CMD_TOUCH_QUERY = b"%"

PEN_PACKET_LEN = 9
CONTROL_PACKET_LEN = 11
TOUCH_PACKET_LEN = 5  # sensor id 0/2; pen-only units never send touch packets
TOUCH_LENGTH_BY_SENSOR_ID = {0: 5, 2: 5, 1: 7, 3: 7, 4: 7, 5: 13}  # §2.4
DEFAULT_BAUDS = (19200, 38400)
UNITS_PER_MM = 100  # kernel W8001_PEN_RESOLUTION


class PenError(DeviceError):
    """The pen pad did not answer, answered nonsense, or went away."""


class PenNotFoundError(DeviceNotFoundError):
    """No pen pad on that port (or the port does not exist)."""


@dataclass(frozen=True)
class PenCapabilities:
    """What the ``*`` query reports, plus how we reached the device."""

    max_x: int
    max_y: int
    max_pressure: int
    tilt_x_max: int
    tilt_y_max: int
    version: int
    port: str = ""
    baud: int = 0
    touch: bool = False  # touch panel reported by the '%' query (38400 units only)
    touch_packet_length: int = TOUCH_PACKET_LEN

    @property
    def has_tilt(self) -> bool:
        return self.tilt_x_max > 0 and self.tilt_y_max > 0

    def as_dict(self) -> dict[str, object]:
        return {
            "protocol": "Wacom ISDV4 serial",
            "port": self.port,
            "baud": self.baud,
            "max_x": self.max_x,
            "max_y": self.max_y,
            "max_pressure": self.max_pressure,
            "tilt": self.has_tilt,
            "tilt_x_max": self.tilt_x_max,
            "tilt_y_max": self.tilt_y_max,
            "firmware_version": self.version,
            "touch": self.touch,
            "units_per_mm": UNITS_PER_MM,
        }


@dataclass(frozen=True)
class PenPacket:
    """One decoded 9-byte pen packet (device units)."""

    proximity: bool
    tip: bool
    f1: bool
    f2: bool
    x: int
    y: int
    pressure: int
    tilt_x: int
    tilt_y: int


@dataclass(frozen=True)
class PenSample:
    """A pen packet as received: decoded fields, host time, and the tool the state machine saw."""

    t: float  # host time.monotonic() at receipt
    packet: PenPacket
    tool: str | None  # "pen", "eraser" or None (out of range)
    raw: bytes = b""

    @property
    def ink(self) -> bool:
        return self.tool == "pen" and self.packet.tip


def parse_query_reply(data: bytes) -> PenCapabilities:
    """Decode an 11-byte ``*`` reply (§2.5); tilt is present only if both maxima are non-zero."""
    if len(data) != CONTROL_PACKET_LEN or data[0] & 0xC0 != 0xC0:
        raise ValueError(f"not an ISDV4 query reply: {data.hex(' ')}")
    b = data
    max_x = (b[1] << 9) | (b[2] << 2) | ((b[6] >> 5) & 3)
    max_y = (b[3] << 9) | (b[4] << 2) | ((b[6] >> 3) & 3)
    max_p = ((b[6] & 7) << 7) | b[5]
    version = (b[9] << 7) | b[10]
    return PenCapabilities(max_x, max_y, max_p, b[7] & 0x7F, b[8] & 0x7F, version)


def decode_pen_packet(data: bytes) -> PenPacket:
    """Decode a 9-byte pen packet with the formulas every parser shares (§2.6)."""
    if len(data) != PEN_PACKET_LEN:
        raise ValueError(f"pen packet must be 9 bytes, got {len(data)}")
    b = data
    return PenPacket(
        proximity=bool(b[0] & 0x20),
        tip=bool(b[0] & 0x01),
        f1=bool(b[0] & 0x02),
        f2=bool(b[0] & 0x04),
        x=(b[1] << 9) | (b[2] << 2) | ((b[6] >> 5) & 3),
        y=(b[3] << 9) | (b[4] << 2) | ((b[6] >> 3) & 3),
        pressure=((b[6] & 7) << 7) | b[5],
        tilt_x=b[7] & 0x7F,
        tilt_y=b[8] & 0x7F,
    )


def packet_length(header: int, touch_length: int = TOUCH_PACKET_LEN) -> int:
    """Length implied by a header byte (§2.4)."""
    if header & 0x40:
        return CONTROL_PACKET_LEN
    if header & 0x10:
        return touch_length
    return PEN_PACKET_LEN


@dataclass
class PacketFramer:
    """Strict xf86-style resynchronising framer (§2.7).

    Bytes before a header are dropped; a header byte inside a body truncates the packet being
    built (its bytes are dropped) and starts a new one. Over-long packets fall out naturally:
    their surplus body bytes arrive without a header and are dropped as in step 1.
    """

    touch_length: int = TOUCH_PACKET_LEN
    dropped: int = 0
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        packets: list[bytes] = []
        for byte in data:
            if byte & 0x80:
                self.dropped += len(self._buf)  # truncated packet (or nothing)
                self._buf = bytearray((byte,))
            elif not self._buf:
                self.dropped += 1  # no header yet
                continue
            else:
                self._buf.append(byte)
            if len(self._buf) == packet_length(self._buf[0], self.touch_length):
                packets.append(bytes(self._buf))
                self._buf = bytearray()
        return packets


@dataclass
class ProximityTracker:
    """Kernel/xf86 eraser rule (§2.6): f2 on entering range means eraser for the whole stay."""

    tool: str | None = None

    def update(self, p: PenPacket) -> str | None:
        if not p.proximity:
            self.tool = None
        elif self.tool is None:
            self.tool = "eraser" if p.f2 else "pen"
        elif self.tool == "eraser" and not p.f2:
            self.tool = "pen"  # drivers fake eraser-out / pen-in
        return self.tool


def _plausible(caps: PenCapabilities) -> bool:
    """Line noise at a wrong baud can frame as a control packet; a real pad reports an area."""
    return caps.max_x > 0 and caps.max_y > 0 and caps.max_pressure > 0


class IsdV4Pen:
    """A pen pad on a serial port: open with baud fallback, query, stream samples, stop on close.

    Use as a context manager so the device is always told ``0`` (stop) and the port released,
    even when capture fails half way.
    """

    def __init__(
        self,
        port: str,
        *,
        bauds: tuple[int, ...] = DEFAULT_BAUDS,
        settle: float = 0.25,
        query_timeout: float = 1.0,
    ) -> None:
        self.port = port
        self.bauds = bauds
        self.settle = settle
        self.query_timeout = query_timeout
        self.serial: serial.Serial | None = None
        self.caps: PenCapabilities | None = None
        self.framer = PacketFramer()
        self.tracker = ProximityTracker()
        self.raw = bytearray()  # every byte received while streaming, verbatim (§5.1)
        self.control_packets_skipped = 0
        self.streaming = False

    # -- opening ------------------------------------------------------------------------------
    def open(self) -> PenCapabilities:
        """Try each baud in turn (§2.3); the first that yields a query reply wins."""
        for baud in self.bauds:
            self._open_port(baud)
            reply = self._query()
            if reply is not None:
                self.caps = replace(parse_query_reply(reply), port=self.port, baud=baud)
                if baud == 38400:  # xf86 asks for touch only at 38400 (§2.3 step 4)
                    self.caps = self._touch_query(self.caps)
                self.framer = PacketFramer(self.caps.touch_packet_length)
                return self.caps
            self._close_port()
        raise PenError(
            f"{self.port}: no pen pad answered the capability query at "
            f"{' or '.join(map(str, self.bauds))} baud",
            hint="check the pad's cable and power, that this is the pen pad's port, and that "
            "no other program (e.g. inputattach --w8001) holds it; then try again",
        )

    def _open_port(self, baud: int) -> None:
        try:
            self.serial = serial.Serial(self.port, baud, timeout=0.05, write_timeout=1.0,
                                        exclusive=True)
        except serial.SerialException as exc:
            raise PenNotFoundError(
                f"{self.port}: cannot open the pen pad port ({exc.strerror or exc})",
                hint="run `dossier pads list` to see the ports; check the cable, "
                "that the pad is plugged in and that no other program uses the port",
            ) from None

    def _query(self) -> bytes | None:
        """Stop, settle, flush, ask ``*``, and look for a control packet for up to 1 s."""
        self._write(CMD_STOP)
        time.sleep(self.settle)
        self._read_available()  # discard stale stream
        self._flush_input()
        self._write(CMD_QUERY)
        framer = PacketFramer()
        deadline = time.monotonic() + self.query_timeout
        while time.monotonic() < deadline:
            for packet in framer.feed(self._read_some()):
                if packet[0] == 0xC0 and _plausible(parse_query_reply(packet)):
                    return packet
        return None

    def _touch_query(self, caps: PenCapabilities, timeout: float = 0.25) -> PenCapabilities:
        """``%``: a reply with byte 1 ≠ 0 means touch; none, or byte 1 = 0, means pen only.

        Only the packet length matters here: touch packets must be framed to be skipped.
        """
        self._write(CMD_TOUCH_QUERY)
        framer = PacketFramer()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for packet in framer.feed(self._read_some()):
                if packet[0] & 0xC0 == 0xC0 and packet[0] != 0xC0:
                    if packet[1] == 0:
                        return caps
                    length = TOUCH_LENGTH_BY_SENSOR_ID.get(packet[2] & 7, TOUCH_PACKET_LEN)
                    return replace(caps, touch=True, touch_packet_length=length)
        return caps

    # -- streaming ----------------------------------------------------------------------------
    def start(self) -> None:
        length = self.caps.touch_packet_length if self.caps else TOUCH_PACKET_LEN
        self.framer = PacketFramer(length)
        self.tracker = ProximityTracker()
        self.raw = bytearray()
        self._flush_input()  # nothing from a previous stream belongs to this one
        self._write(CMD_START)
        self.streaming = True

    def stop(self) -> None:
        if self.serial is not None and self.streaming:
            self._write(CMD_STOP)
        self.streaming = False

    def poll(self) -> list[PenSample]:
        """Read what is pending (up to the port's short timeout) and return decoded samples."""
        data = self._read_some()
        now = time.monotonic()
        self.raw += data
        samples: list[PenSample] = []
        for packet in self.framer.feed(data):
            if packet[0] & 0x40 or packet[0] & 0x10:
                self.control_packets_skipped += 1  # control/touch while streaming: skip all
                continue
            decoded = decode_pen_packet(packet)
            samples.append(PenSample(now, decoded, self.tracker.update(decoded), packet))
        return samples

    def samples(self, *, until: float) -> Iterator[PenSample]:
        """Yield samples until the monotonic deadline ``until`` (caller decides when to stop)."""
        while time.monotonic() < until:
            yield from self.poll()

    # -- low level ----------------------------------------------------------------------------
    def _ser(self) -> serial.Serial:
        if self.serial is None:
            raise PenError(f"{self.port}: pen pad is not open", hint="open it first")
        return self.serial

    def _write(self, data: bytes) -> None:
        try:
            self._ser().write(data)
        except (serial.SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from None

    def _read_some(self) -> bytes:
        ser = self._ser()
        try:
            return ser.read(max(1, ser.in_waiting))
        except (serial.SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from None

    def _flush_input(self) -> None:
        try:
            self._ser().reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from None

    def _read_available(self, limit: float = 1.0) -> bytes:
        """Drain pending input, but never for longer than ``limit`` s (a unit deaf to ``0``)."""
        chunks = bytearray()
        deadline = time.monotonic() + limit
        while (chunk := self._read_some()) and time.monotonic() < deadline:
            chunks += chunk
        return bytes(chunks)

    def _gone(self, exc: Exception) -> PenError:
        self._close_port()
        self.streaming = False
        return PenError(
            f"{self.port}: the pen pad stopped responding (disconnected?): {exc}",
            hint="check the pad's cable is plugged in, then start the signature again",
        )

    def _close_port(self) -> None:
        if self.serial is not None:
            with contextlib.suppress(serial.SerialException, OSError, termios.error):
                self.serial.close()
            self.serial = None

    def close(self) -> None:
        """Send ``0`` (stop) and release the port; never raises, so it is safe in ``finally``."""
        if self.serial is not None:
            with contextlib.suppress(serial.SerialException, OSError, termios.error):
                self.serial.write(CMD_STOP)
                self.serial.flush()
        self.streaming = False
        self._close_port()

    def __enter__(self) -> IsdV4Pen:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
