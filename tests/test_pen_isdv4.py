"""ISDV4 pen driver: the spec's byte vectors, the framer, and real round trips over a pty."""

from __future__ import annotations

import time

import pytest

from dossier_station.core.errors import DeviceError
from dossier_station.devices.emulators.pen import PenEmulator, PenModel
from dossier_station.devices.emulators.trajectory import load_trajectory
from dossier_station.devices.pen_isdv4 import (
    IsdV4Pen,
    PacketFramer,
    PenError,
    PenNotFoundError,
    ProximityTracker,
    decode_pen_packet,
    parse_query_reply,
)

FAST = {"settle": 0.05, "query_timeout": 0.4}


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


# -- fixed vectors (pads.md §2.7, §2.8) ---------------------------------------------------------

def test_x201_query_reply_decodes_to_spec_values():
    caps = parse_query_reply(hx("C0 33 32 20 22 7F 01 00 00 07 60"))
    assert (caps.max_x, caps.max_y, caps.max_pressure, caps.version) == (26312, 16520, 255, 992)
    assert not caps.has_tilt


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        ("A0 19 59 10 11 00 00 00 00", dict(proximity=True, tip=False, x=13156, y=8260, pressure=0)),
        ("A1 19 59 10 11 25 28 00 00", dict(proximity=True, tip=True, x=13157, y=8261, pressure=37)),
        ("A3 33 31 20 21 7F 79 00 00", dict(tip=True, f1=True, x=26311, y=16519, pressure=255)),
        ("A5 01 7A 03 74 02 19 00 00", dict(tip=True, f2=True, x=1000, y=2003, pressure=130)),
        ("80 19 59 10 11 00 00 00 00", dict(proximity=False)),
        ("A1 4E 10 3A 4C 7F 0F 46 3A", dict(x=40000, y=30001, pressure=1023, tilt_x=70, tilt_y=58)),
    ],
)
def test_worked_pen_packets_decode_as_in_spec(packet, expected):
    decoded = decode_pen_packet(hx(packet))
    for name, value in expected.items():
        assert getattr(decoded, name) == value, name


def test_spec_resync_stream_yields_two_packets_and_drops_eight_bytes():
    framer = PacketFramer()
    packets = framer.feed(hx("13 7F 00 A0 00 19 00 32 A1 00 1A 00 33 0C 08 00 00 "
                             "A1 00 1B 00 34 14 10 00 00"))
    decoded = [decode_pen_packet(p) for p in packets]
    assert [(d.x, d.y, d.pressure) for d in decoded] == [(104, 205, 12), (108, 210, 20)]
    assert framer.dropped == 8


def test_framer_handles_packets_split_across_reads():
    framer = PacketFramer()
    stream = hx("A1 19 59 10 11 25 28 00 00 A0 19 59 10 11 00 00 00 00")
    got = []
    for i in range(len(stream)):
        got += framer.feed(stream[i : i + 1])
    assert got == [stream[:9], stream[9:]] and framer.dropped == 0


def test_overlong_packet_surplus_is_dropped_and_next_packet_kept():
    framer = PacketFramer()
    packets = framer.feed(hx("A0 19 59 10 11 00 00 00 00 01 02 A1 19 59 10 11 25 28 00 00"))
    assert len(packets) == 2 and framer.dropped == 2


def test_control_packet_is_framed_as_eleven_bytes():
    framer = PacketFramer()
    packets = framer.feed(hx("C0 33 32 20 22 7F 01 00 00 07 60 A0 19 59 10 11 00 00 00 00"))
    assert [len(p) for p in packets] == [11, 9]


def test_f2_on_entering_range_is_eraser_for_the_whole_stay():
    tracker = ProximityTracker()
    eraser_in = decode_pen_packet(hx("A5 01 7A 03 74 02 19 00 00"))
    assert tracker.update(eraser_in) == "eraser"
    assert tracker.update(eraser_in) == "eraser"
    out = decode_pen_packet(hx("80 19 59 10 11 00 00 00 00"))
    assert tracker.update(out) is None
    pen_in = decode_pen_packet(hx("A1 19 59 10 11 25 28 00 00"))
    assert tracker.update(pen_in) == "pen"
    # f2 appearing while in range is side switch 2, not the eraser
    assert tracker.update(decode_pen_packet(hx("A5 01 7A 03 74 02 19 00 00"))) == "pen"


def test_eraser_mode_ends_when_f2_drops():
    tracker = ProximityTracker()
    tracker.update(decode_pen_packet(hx("A4 01 7A 03 74 00 00 00 00")))
    assert tracker.update(decode_pen_packet(hx("A0 01 7A 03 74 00 00 00 00"))) == "pen"


# -- against the emulator on a real pty -------------------------------------------------------

@pytest.fixture
def pen_emu():
    emu = PenEmulator(speed=20.0, rate=133.0).start()
    yield emu
    emu.close()


def wait_for(condition, timeout: float = 1.0) -> bool:
    """The emulator thread reads asynchronously: poll instead of asserting at once."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def collect_until_out_of_range(pen: IsdV4Pen, timeout: float = 5.0):
    samples = []
    deadline = time.monotonic() + timeout
    for s in pen.samples(until=deadline):
        samples.append(s)
        if not s.packet.proximity:
            break
    return samples


def test_open_queries_capabilities_over_pty(pen_emu):
    with IsdV4Pen(pen_emu.port, **FAST) as pen:
        assert pen.caps is not None
        assert (pen.caps.max_x, pen.caps.max_y, pen.caps.version, pen.caps.baud) == (26312, 16520, 992, 19200)
    assert pen_emu.received.startswith(b"0*")
    assert wait_for(lambda: pen_emu.received.endswith(b"*0"))  # stop on close


def test_baud_fallback_finds_38400_unit():
    emu = PenEmulator(baud=38400, model=PenModel(max_x=40000, max_y=30001, max_pressure=1023,
                                                  tilt_x_max=70, tilt_y_max=70)).start()
    try:
        with IsdV4Pen(emu.port, **FAST) as pen:
            assert pen.caps.baud == 38400
            assert pen.caps.max_pressure == 1023 and pen.caps.has_tilt
        assert emu.received.count(b"*") == 2  # first query at 19200 got only garbage
    finally:
        emu.close()


def test_streaming_unit_is_stopped_and_flushed_before_query():
    emu = PenEmulator(streaming=True, loop=True, speed=5.0).start()
    try:
        assert wait_for(lambda: emu.packets_sent > 20)  # stale packets wait in the tty queue
        with IsdV4Pen(emu.port, **FAST) as pen:
            assert pen.caps.max_x == 26312
            assert emu.streaming is False  # the host's '0' stopped it
    finally:
        emu.close()


def test_full_trajectory_round_trip_matches_emulated_points(pen_emu):
    traj = load_trajectory()
    with IsdV4Pen(pen_emu.port, **FAST) as pen:
        pen.start()
        samples = collect_until_out_of_range(pen)
    assert samples[-1].packet.proximity is False
    assert len(samples) == int(traj.duration_ms / 1000 * 133) + 1
    assert pen.framer.dropped == 0
    for i, s in enumerate(samples[:-1]):
        p = traj.at(i * 1000 / 133)
        assert (s.packet.x, s.packet.y, s.packet.pressure, s.packet.tip) == (p.x, p.y, p.pressure, p.tip)
    times = [s.t for s in samples]
    assert times == sorted(times)  # monotonic host stamps
    assert bytes(pen.raw) == b"".join(s.raw for s in samples)


def test_stray_truncated_and_overlong_packets_mid_stream_resync(pen_emu):
    with IsdV4Pen(pen_emu.port, **FAST) as pen:
        pen.start()
        first = collect_until_out_of_range(pen, timeout=0.05)  # a few packets
        pen_emu.inject_stray(b"\x13\x7f\x00")
        pen_emu.truncate_next(2, keep=5)
        pen_emu.overlong_next(1, extra=2)
        rest = collect_until_out_of_range(pen)
    total = len(first) + len(rest)
    expected = int(load_trajectory().duration_ms / 1000 * 133) + 1
    assert total == expected - 2  # only the two truncated packets are lost
    assert pen.framer.dropped == 3 + 2 * 5 + 2
    assert rest[-1].packet.proximity is False


def test_stop_command_halts_stream_promptly(pen_emu):
    with IsdV4Pen(pen_emu.port, **FAST) as pen:
        pen.start()
        collect_until_out_of_range(pen, timeout=0.05)
        pen.stop()
        time.sleep(0.05)
        pen._read_available()
        time.sleep(0.1)
        assert pen._read_available() == b""
        assert pen_emu.streaming is False


def test_silent_device_gives_clear_error_within_timeout():
    emu = PenEmulator().start()
    emu.set_silent()
    try:
        t = time.monotonic()
        with pytest.raises(PenError) as err:
            IsdV4Pen(emu.port, **FAST).open()
        assert time.monotonic() - t < 2.0
        assert emu.port in str(err.value) and "19200 or 38400" in str(err.value)
        assert err.value.hint and "cable" in err.value.hint
        emu.set_silent(False)
        with IsdV4Pen(emu.port, **FAST) as pen:  # a fresh attempt succeeds
            assert pen.caps.max_x == 26312
    finally:
        emu.close()


def test_unplug_while_streaming_raises_device_error_and_replug_works():
    emu = PenEmulator(speed=0.5).start()
    pen = IsdV4Pen(emu.port, **FAST)
    pen.open()
    pen.start()
    collect_until_out_of_range(pen, timeout=0.05)
    emu.unplug()
    t = time.monotonic()
    with pytest.raises(DeviceError) as err:
        collect_until_out_of_range(pen, timeout=2.0)
    assert time.monotonic() - t < 1.0
    assert "disconnected" in str(err.value) and emu.port in str(err.value)
    pen.close()  # safe after the fault
    replugged = PenEmulator().start()
    try:
        with IsdV4Pen(replugged.port, **FAST) as pen2:
            assert pen2.caps.version == 992
    finally:
        replugged.close()


def test_missing_port_is_device_not_found():
    with pytest.raises(PenNotFoundError) as err:
        IsdV4Pen("/dev/pts/does-not-exist", **FAST).open()
    assert "/dev/pts/does-not-exist" in str(err.value) and "pads list" in err.value.hint


def test_pad_at_unsupported_baud_is_reported_then_found_at_its_own():
    emu = PenEmulator(baud=9600).start()
    try:
        with pytest.raises(PenError) as err:
            IsdV4Pen(emu.port, **FAST).open()
        assert "19200 or 38400 baud" in str(err.value)
        with IsdV4Pen(emu.port, bauds=(9600,), **FAST) as pen:
            assert pen.caps.baud == 9600
    finally:
        emu.close()


def test_control_packet_mid_stream_is_skipped_whole(pen_emu):
    with IsdV4Pen(pen_emu.port, **FAST) as pen:
        pen.start()
        first = collect_until_out_of_range(pen, timeout=0.05)
        pen._write(b"*")  # a query reply (11 bytes) lands between pen packets
        rest = collect_until_out_of_range(pen)
    assert pen.control_packets_skipped == 1 and pen.framer.dropped == 0
    assert len(first) + len(rest) == int(load_trajectory().duration_ms / 1000 * 133) + 1


def test_unit_deaf_to_stop_still_opens_in_bounded_time():
    emu = PenEmulator(streaming=True, loop=True, speed=50.0, ignore_stop=True).start()
    try:
        t = time.monotonic()
        with IsdV4Pen(emu.port, **FAST) as pen:
            assert pen.caps.max_x == 26312  # the reply is found among the pen packets
        assert time.monotonic() - t < 2.5
    finally:
        emu.close()


def test_noise_framing_as_an_empty_query_reply_is_not_taken_for_a_pad():
    emu = PenEmulator(model=PenModel(max_x=0, max_y=0, max_pressure=0)).start()
    try:
        with pytest.raises(PenError):
            IsdV4Pen(emu.port, **FAST).open()
    finally:
        emu.close()


def test_touch_query_at_38400_sets_touch_packet_length():
    # touch reply: 0xC1 (single touch), panel resolution 10, sensor id 1 → 7-byte touch packets
    touch = bytes((0xC1, 10, 0x01, 0x08, 0x00, 0x08, 0x00, 0, 0, 0x07, 0x60))
    emu = PenEmulator(baud=38400, touch_reply=touch).start()
    try:
        with IsdV4Pen(emu.port, **FAST) as pen:
            assert pen.caps.touch and pen.caps.touch_packet_length == 7
            assert pen.framer.touch_length == 7
    finally:
        emu.close()


def test_pen_only_unit_at_38400_reports_no_touch():
    emu = PenEmulator(baud=38400).start()
    try:
        with IsdV4Pen(emu.port, **FAST) as pen:
            assert pen.caps.touch is False
        assert b"%" in emu.received
    finally:
        emu.close()
