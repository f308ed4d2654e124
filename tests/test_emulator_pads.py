"""The emulators checked against pads.md on their own: spec bytes in, raw reply bytes compared.

No driver code is used here, only pyserial on the pty, so a bug shared by driver and emulator
cannot hide behind a passing round trip.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import serial

from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
from dossier_station.devices.emulators.fingerprint_image import blank_image, synthetic_fingerprint
from dossier_station.devices.emulators.pen import (
    PenEmulator,
    PenModel,
    encode_pen_packet,
    encode_query_reply,
)


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


def read_exactly(port: serial.Serial, n: int, timeout: float = 1.0) -> bytes:
    data = bytearray()
    deadline = time.monotonic() + timeout
    while len(data) < n and time.monotonic() < deadline:
        data += port.read(n - len(data))
    return bytes(data)


def read_quiet(port: serial.Serial, quiet: float = 0.15) -> bytes:
    """Everything that arrives until the line has been quiet for ``quiet`` seconds."""
    data = bytearray()
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        chunk = port.read(4096)
        if chunk:
            data += chunk
            last = time.monotonic()
    return bytes(data)


@pytest.fixture
def pen():
    emu = PenEmulator(speed=20.0).start()
    yield emu
    emu.close()


@pytest.fixture
def finger():
    emu = FingerprintEmulator(finger_delay=0.0).start()
    yield emu
    emu.close()


# -- pen (§2.8, §2.10) ----------------------------------------------------------------------------

def test_pen_query_reply_is_the_x201_vector(pen):
    with serial.Serial(pen.port, 19200, timeout=0.05) as port:
        port.write(b"*")
        assert read_exactly(port, 11) == hx("C0 33 32 20 22 7F 01 00 00 07 60")
        assert read_quiet(port, 0.1) == b""  # exactly one reply


def test_pen_encoder_reproduces_spec_packets():
    assert encode_pen_packet(13156, 8260, 0) == hx("A0 19 59 10 11 00 00 00 00")
    assert encode_pen_packet(13157, 8261, 37, tip=True) == hx("A1 19 59 10 11 25 28 00 00")
    assert encode_pen_packet(26311, 16519, 255, tip=True, f1=True) == hx("A3 33 31 20 21 7F 79 00 00")
    assert encode_pen_packet(1000, 2003, 130, tip=True, f2=True) == hx("A5 01 7A 03 74 02 19 00 00")
    assert encode_pen_packet(13156, 8260, 0, proximity=False) == hx("80 19 59 10 11 00 00 00 00")
    assert encode_pen_packet(40000, 30001, 1023, tip=True, tilt_x=70, tilt_y=58) == hx(
        "A1 4E 10 3A 4C 7F 0F 46 3A")
    assert encode_query_reply(PenModel()) == hx("C0 33 32 20 22 7F 01 00 00 07 60")


def test_pen_ignores_unknown_bytes_and_touch_query(pen):
    with serial.Serial(pen.port, 19200, timeout=0.05) as port:
        port.write(b"\r%&xyz\r")
        assert read_quiet(port, 0.15) == b""
        port.write(b"\r*\r")
        assert read_exactly(port, 11)[0] == 0xC0


def test_pen_streams_nine_byte_packets_and_ends_out_of_range(pen):
    with serial.Serial(pen.port, 19200, timeout=0.05) as port:
        port.write(b"1")
        data = read_quiet(port, 0.2)
    assert len(data) % 9 == 0 and len(data) > 9 * 100
    packets = [data[i : i + 9] for i in range(0, len(data), 9)]
    assert all(p[0] & 0xC0 == 0x80 and max(p[1:]) < 0x80 for p in packets)
    assert all(p[0] & 0x20 for p in packets[:-1])  # in range throughout
    assert packets[-1][0] == 0x80  # a proximity-out packet ends the signature
    assert any(p[0] & 0x01 for p in packets)  # there is ink


def test_pen_stop_halts_output_within_250ms():
    emu = PenEmulator(speed=0.5).start()
    try:
        with serial.Serial(emu.port, 19200, timeout=0.05) as port:
            port.write(b"1")
            assert len(read_exactly(port, 90)) == 90
            port.write(b"0")
            time.sleep(0.25)
            port.reset_input_buffer()
            assert read_quiet(port, 0.2) == b""
    finally:
        emu.close()


def test_pen_at_wrong_host_baud_sends_garbage_not_packets(pen):
    with serial.Serial(pen.port, 38400, timeout=0.05) as port:
        port.write(b"*")
        reply = read_exactly(port, 11)
    assert len(reply) == 11 and reply != hx("C0 33 32 20 22 7F 01 00 00 07 60")
    assert all(b >= 0x80 for b in reply)  # can never frame as a valid packet


def test_pen_sample_rate_is_configurable():
    emu = PenEmulator(rate=200.0, speed=1.0).start()
    try:
        with serial.Serial(emu.port, 19200, timeout=0.05) as port:
            port.write(b"1")
            t = time.monotonic()
            data = read_exactly(port, 9 * 100, timeout=2.0)
            rate = len(data) / 9 / (time.monotonic() - t)
        assert 150 < rate < 260
    finally:
        emu.close()


def test_pen_fault_injection_bytes_on_the_wire(pen):
    with serial.Serial(pen.port, 19200, timeout=0.05) as port:
        pen.inject_stray(b"\x13\x7f")
        pen.truncate_next(1, keep=4)
        port.write(b"*")
        assert read_exactly(port, 6) == hx("13 7F C0 33 32 20")
        pen.overlong_next(1, extra=2)
        port.write(b"*")
        assert read_exactly(port, 13) == hx("C0 33 32 20 22 7F 01 00 00 07 60 01 02")


# -- fingerprint (§3.7, §3.10) ----------------------------------------------------------------------

def ask(port: serial.Serial, frame: str, n: int, timeout: float = 1.0) -> bytes:
    port.write(hx(frame))
    return read_exactly(port, n, timeout)


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B", "EF 01 FF FF FF FF 07 00 03 00 00 0A"),
        ("EF 01 FF FF FF FF 01 00 03 0F 00 13",
         "EF 01 FF FF FF FF 07 00 13 00 00 00 00 09 00 C8 00 03 FF FF FF FF 00 02 00 06 04 F2"),
        ("EF 01 FF FF FF FF 01 00 03 1D 00 21", "EF 01 FF FF FF FF 07 00 05 00 00 03 00 0F"),
        ("EF 01 FF FF FF FF 01 00 08 04 01 00 00 00 C8 00 D6",
         "EF 01 FF FF FF FF 07 00 07 09 00 00 00 00 00 17"),
        # corrupted checksum → ACK 0x01 (receive error)
        ("EF 01 FF FF FF FF 01 00 03 1D 00 22", "EF 01 FF FF FF FF 07 00 03 01 00 0B"),
        # unknown instruction 0x7E → 0x01, the documented choice
        ("EF 01 FF FF FF FF 01 00 03 7E 00 82", "EF 01 FF FF FF FF 07 00 03 01 00 0B"),
    ],
)
def test_sensor_replies_with_spec_bytes(finger, command, reply):
    with serial.Serial(finger.port, 57600, timeout=0.05) as port:
        assert ask(port, command, len(hx(reply))) == hx(reply)
        assert read_quiet(port, 0.05) == b""


def test_sensor_system_id_zero_variant_matches_captured_reply():
    emu = FingerprintEmulator(system_id=0x0000).start()
    try:
        with serial.Serial(emu.port, 57600, timeout=0.05) as port:
            assert ask(port, "EF 01 FF FF FF FF 01 00 03 0F 00 13", 28)[-2:] == hx("04 E9")
    finally:
        emu.close()


def test_sensor_reports_no_finger_until_placed():
    emu = FingerprintEmulator(finger_delay=0.3).start()
    try:
        with serial.Serial(emu.port, 57600, timeout=0.05) as port:
            gen = "EF 01 FF FF FF FF 01 00 03 01 00 05"
            assert ask(port, gen, 12) == hx("EF 01 FF FF FF FF 07 00 03 02 00 0C")
            time.sleep(0.35)
            assert ask(port, gen, 12) == hx("EF 01 FF FF FF FF 07 00 03 00 00 0A")
    finally:
        emu.close()


def test_sensor_wrong_password_and_must_verify_codes():
    emu = FingerprintEmulator(password=0x12345678).start()
    try:
        with serial.Serial(emu.port, 57600, timeout=0.05) as port:
            assert ask(port, "EF 01 FF FF FF FF 01 00 03 1D 00 21", 14)[9] == 0x21
            assert ask(port, "EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B", 12) == hx(
                "EF 01 FF FF FF FF 07 00 03 13 00 1D")
            assert ask(port, "EF 01 FF FF FF FF 01 00 07 13 12 34 56 78 01 2F", 12) == hx(
                "EF 01 FF FF FF FF 07 00 03 00 00 0A")
            assert ask(port, "EF 01 FF FF FF FF 01 00 03 1D 00 21", 14)[9] == 0x00
    finally:
        emu.close()


def test_sensor_ignores_frames_for_another_address(finger):
    with serial.Serial(finger.port, 57600, timeout=0.05) as port:
        port.write(hx("EF 01 12 34 56 78 01 00 03 1D 00 21"))
        assert read_quiet(port, 0.15) == b""


def test_upimage_without_image_is_0f(finger):
    with serial.Serial(finger.port, 57600, timeout=0.05) as port:
        reply = ask(port, "EF 01 FF FF FF FF 01 00 03 0A 00 0E", 12)
        assert reply == hx("EF 01 FF FF FF FF 07 00 03 0F 00 19")


def test_upimage_streams_288_row_packets_with_4bit_pixels():
    white = blank_image(level=255)
    emu = FingerprintEmulator(finger_delay=0.0, images=[white]).start()
    try:
        with serial.Serial(emu.port, 57600, timeout=0.05) as port:
            ask(port, "EF 01 FF FF FF FF 01 00 03 01 00 05", 12)
            data = ask(port, "EF 01 FF FF FF FF 01 00 03 0A 00 0E", 12 + 288 * 139)
        assert data[:12] == hx("EF 01 FF FF FF FF 07 00 03 00 00 0A")
        frames = [data[12 + i * 139 : 12 + (i + 1) * 139] for i in range(288)]
        assert all(f[:9] == hx("EF 01 FF FF FF FF 02 00 82") for f in frames[:-1])
        assert frames[-1][:9] == hx("EF 01 FF FF FF FF 08 00 82")
        assert frames[-1][9:137] == b"\xff" * 128 and frames[-1][-2:] == hx("80 0A")
    finally:
        emu.close()


def test_upimage_nibble_order_is_high_nibble_left():
    image = np.zeros((288, 256), dtype=np.uint8)
    image[0, 0], image[0, 1] = 0xA0, 0x30  # left pixel 10, right pixel 3
    emu = FingerprintEmulator(finger_delay=0.0, images=[image]).start()
    try:
        with serial.Serial(emu.port, 57600, timeout=0.05) as port:
            ask(port, "EF 01 FF FF FF FF 01 00 03 01 00 05", 12)
            data = ask(port, "EF 01 FF FF FF FF 01 00 03 0A 00 0E", 12 + 139)
        assert data[12 + 9] == 0xA3
    finally:
        emu.close()


def test_sensor_at_other_baud_answers_garbage_without_header():
    emu = FingerprintEmulator(baud_n=12).start()
    try:
        with serial.Serial(emu.port, 57600, timeout=0.05) as port:
            reply = ask(port, "EF 01 FF FF FF FF 01 00 03 1D 00 21", 14)
        assert len(reply) == 14 and b"\xef\x01" not in reply
    finally:
        emu.close()


def test_sensor_wire_time_paces_output_at_baud_rate():
    emu = FingerprintEmulator(finger_delay=0.0, baud_n=12, wire_time=True,
                              images=[synthetic_fingerprint(1)]).start()
    try:
        with serial.Serial(emu.port, 115200, timeout=0.05) as port:
            ask(port, "EF 01 FF FF FF FF 01 00 03 01 00 05", 12)
            t = time.monotonic()
            data = ask(port, "EF 01 FF FF FF FF 01 00 03 0A 00 0E", 12 + 40 * 139, timeout=3)
            elapsed = time.monotonic() - t
        assert len(data) == 12 + 40 * 139
        # 10 bits per byte: the full 288-packet image would take ≈3.5 s, as the spec says
        wire = len(data) * 10 / 115200
        assert 0.8 * wire < elapsed < 2.0 * wire  # never faster than the line; slack for load
    finally:
        emu.close()


def test_unplug_makes_the_port_fail_for_the_host(finger):
    port = serial.Serial(finger.port, 57600, timeout=0.05)
    finger.unplug()
    with pytest.raises(serial.SerialException):
        port.read(1)
    port.close()
