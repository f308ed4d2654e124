"""ZFM-20 / AS608 / R30x fingerprint module over the "EF01" serial protocol (pads.md §3).

The parser is stricter than the Adafruit library's: checksum *and* address are verified and a
bad frame costs one byte of rescan, not the whole reply, so a stray 0x55 ready byte or line
noise never turns into a wrong answer. Reply lengths are fixed per instruction, so a reply of
the wrong length is a protocol error rather than something to guess around. Every confirmation
code maps to a sentence an officer can act on.
"""

from __future__ import annotations

import contextlib
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import serial

from dossier_station.core.errors import DeviceError, DeviceNotFoundError

HEADER = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
DEFAULT_BAUD = 57600
PID_COMMAND, PID_DATA, PID_ACK, PID_END = 0x01, 0x02, 0x07, 0x08
VALID_PIDS = frozenset((PID_COMMAND, PID_DATA, PID_ACK, PID_END))
IMAGE_WIDTH, IMAGE_HEIGHT = 256, 288
PACKET_SIZES = {0: 32, 1: 64, 2: 128, 3: 256}

# instruction codes (§3.3) and the ACK LEN each one answers with
GEN_IMG, IMG2TZ, UP_IMAGE, READ_SYS_PARA, VFY_PWD, TEMPLATE_NUM = 0x01, 0x02, 0x0A, 0x0F, 0x13, 0x1D
ACK_LEN = {GEN_IMG: 3, IMG2TZ: 3, UP_IMAGE: 3, READ_SYS_PARA: 19, VFY_PWD: 3, TEMPLATE_NUM: 5}

CONFIRMATION_MESSAGES: dict[int, str] = {
    0x00: "OK",
    0x01: "the sensor did not receive the command correctly (line noise); try again",
    0x02: "no finger on the sensor",
    0x03: "the sensor could not take the image; lift the finger and press again",
    0x06: "image too blurry or smudged, press again (clean the glass and the finger)",
    0x07: "too little of the finger was on the sensor; press the whole fingertip flat, again",
    0x08: "the two fingerprints do not match",
    0x09: "no matching fingerprint in the sensor's library",
    0x0A: "the fingerprint captures could not be merged; capture again",
    0x0B: "template slot number is outside the sensor's library",
    0x0C: "the stored template could not be read or is invalid",
    0x0D: "the sensor failed to send the template",
    0x0E: "the sensor cannot receive the data that follows",
    0x0F: "the sensor has no image to send; press the finger again",
    0x10: "the sensor failed to delete the template",
    0x11: "the sensor failed to clear its library",
    0x13: "wrong sensor password; check the fingerprint password in the station profile",
    0x15: "no valid image in the sensor; press the finger again",
    0x18: "the sensor's flash memory failed (read/write error); the module may need service",
    0x19: "undefined sensor error; unplug and reconnect the sensor",
    0x1A: "invalid sensor register number",
    0x1B: "wrong sensor register configuration",
    0x1C: "wrong sensor notepad page",
    0x1D: "the sensor's communication port failed; reconnect it",
    0x20: "the sensor has a different address; check the address in the station profile",
    0x21: "the sensor password must be verified first; set it in the station profile",
    0x55: "module OK",
}


def confirmation_message(code: int) -> str:
    return CONFIRMATION_MESSAGES.get(code, f"unknown sensor reply code 0x{code:02X}")


class FingerprintError(DeviceError):
    """The sensor answered with an error, answered nonsense, or did not answer."""

    def __init__(self, message: str, *, hint: str | None = None, code: int | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class FingerprintNotFoundError(DeviceNotFoundError):
    """No fingerprint sensor on that port (or the port does not exist)."""


class FingerprintQualityError(FingerprintError):
    """The sensor judged the image unusable (blurry, too few features); ask for another press."""


class FingerprintTimeout(FingerprintError):
    """Nothing (valid) arrived within the configured time."""


def checksum(pid: int, length: int, payload: bytes) -> int:
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def build_frame(pid: int, payload: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    """Frame per §3.2: header, address, PID, LEN (= payload + 2), payload, checksum."""
    length = len(payload) + 2
    return (HEADER + address.to_bytes(4, "big") + bytes((pid,)) + length.to_bytes(2, "big")
            + payload + checksum(pid, length, payload).to_bytes(2, "big"))


@dataclass(frozen=True)
class Frame:
    pid: int
    payload: bytes
    address: int


@dataclass
class FrameParser:
    """Incremental strict parser (§3.9): scan for EF 01, check PID/LEN, checksum, address."""

    address: int = DEFAULT_ADDRESS
    dropped: int = 0
    bad_checksums: int = 0
    _buf: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while frame := self._next():
            frames.append(frame)
        return frames

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self.dropped += n

    def _next(self) -> Frame | None:
        buf = self._buf
        while True:
            start = buf.find(HEADER)
            if start < 0:
                self._drop(len(buf) - 1 if buf.endswith(b"\xef") else len(buf))
                return None
            self._drop(start)
            if len(buf) < 9:
                return None
            pid, length = buf[6], int.from_bytes(buf[7:9], "big")
            if pid not in VALID_PIDS or not 3 <= length <= 258:
                self._drop(1)
                continue
            if len(buf) < 9 + length:
                return None
            payload = bytes(buf[9 : 7 + length])
            got = int.from_bytes(buf[7 + length : 9 + length], "big")
            address = int.from_bytes(buf[2:6], "big")
            if got != checksum(pid, length, payload):
                self.bad_checksums += 1
                self._drop(1)
                continue
            if address != self.address:
                self._drop(1)
                continue
            del buf[: 9 + length]
            return Frame(pid, payload, address)


@dataclass(frozen=True)
class SystemParameters:
    """ReadSysPara reply (§3.5)."""

    status: int
    system_id: int
    library_size: int
    security_level: int
    address: int
    packet_size: int  # bytes per data packet
    baud: int

    @classmethod
    def from_payload(cls, p: bytes) -> SystemParameters:
        words = [int.from_bytes(p[i : i + 2], "big") for i in range(0, 16, 2)]
        return cls(words[0], words[1], words[2], words[3], int.from_bytes(p[8:12], "big"),
                   PACKET_SIZES.get(words[6], 128), 9600 * words[7])

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "system_id": self.system_id,
                "library_size": self.library_size, "security_level": self.security_level,
                "address": f"0x{self.address:08X}", "packet_size": self.packet_size,
                "baud_setting": self.baud}


def unpack_4bit_image(data: bytes, width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT) -> np.ndarray:
    """Two pixels per byte, high nibble left (§3.6), expanded to 8-bit grey by ×17."""
    if len(data) != width * height // 2:
        raise ValueError(f"image data is {len(data)} bytes, expected {width * height // 2}")
    packed = np.frombuffer(data, dtype=np.uint8)
    pixels = np.empty(packed.size * 2, dtype=np.uint8)
    pixels[0::2] = packed >> 4
    pixels[1::2] = packed & 0x0F
    return (pixels * 17).reshape(height, width)


class ZfmSensor:
    """A fingerprint module on a serial port; use as a context manager to release the port."""

    def __init__(
        self,
        port: str,
        *,
        baud: int = DEFAULT_BAUD,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        timeout: float = 2.0,
        packet_timeout: float = 1.0,
    ) -> None:
        self.port = port
        self.baud = baud
        self.address = address
        self.password = password
        self.timeout = timeout
        self.packet_timeout = packet_timeout
        self.serial: serial.Serial | None = None
        self.parser = FrameParser(address)
        self.params: SystemParameters | None = None
        self._pending: list[Frame] = []

    def open(self) -> SystemParameters:
        """Open, verify the password (confirms the link, too) and read the system parameters."""
        try:
            self.serial = serial.Serial(self.port, self.baud, timeout=0.05, write_timeout=1.0,
                                        exclusive=True)
        except serial.SerialException as exc:
            raise FingerprintNotFoundError(
                f"{self.port}: cannot open the fingerprint sensor port ({exc.strerror or exc})",
                hint="run `dossier pads list` to see the ports; check the sensor's cable",
            ) from None
        try:
            self.verify_password()
            self.params = self.read_sys_para()
        except FingerprintTimeout as exc:
            self.close()
            raise FingerprintError(
                f"{self.port}: no fingerprint sensor answered at {self.baud} baud "
                f"({exc.message.split(': ', 1)[-1]})",
                hint="check the cable and power, that this is the sensor's port, and the baud "
                "(9600×N, factory 57600) in the station profile; then try again",
            ) from None
        except FingerprintError:
            self.close()
            raise
        return self.params

    # -- commands -----------------------------------------------------------------------------
    def command(self, instruction: int, params: bytes = b"", *, timeout: float | None = None) -> tuple[int, bytes]:
        """Send one command, wait for its ACK; return (confirmation code, extra fields)."""
        self.parser = FrameParser(self.address)  # a new command never reads an old reply
        self._pending = []
        try:
            self._ser().reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from None
        self._write(build_frame(PID_COMMAND, bytes((instruction,)) + params, self.address))
        frame = self._read_frame(timeout or self.timeout, f"reply to command 0x{instruction:02X}")
        expected = ACK_LEN.get(instruction)
        if frame.pid != PID_ACK or not frame.payload:
            raise self._protocol(f"expected an acknowledgement, got packet type 0x{frame.pid:02X}")
        short_error = len(frame.payload) == 1 and frame.payload[0] != 0  # tolerated: code only
        if expected is not None and len(frame.payload) + 2 != expected and not short_error:
            raise self._protocol(
                f"reply to 0x{instruction:02X} has LEN {len(frame.payload) + 2}, expected {expected}")
        return frame.payload[0], frame.payload[1:].ljust((expected or 3) - 3, b"\x00")

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            raise FingerprintError(f"{self.port}: {what}: {confirmation_message(code)}", code=code,
                                   hint="press the finger again; if it persists reconnect the sensor")

    def verify_password(self) -> None:
        code, _ = self.command(VFY_PWD, self.password.to_bytes(4, "big"))
        if code:
            raise FingerprintError(f"{self.port}: {confirmation_message(code)}", code=code,
                                   hint="set [pads] finger_password in the station profile")

    def read_sys_para(self) -> SystemParameters:
        code, data = self.command(READ_SYS_PARA)
        self._check(code, "reading the sensor parameters")
        return SystemParameters.from_payload(data)

    def template_count(self) -> int:
        code, data = self.command(TEMPLATE_NUM)
        self._check(code, "counting stored templates")
        return int.from_bytes(data[:2], "big")

    def gen_img(self) -> int:
        """Ask for one image; returns the confirmation code (0 = image taken, 2 = no finger)."""
        code, _ = self.command(GEN_IMG)
        if code not in (0x00, 0x02, 0x03):
            self._check(code, "taking the image")
        return code

    def wait_for_finger(self, timeout: float, *, poll: float = 0.1,
                        on_poll: Callable[[int], None] | None = None) -> None:
        """Poll GenImg until a finger is imaged or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            code = self.gen_img()
            if on_poll:
                on_poll(code)
            if code == 0:
                return
            if time.monotonic() >= deadline:
                raise FingerprintTimeout(
                    f"{self.port}: {confirmation_message(code)} within {timeout:g} s", code=code,
                    hint="ask the person to press a finger flat on the sensor glass, then retry")
            time.sleep(poll)

    def img2tz(self, buffer_id: int = 1) -> None:
        """Extract features: the module's own verdict on whether the image is usable."""
        code, _ = self.command(IMG2TZ, bytes((buffer_id,)))
        if code in (0x06, 0x07, 0x15):
            raise FingerprintQualityError(f"{self.port}: {confirmation_message(code)}", code=code,
                                          hint="press the finger again")
        self._check(code, "checking the image")

    def up_image(self, on_packet: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Upload the image buffer: per-packet timeouts, since the whole takes ~7 s at 57600."""
        code, _ = self.command(UP_IMAGE)
        self._check(code, "uploading the image")
        expected = IMAGE_WIDTH * IMAGE_HEIGHT // 2
        size = self.params.packet_size if self.params else 128
        total = expected // size
        data = bytearray()
        while True:
            frame = self._read_frame(self.packet_timeout,
                                     f"image packet {len(data) // size + 1} of {total}")
            if frame.pid not in (PID_DATA, PID_END):
                raise self._protocol(f"unexpected packet type 0x{frame.pid:02X} in image upload")
            data += frame.payload
            if on_packet:
                on_packet(len(data) // size, total)
            if frame.pid == PID_END:
                break
            if len(data) > expected:
                break
        if len(data) != expected:
            raise self._protocol(f"image upload gave {len(data)} bytes, expected {expected}")
        return unpack_4bit_image(bytes(data))

    # -- low level ----------------------------------------------------------------------------
    def _read_frame(self, timeout: float, what: str) -> Frame:
        deadline = time.monotonic() + timeout
        ser = self._ser()
        while not self._pending:
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (serial.SerialException, OSError, termios.error) as exc:
                raise self._gone(exc) from None
            self._pending += self.parser.feed(data)  # bulk transfers may bring several
            if not self._pending and time.monotonic() >= deadline:
                extra = ""
                if self.parser.bad_checksums:
                    extra = f"; {self.parser.bad_checksums} corrupted frame(s) discarded"
                elif self.parser.dropped:
                    extra = f"; {self.parser.dropped} unreadable byte(s) discarded"
                raise FingerprintTimeout(
                    f"{self.port}: no valid {what} within {timeout:g} s{extra}",
                    hint="check the sensor's cable and baud setting, then try again")
        return self._pending.pop(0)

    def _protocol(self, detail: str) -> FingerprintError:
        return FingerprintError(f"{self.port}: fingerprint sensor protocol error: {detail}",
                                hint="reconnect the sensor and try again")

    def _gone(self, exc: Exception) -> FingerprintError:
        self.close()
        return FingerprintError(
            f"{self.port}: the fingerprint sensor stopped responding (disconnected?): {exc}",
            hint="check the sensor's cable is plugged in, then capture the fingerprint again")

    def _ser(self) -> serial.Serial:
        if self.serial is None:
            raise FingerprintError(f"{self.port}: fingerprint sensor is not open",
                                   hint="open it first")
        return self.serial

    def _write(self, data: bytes) -> None:
        try:
            self._ser().write(data)
        except (serial.SerialException, OSError, termios.error) as exc:
            raise self._gone(exc) from None

    def close(self) -> None:
        if self.serial is not None:
            with contextlib.suppress(serial.SerialException, OSError, termios.error):
                self.serial.close()
            self.serial = None

    def __enter__(self) -> ZfmSensor:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
