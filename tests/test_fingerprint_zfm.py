"""ZFM/R30x fingerprint driver: spec frames as fixed vectors, strict parser, pty round trips, faults."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dossier_station.core.errors import DeviceError
from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
from dossier_station.devices.emulators.fingerprint_image import (
    low_contrast_image,
    synthetic_fingerprint,
)
from dossier_station.devices.fingerprint_zfm import (
    CONFIRMATION_MESSAGES,
    FingerprintError,
    FingerprintNotFoundError,
    FingerprintQualityError,
    FingerprintTimeout,
    FrameParser,
    SystemParameters,
    ZfmSensor,
    build_frame,
    confirmation_message,
)


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


# -- fixed vectors (pads.md §3.7) ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("13 00 00 00 00", "EF 01 FF FF FF FF 01 00 07 13 00 00 00 00 00 1B"),
        ("13 12 34 56 78", "EF 01 FF FF FF FF 01 00 07 13 12 34 56 78 01 2F"),
        ("01", "EF 01 FF FF FF FF 01 00 03 01 00 05"),
        ("02 01", "EF 01 FF FF FF FF 01 00 04 02 01 00 08"),
        ("05", "EF 01 FF FF FF FF 01 00 03 05 00 09"),
        ("06 01 00 05", "EF 01 FF FF FF FF 01 00 06 06 01 00 05 00 13"),
        ("04 01 00 00 00 C8", "EF 01 FF FF FF FF 01 00 08 04 01 00 00 00 C8 00 D6"),
        ("0C 00 05 00 01", "EF 01 FF FF FF FF 01 00 07 0C 00 05 00 01 00 1A"),
        ("0F", "EF 01 FF FF FF FF 01 00 03 0F 00 13"),
        ("0E 06 03", "EF 01 FF FF FF FF 01 00 05 0E 06 03 00 1D"),
        ("1D", "EF 01 FF FF FF FF 01 00 03 1D 00 21"),
        ("1F 00", "EF 01 FF FF FF FF 01 00 04 1F 00 00 24"),
        ("0A", "EF 01 FF FF FF FF 01 00 03 0A 00 0E"),
    ],
)
def test_command_frames_match_spec_bytes(payload, expected):
    assert build_frame(0x01, hx(payload)) == hx(expected)


SYSPARA_0009 = ("EF 01 FF FF FF FF 07 00 13 00 00 00 00 09 00 C8 00 03 FF FF FF FF 00 02 00 06 04 F2")
SYSPARA_0000 = ("EF 01 FF FF FF FF 07 00 13 00 00 00 00 00 00 C8 00 03 FF FF FF FF 00 02 00 06 04 E9")


@pytest.mark.parametrize(
    ("frame", "payload"),
    [
        ("EF 01 FF FF FF FF 07 00 03 00 00 0A", "00"),
        ("EF 01 FF FF FF FF 07 00 03 02 00 0C", "02"),
        ("EF 01 FF FF FF FF 07 00 03 13 00 1D", "13"),
        ("EF 01 FF FF FF FF 07 00 07 00 00 05 00 57 00 6A", "00 00 05 00 57"),
        ("EF 01 FF FF FF FF 07 00 07 09 00 00 00 00 00 17", "09 00 00 00 00"),
        ("EF 01 FF FF FF FF 07 00 05 00 00 78 00 84", "00 00 78"),
        ("EF 01 FF FF FF FF 07 00 05 00 00 03 00 0F", "00 00 03"),
    ],
)
def test_spec_ack_frames_parse(frame, payload):
    parser = FrameParser()
    frames = parser.feed(hx(frame))
    assert [(f.pid, f.payload) for f in frames] == [(0x07, hx(payload))]


@pytest.mark.parametrize("vector", [SYSPARA_0009, SYSPARA_0000])
def test_readsyspara_reply_decodes_either_system_id(vector):
    (frame,) = FrameParser().feed(hx(vector))
    params = SystemParameters.from_payload(frame.payload[1:])
    assert (params.library_size, params.security_level, params.packet_size, params.baud) == (200, 3, 128, 57600)
    assert params.system_id in (0x0000, 0x0009) and params.address == 0xFFFFFFFF


def test_last_image_packet_checksum_of_all_ff_is_800a():
    frame = build_frame(0x08, b"\xff" * 128)
    assert frame[6:9] == hx("08 00 82") and frame[-2:] == hx("80 0A")


def test_parser_skips_ready_byte_and_garbage_before_header():
    parser = FrameParser()
    frames = parser.feed(hx("55 00 EF 13 EF") + hx("EF 01 FF FF FF FF 07 00 03 00 00 0A"))
    assert len(frames) == 1 and parser.dropped == 5


def test_bad_checksum_frame_is_dropped_and_next_frame_found():
    parser = FrameParser()
    bad = hx("EF 01 FF FF FF FF 07 00 03 00 00 0B")
    good = hx("EF 01 FF FF FF FF 07 00 03 02 00 0C")
    frames = parser.feed(bad + good)
    assert [f.payload for f in frames] == [b"\x02"] and parser.bad_checksums == 1


def test_frame_for_other_address_is_ignored():
    parser = FrameParser(address=0xFFFFFFFF)
    assert parser.feed(build_frame(0x07, b"\x00", address=0x12345678)) == []
    assert parser.feed(build_frame(0x07, b"\x00")) != []


def test_header_split_across_reads_is_kept():
    data = hx("55 EF 01 FF FF FF FF 07 00 03 00 00 0A")
    parser = FrameParser()
    frames = []
    for i in range(len(data)):
        frames += parser.feed(data[i : i + 1])
    assert len(frames) == 1


def test_every_spec_confirmation_code_has_an_officer_message():
    for code in (0x00, 0x01, 0x02, 0x03, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E,
                 0x0F, 0x10, 0x11, 0x13, 0x15, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x20, 0x21, 0x55):
        assert code in CONFIRMATION_MESSAGES
    assert confirmation_message(0x02) == "no finger on the sensor"
    assert "press again" in confirmation_message(0x06)
    assert "0x7E" in confirmation_message(0x7E)


# -- against the emulator on a real pty -------------------------------------------------------

@pytest.fixture
def finger_emu():
    emu = FingerprintEmulator(finger_delay=0.0).start()
    yield emu
    emu.close()


def sensor(emu, **kw) -> ZfmSensor:
    return ZfmSensor(emu.port, timeout=kw.pop("timeout", 0.5), packet_timeout=0.3, **kw)


def test_every_command_round_trips(finger_emu):
    with sensor(finger_emu) as fp:
        assert fp.params.library_size == 200 and fp.params.packet_size == 128
        assert fp.template_count() == 3
        assert fp.gen_img() == 0
        fp.img2tz(1)
        fp.img2tz(2)
        image = fp.up_image()
        assert fp.read_sys_para().status & 0x08  # ImgBufStat set after a capture
    assert finger_emu.commands == [0x13, 0x0F, 0x1D, 0x01, 0x02, 0x02, 0x0A, 0x0F]
    assert image.shape == (288, 256) and image.dtype == np.uint8


def test_image_upload_matches_served_image_pixel_for_pixel():
    source = synthetic_fingerprint(seed=5)
    emu = FingerprintEmulator(finger_delay=0.0, images=[source]).start()
    try:
        with sensor(emu) as fp:
            fp.wait_for_finger(1.0)
            t = time.monotonic()
            image = fp.up_image()
            elapsed = time.monotonic() - t
        assert np.array_equal(image, emu.served_image())
        assert np.array_equal(image, (source >> 4) * 17)
        assert elapsed < 1.0
    finally:
        emu.close()


def test_no_finger_then_finger_after_scripted_delay():
    emu = FingerprintEmulator(finger_delay=0.3).start()
    try:
        with sensor(emu) as fp:
            assert fp.gen_img() == 0x02
            t = time.monotonic()
            fp.wait_for_finger(2.0, poll=0.05)
            assert 0.2 < time.monotonic() - t < 1.0
    finally:
        emu.close()


def test_waiting_for_finger_times_out_with_plain_message():
    emu = FingerprintEmulator(finger_delay=60).start()
    try:
        with sensor(emu) as fp, pytest.raises(FingerprintTimeout) as err:
            fp.wait_for_finger(0.3, poll=0.05)
        assert "no finger on the sensor" in str(err.value) and emu.port in str(err.value)
    finally:
        emu.close()


def test_password_protected_sensor_needs_the_right_password():
    emu = FingerprintEmulator(password=0x12345678).start()
    try:
        with pytest.raises(FingerprintError) as err:
            sensor(emu).open()
        assert err.value.code == 0x13 and "wrong sensor password" in str(err.value)
        with sensor(emu, password=0x12345678) as fp:
            assert fp.read_sys_para().status & 0x04  # PWD verified
    finally:
        emu.close()


def test_img2tz_on_washed_out_image_asks_for_another_press():
    emu = FingerprintEmulator(finger_delay=0, images=[low_contrast_image()]).start()
    try:
        with sensor(emu) as fp:
            fp.wait_for_finger(1.0)
            with pytest.raises(FingerprintQualityError) as err:
                fp.img2tz(1)
        assert "press" in str(err.value)
    finally:
        emu.close()


def test_upimage_without_image_reports_code_0f(finger_emu):
    with sensor(finger_emu) as fp, pytest.raises(FingerprintError) as err:
        fp.up_image()
    assert err.value.code == 0x0F


# -- faults: clear error within the timeout, fresh attempt succeeds ---------------------------

@pytest.mark.parametrize(
    ("kind", "arg", "needle"),
    [
        ("bad_checksum", 0, "corrupted frame"),
        ("truncate", 7, "no valid reply"),
        ("silence", 0, "no valid reply"),
    ],
)
def test_corrupt_reply_gives_clear_error_then_retry_succeeds(finger_emu, kind, arg, needle):
    with sensor(finger_emu) as fp:
        finger_emu.fail_next(kind, arg=arg)
        t = time.monotonic()
        with pytest.raises(FingerprintError) as err:
            fp.template_count()
        assert time.monotonic() - t < 1.5
        assert needle in str(err.value) and finger_emu.port in str(err.value)
        finger_emu.silent = False
        assert fp.template_count() == 3


def test_overlong_frame_and_stray_bytes_are_tolerated(finger_emu):
    with sensor(finger_emu) as fp:
        finger_emu.inject_stray(b"\x55")
        finger_emu.fail_next("overlong", arg=4)
        assert fp.template_count() == 3
        finger_emu.inject_stray(b"\x55\x00\xef")
        assert fp.template_count() == 3


def test_image_upload_stalling_mid_transfer_names_the_packet(finger_emu):
    with sensor(finger_emu) as fp:
        fp.wait_for_finger(1.0)
        finger_emu.fail_next("silence", after=1 + 100)  # ACK + 100 data packets, then nothing
        t = time.monotonic()
        with pytest.raises(FingerprintTimeout) as err:
            fp.up_image()
        assert time.monotonic() - t < 1.5
        assert "image packet 101 of 288" in str(err.value)
        finger_emu.silent = False
        assert fp.up_image().shape == (288, 256)


def test_unplugged_sensor_is_reported_as_disconnected():
    emu = FingerprintEmulator(finger_delay=0).start()
    fp = sensor(emu)
    fp.open()
    emu.unplug()
    with pytest.raises(DeviceError) as err:
        fp.template_count()
    assert "disconnected" in str(err.value) and "cable" in err.value.hint
    fp.close()
    again = FingerprintEmulator(finger_delay=0).start()
    try:
        with sensor(again) as fp2:
            assert fp2.template_count() == 3
    finally:
        again.close()


def test_wrong_baud_says_no_sensor_answered_at_that_baud():
    emu = FingerprintEmulator(baud_n=12).start()  # module set to 115200
    try:
        t = time.monotonic()
        with pytest.raises(FingerprintError) as err:
            sensor(emu, baud=57600).open()
        assert time.monotonic() - t < 1.5
        assert "at 57600 baud" in str(err.value) and "9600×N" in err.value.hint
        with sensor(emu, baud=115200) as fp:
            assert fp.params.baud == 115200
    finally:
        emu.close()


def test_missing_port_is_device_not_found():
    with pytest.raises(FingerprintNotFoundError):
        ZfmSensor("/dev/pts/nope").open()


@pytest.mark.parametrize("packet_size", [32, 64, 256])
def test_upload_honours_the_packet_size_from_readsyspara(packet_size):
    emu = FingerprintEmulator(finger_delay=0.0, packet_size=packet_size).start()
    try:
        with sensor(emu) as fp:
            assert fp.params.packet_size == packet_size
            fp.wait_for_finger(1.0)
            counts: list[tuple[int, int]] = []
            image = fp.up_image(on_packet=lambda done, total: counts.append((done, total)))
        assert np.array_equal(image, emu.served_image())
        assert counts[-1] == (36864 // packet_size, 36864 // packet_size)
    finally:
        emu.close()


def test_error_ack_without_its_fields_still_reports_the_code():
    emu = FingerprintEmulator(password=5, short_error_acks=True).start()
    try:
        with sensor(emu, password=5) as fp:
            emu.verified = False  # as after a module reset
            code, fields = fp.command(0x1D)
        assert code == 0x21 and fields == b"\x00\x00"
    finally:
        emu.close()
