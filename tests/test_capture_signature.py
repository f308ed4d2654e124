"""The signing ceremony end to end against both emulators, through the CLI and the library."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dossier_station.capture.signature import (
    CaptureQualityError,
    CaptureTimeout,
    SignatureCaptureOptions,
    capture_signature,
    check_fingerprint,
)
from dossier_station.core.errors import DeviceError, ExitCode, OutputError
from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
from dossier_station.devices.emulators.fingerprint_image import (
    blank_image,
    low_contrast_image,
    synthetic_fingerprint,
)
from dossier_station.devices.emulators.pen import PenEmulator
from dossier_station.devices.emulators.trajectory import (
    generate_signature,
    load_trajectory,
    scribble,
)
from dossier_station.station.cli import cli, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pads():
    pen = PenEmulator(speed=20.0).start()
    finger = FingerprintEmulator(finger_delay=0.0).start()
    yield pen, finger
    pen.close()
    finger.close()


def fast_options(pen: PenEmulator, finger: FingerprintEmulator, **kw) -> SignatureCaptureOptions:
    base = dict(pen_port=pen.port, finger_port=finger.port, signer="王小明", operator="张警官",
                station="审讯室-3", pen_idle=0.2, pen_timeout=2.0, finger_timeout=2.0,
                pen_settle=0.05, finger_poll=0.02)
    base.update(kw)
    return SignatureCaptureOptions(**base)


def test_cli_capture_writes_package_whose_manifest_hashes_match(pads, tmp_path):
    pen, finger = pads
    out = tmp_path / "capture"
    result = CliRunner().invoke(cli, [
        "capture-signature", "--pen", pen.port, "--finger", finger.port, "--signer", "王小明",
        "--operator", "张警官", "-o", str(out), "--attempts", "2", "--timeout", "3",
        "--pen-idle", "0.2"])
    assert result.exit_code == 0, result.output
    assert "signature captured" in result.output and "fingerprint captured" in result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "dossier-signature-capture/1"
    assert manifest["signer"] == "王小明" and manifest["operator"] == "张警官"
    files = {p["file"] for p in manifest["parts"]}
    assert files == {"signature.json", "signature.isdv4", "signature.png", "fingerprint.png"}
    assert set(os.listdir(out)) == files | {"manifest.json"}
    for part in manifest["parts"]:
        data = (out / part["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == part["sha256"] and len(data) == part["bytes"]
    assert not (tmp_path / "capture.partial").exists()


def test_package_keeps_device_units_timestamps_and_raw_stream(pads, tmp_path):
    pen, finger = pads
    out = capture_signature(fast_options(pen, finger), tmp_path / "c")
    doc = json.loads((out / "signature.json").read_text(encoding="utf-8"))
    traj = load_trajectory()
    assert doc["device"]["max_x"] == 26312 and doc["device"]["baud"] == 19200
    assert doc["sample_count"] == int(traj.duration_ms / 1000 * 133) + 1
    assert doc["ink_sample_count"] == sum(1 for s in doc["samples"] if s[4] == 1)
    assert doc["stroke_count"] == 15  # 王 4 + 小 3 + 明 8
    t = [row[0] for row in doc["samples"]]
    assert t[0] == 0 and t == sorted(t)
    first_ink = next(row for row in doc["samples"] if row[4] == 1)
    traj_ink = next(p for p in traj.points if p.tip)
    assert abs(first_ink[1] - traj_ink.x) < 60 and abs(first_ink[2] - traj_ink.y) < 60
    raw = (out / "signature.isdv4").read_bytes()
    assert len(raw) == 9 * doc["sample_count"]
    assert hashlib.sha256(raw).hexdigest() == doc["raw_stream"]["sha256"]


def test_rendered_signature_is_transparent_with_ink(pads, tmp_path):
    pen, finger = pads
    out = capture_signature(fast_options(pen, finger), tmp_path / "c")
    img = Image.open(out / "signature.png")
    assert img.mode == "RGBA"
    alpha = np.asarray(img)[:, :, 3]
    assert alpha[0, 0] == 0 and 0.02 < float(np.mean(alpha > 128)) < 0.5
    assert img.width > img.height  # 王小明 written left to right


def test_fingerprint_png_is_the_uploaded_image(pads, tmp_path):
    pen, finger = pads
    out = capture_signature(fast_options(pen, finger), tmp_path / "c")
    stored = np.asarray(Image.open(out / "fingerprint.png"))
    assert stored.shape == (288, 256)
    assert np.array_equal(stored, finger.served_image())
    part = next(p for p in json.loads((out / "manifest.json").read_text())["parts"]
                if p["file"] == "fingerprint.png")
    assert part["source_bits_per_pixel"] == 4 and part["resolution_note"] == "nominal, unverified"


def test_too_short_signature_asks_again_and_second_attempt_is_kept(tmp_path):
    pen = PenEmulator(speed=20.0, trajectories=[scribble(), load_trajectory()]).start()
    finger = FingerprintEmulator(finger_delay=0.0).start()
    events: list[tuple[str, str]] = []
    try:
        out = capture_signature(fast_options(pen, finger), tmp_path / "c",
                                lambda level, msg: events.append((level, msg)))
    finally:
        pen.close()
        finger.close()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["attempts"]["signature"] == 2
    assert any(level == "warn" and "too short" in msg for level, msg in events)
    assert manifest["signature"]["strokes"] == 15


def test_signature_too_small_on_every_attempt_is_a_clear_error(tmp_path):
    # plenty of points, written slowly, but only 4 mm of ink
    tiny = generate_signature([[(0.0, 0.0), (4.0, 0.0)]], name="tiny", speed_mm_s=8.0)
    pen = PenEmulator(speed=20.0, trajectories=[tiny]).start()
    finger = FingerprintEmulator(finger_delay=0.0).start()
    try:
        with pytest.raises(CaptureQualityError) as err:
            capture_signature(fast_options(pen, finger, attempts=2), tmp_path / "c")
    finally:
        pen.close()
        finger.close()
    assert "after 2 attempt(s)" in str(err.value) and "too small" in str(err.value)
    assert pen.replays_started == 2
    assert not (tmp_path / "c").exists() and not (tmp_path / "c.partial").exists()


def test_blank_then_low_contrast_fingerprint_asks_again(tmp_path):
    pen = PenEmulator(speed=20.0).start()
    finger = FingerprintEmulator(finger_delay=0.0, judge_images=False,
                                 images=[blank_image(), low_contrast_image(), synthetic_fingerprint(2)]).start()
    events: list[tuple[str, str]] = []
    try:
        out = capture_signature(fast_options(pen, finger), tmp_path / "c",
                                lambda level, msg: events.append((level, msg)))
    finally:
        pen.close()
        finger.close()
    warnings = [m for level, m in events if level == "warn"]
    assert any("blank" in w for w in warnings) and any("contrast" in w for w in warnings)
    assert json.loads((out / "manifest.json").read_text())["attempts"]["fingerprint"] == 3


def test_sensor_rejected_images_use_up_attempts_then_error(tmp_path):
    pen = PenEmulator(speed=20.0).start()
    finger = FingerprintEmulator(finger_delay=0.0, images=[low_contrast_image()]).start()
    try:
        with pytest.raises(CaptureQualityError) as err:
            capture_signature(fast_options(pen, finger, attempts=2), tmp_path / "c")
    finally:
        pen.close()
        finger.close()
    assert "no usable fingerprint after 2" in str(err.value) and "press again" in str(err.value)
    assert finger.images_taken == 2


def test_fingerprint_quality_check_thresholds():
    assert check_fingerprint(synthetic_fingerprint(0)) is None
    assert "blank" in check_fingerprint((blank_image() >> 4) * 17)
    assert "contrast" in check_fingerprint((low_contrast_image() >> 4) * 17)


def test_nobody_signs_times_out_with_clear_error(tmp_path):
    pen = PenEmulator(speed=20.0, start_delay=30.0).start()
    finger = FingerprintEmulator(finger_delay=0.0).start()
    try:
        t = time.monotonic()
        with pytest.raises(CaptureTimeout) as err:
            capture_signature(fast_options(pen, finger, pen_timeout=0.4), tmp_path / "c")
        assert time.monotonic() - t < 2.0
    finally:
        pen.close()
        finger.close()
    assert pen.port in str(err.value) and "no signature" in str(err.value)


def test_existing_output_folder_is_refused_before_anyone_signs(pads, tmp_path):
    pen, finger = pads
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "old.txt").write_text("x")
    with pytest.raises(OutputError):
        capture_signature(fast_options(pen, finger), tmp_path / "c")
    assert pen.received == b""  # the pad was never touched


def test_cli_device_fault_exits_10_with_port_in_message(tmp_path, capsys):
    pen = PenEmulator(speed=20.0).start()
    finger = FingerprintEmulator(finger_delay=0.0).start()
    finger.silent = True
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["capture-signature", "--pen", pen.port, "--finger", finger.port, "--signer",
                  "王小明", "-o", str(tmp_path / "c"), "--timeout", "1", "--pen-idle", "0.2"])
    finally:
        pen.close()
        finger.close()
    assert exit_.value.code == ExitCode.device_error
    err = capsys.readouterr().err
    assert finger.port in err and "no fingerprint sensor answered" in err
    assert "Traceback" not in err


def test_cli_missing_port_exits_11(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["capture-signature", "--pen", "/dev/pts/nope", "--finger", "/dev/pts/nope2",
              "--signer", "王小明", "-o", str(tmp_path / "c")])
    assert exit_.value.code == ExitCode.device_not_found
    assert "/dev/pts/nope" in capsys.readouterr().err


def test_pads_list_identifies_both_emulators(pads):
    pen, finger = pads
    result = CliRunner().invoke(cli, ["pads", "list", "--no-scan", "--port", pen.port, "--port",
                                      finger.port],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "pen pad" in next(line for line in lines if pen.port in line)
    assert "fingerprint sensor" in next(line for line in lines if finger.port in line)
    flat = " ".join(result.output.split())
    assert "26312" in flat and "57600" in flat


def test_pads_emulate_serves_until_interrupted():
    proc = subprocess.Popen([sys.executable, "-m", "dossier_station.station", "pads", "emulate", "finger",
                             "--finger-delay", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/")
        from dossier_station.devices.fingerprint_zfm import ZfmSensor

        with ZfmSensor(port, timeout=1.0) as fp:
            assert fp.template_count() == 3
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(timeout=5) == 0
        assert "emulator stopped" in proc.stderr.read() + proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_pen_unplugged_mid_signature_is_a_device_error_and_nothing_is_written(tmp_path):
    import threading

    pen = PenEmulator(speed=0.5).start()
    finger = FingerprintEmulator(finger_delay=0.0).start()
    threading.Timer(0.5, pen.unplug).start()
    try:
        t = time.monotonic()
        with pytest.raises(DeviceError) as err:
            capture_signature(fast_options(pen, finger), tmp_path / "c")
        assert time.monotonic() - t < 3.0
    finally:
        pen.close()
        finger.close()
    assert pen.port in str(err.value) and "disconnected" in str(err.value)
    assert not (tmp_path / "c").exists()


def test_profile_pads_table_supplies_ports_and_rejects_unknown_keys(tmp_path):
    from dossier_station.core.errors import ProfileError
    from dossier_station.core.profile import load_profile

    good = tmp_path / "good.toml"
    good.write_text('[pads]\npen_port = "/dev/ttyUSB0"\nfinger_port = "/dev/ttyUSB1"\n'
                    "pen_baud = 38400\nattempts = 5\n", encoding="utf-8")
    opts = SignatureCaptureOptions.from_profile(load_profile(good), signer="王小明", attempts=None)
    assert (opts.pen_port, opts.finger_port, opts.pen_bauds, opts.attempts) == (
        "/dev/ttyUSB0", "/dev/ttyUSB1", (38400,), 5)
    bad = tmp_path / "bad.toml"
    bad.write_text('[pads]\npen_prot = "/dev/ttyUSB0"\n', encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        SignatureCaptureOptions.from_profile(load_profile(bad))
    assert "pen_prot" in str(err.value)
    typo = tmp_path / "typo.toml"
    typo.write_text('[pads]\nattempts = "3"\n', encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        SignatureCaptureOptions.from_profile(load_profile(typo))
    assert "attempts" in str(err.value) and "expected int" in str(err.value)


def test_signature_ends_when_pen_is_left_hovering_without_writing(tmp_path):
    from dossier_station.devices.emulators.trajectory import Trajectory

    full = load_trajectory()
    hovering = Trajectory("no lift-off", full.points[:-1])  # never leaves range
    pen = PenEmulator(speed=20.0, trajectories=[hovering]).start()
    finger = FingerprintEmulator(finger_delay=0.0).start()
    try:
        t = time.monotonic()
        out = capture_signature(fast_options(pen, finger, pen_idle=0.1), tmp_path / "c")
        assert time.monotonic() - t < 3.0
    finally:
        pen.close()
        finger.close()
    doc = json.loads((out / "signature.json").read_text(encoding="utf-8"))
    assert doc["samples"][-1][5] == 1 and doc["stroke_count"] == 15
