"""ZFM-20 / R30x fingerprint module on a pty (pads.md §3.10).

Framing, checksums and reply layouts are written here from the spec, independently of the host
driver. Choices the spec leaves open, documented: a bad checksum is answered with ACK 0x01; an
unknown instruction is answered with ACK 0x01 (LEN 3); frames for another address are ignored;
with a password set, everything but VfyPwd gets 0x21 until it is verified.

The finger is "placed" ``finger_delay`` seconds after the first GenImg that finds the glass
empty, and lifted again once imaged, so each capture attempt waits like a real one. Images are
served from ``images`` in turn (the last repeats), quantised to the 4 bits the UART carries.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from dossier_station.devices.emulators.fingerprint_image import synthetic_fingerprint
from dossier_station.devices.emulators.pty_device import PtyDevice

PACKET_SIZE_CODES = {32: 0, 64: 1, 128: 2, 256: 3}
# extra ACK bytes after the confirmation code, fixed per instruction even on failure (§3.3)
ACK_EXTRA = {0x03: 2, 0x04: 4, 0x0F: 16, 0x14: 4, 0x1B: 4, 0x1D: 2, 0x1F: 32}
UNKNOWN_INSTRUCTION_CODE = 0x01


def frame(pid: int, payload: bytes, address: int = 0xFFFFFFFF) -> bytes:
    n = len(payload) + 2
    total = pid + (n >> 8) + (n & 0xFF) + sum(payload)
    return (b"\xef\x01" + address.to_bytes(4, "big") + bytes((pid, n >> 8, n & 0xFF)) + payload
            + (total & 0xFFFF).to_bytes(2, "big"))


class FingerprintEmulator(PtyDevice):
    """An optical R30x-class module: 256×288 image, 128-byte packets, 57600 baud by default."""

    def __init__(
        self,
        *,
        baud_n: int = 6,
        address: int = 0xFFFFFFFF,
        password: int = 0,
        finger_delay: float = 3.0,
        images: list[np.ndarray] | None = None,
        packet_size: int = 128,
        templates: int = 3,
        library_size: int = 200,
        system_id: int = 0x0009,
        security_level: int = 3,
        judge_images: bool = True,
        short_error_acks: bool = False,
        wire_time: bool = False,
    ) -> None:
        super().__init__(baud=9600 * baud_n, wire_time=wire_time)
        self.baud_n = baud_n
        self.address = address
        self.password = password
        self.finger_delay = finger_delay
        self.images = list(images) if images else [synthetic_fingerprint(0)]
        self.packet_size = packet_size
        self.templates = templates
        self.library_size = library_size
        self.system_id = system_id
        self.security_level = security_level
        self.judge_images = judge_images
        self.short_error_acks = short_error_acks  # firmware variant: failures carry no fields
        self.verified = password == 0
        self.image_buffer: np.ndarray | None = None  # 4-bit values 0..15 of the last capture
        self.images_taken = 0
        self.commands: list[int] = []  # instruction codes received, in order (tests)
        self._finger_at: float | None = None
        self._finger_present = False
        self._buf = bytearray()
        self._faults: deque[tuple[str, int]] = deque()

    # -- scripted finger and faults ---------------------------------------------------------------
    def place_finger(self) -> None:
        self._finger_present = True

    def lift_finger(self) -> None:
        self._finger_present = False
        self._finger_at = None

    def inject_stray(self, data: bytes = b"\x55") -> None:
        self.send_raw(data)

    def fail_next(self, kind: str, *, count: int = 1, after: int = 0, arg: int = 0) -> None:
        """Corrupt outgoing frames: ``truncate`` (keep ``arg`` bytes), ``overlong`` (``arg``
        extra bytes), ``bad_checksum``, or ``silence`` (this frame and everything after), applied
        to ``count`` frames once ``after`` frames have passed untouched."""
        self._faults.extend([("pass", 0)] * after)
        self._faults.extend([(kind, arg)] * count)

    def served_image(self) -> np.ndarray:
        """The last image as the host should reconstruct it (4-bit × 17)."""
        if self.image_buffer is None:
            raise ValueError("no image captured yet")
        return (self.image_buffer * 17).astype(np.uint8)

    # -- framing ------------------------------------------------------------------------------------
    def on_bytes(self, data: bytes, now: float) -> None:
        self._buf += data
        while True:
            start = self._buf.find(b"\xef\x01")
            if start < 0:
                del self._buf[: max(0, len(self._buf) - 1)]
                return
            del self._buf[:start]
            if len(self._buf) < 9:
                return
            pid, n = self._buf[6], int.from_bytes(self._buf[7:9], "big")
            if pid != 0x01 or not 3 <= n <= 258:
                del self._buf[:1]
                continue
            if len(self._buf) < 9 + n:
                return
            raw = bytes(self._buf[: 9 + n])
            del self._buf[: 9 + n]
            address = int.from_bytes(raw[2:6], "big")
            payload = raw[9 : 7 + n]
            if address != self.address:
                continue  # not for us: stay silent (manual)
            if int.from_bytes(raw[7 + n :], "big") != (pid + (n >> 8) + (n & 0xFF) + sum(payload)) & 0xFFFF:
                self._ack(0x01, b"")  # framing/checksum error: documented meaning of 0x01
                continue
            self._command(payload[0], payload[1:], now)

    def _ack(self, code: int, extra: bytes, instruction: int | None = None) -> None:
        if code != 0 and self.short_error_acks:
            extra = b""
        elif instruction is not None:
            extra = extra.ljust(ACK_EXTRA.get(instruction, 0), b"\x00")
        self._send_frame(frame(0x07, bytes((code,)) + extra, self.address))

    def _send_frame(self, data: bytes) -> None:
        if self._faults:
            kind, arg = self._faults.popleft()
            if kind == "truncate":
                data = data[: arg or len(data) // 2]
            elif kind == "overlong":
                data = data + bytes(arg or 3)
            elif kind == "bad_checksum":
                data = data[:-1] + bytes(((data[-1] + 1) & 0xFF,))
            elif kind == "silence":
                self.silent = True
        self.send(data)

    # -- instructions ---------------------------------------------------------------------------------
    def _command(self, op: int, params: bytes, now: float) -> None:
        self.commands.append(op)
        if op == 0x13:  # VfyPwd
            ok = int.from_bytes(params[:4], "big") == self.password
            self.verified = self.verified or ok
            return self._ack(0x00 if ok else 0x13, b"", op)
        if not self.verified:
            return self._ack(0x21, b"", op)
        if op == 0x01:
            return self._ack(self._gen_img(now), b"", op)
        if op == 0x02:
            return self._ack(self._img2tz(params), b"", op)
        if op == 0x0A:
            return self._up_image()
        if op == 0x0F:
            return self._ack(0x00, self._sys_para(), op)
        if op == 0x12:  # SetPwd
            self.password = int.from_bytes(params[:4], "big")
            return self._ack(0x00, b"", op)
        if op == 0x1D:
            return self._ack(0x00, self.templates.to_bytes(2, "big"), op)
        if op == 0x04:  # Search: empty library here, so always a miss
            return self._ack(0x09, b"", op)
        return self._ack(UNKNOWN_INSTRUCTION_CODE, b"")

    def _gen_img(self, now: float) -> int:
        if not self._finger_present:
            if self._finger_at is None:
                self._finger_at = now + self.finger_delay
            if now < self._finger_at:
                return 0x02
        image = self.images[min(self.images_taken, len(self.images) - 1)]
        self.image_buffer = (np.asarray(image, dtype=np.uint8) >> 4).astype(np.uint8)
        self.images_taken += 1
        self.lift_finger()  # the next attempt waits for a new press
        return 0x00

    def _img2tz(self, params: bytes) -> int:
        if self.image_buffer is None:
            return 0x15
        if self.judge_images:
            spread = np.percentile(self.image_buffer, 95) - np.percentile(self.image_buffer, 5)
            if spread < 4:
                return 0x07 if spread < 1 else 0x06
        return 0x00

    def _sys_para(self) -> bytes:
        status = (0x04 if self.verified and self.password else 0) | (
            0x08 if self.image_buffer is not None else 0)
        words = [status, self.system_id, self.library_size, self.security_level]
        out = b"".join(w.to_bytes(2, "big") for w in words) + self.address.to_bytes(4, "big")
        return out + PACKET_SIZE_CODES[self.packet_size].to_bytes(2, "big") + self.baud_n.to_bytes(2, "big")

    def _up_image(self) -> None:
        if self.image_buffer is None:
            return self._ack(0x0F, b"", 0x0A)
        self._ack(0x00, b"", 0x0A)
        pix = self.image_buffer.reshape(-1)
        packed = ((pix[0::2] << 4) | pix[1::2]).astype(np.uint8).tobytes()
        size = self.packet_size
        chunks = [packed[i : i + size] for i in range(0, len(packed), size)]
        for i, chunk in enumerate(chunks):
            self._send_frame(frame(0x08 if i == len(chunks) - 1 else 0x02, chunk, self.address))
