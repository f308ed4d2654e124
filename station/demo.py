"""``dossier demo``: the whole station on embedded defaults, no hardware needed.

1. A virtual scanner — SANE's ``pnm`` backend through a private SANE_CONFIG_DIR — "scans" the
   sample pages (skewed, upside down, sideways, blank) into a crash-safe batch folder.
2. Emulated pads on pseudo-terminals — the ISDV4 pen and the ZFM fingerprint sensor — give a
   signature capture package, through the same drivers real pads use.
3. The batch is built into a catalogued PDF/A dossier with the example case file.
Every captured page and the built volume enter a hash-chained custody journal (SQLite).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rich.console import Console

MARKER = ".dossier-demo"


def _feed(pages: Path, feed: Path) -> list[Path]:
    """The sample scans as PNM files, the format the pnm backend reads."""
    from PIL import Image

    from dossier_station.ocr.loader import list_input_files

    feed.mkdir(parents=True, exist_ok=True)
    out = []
    for src in list_input_files(pages):
        with Image.open(src) as im:
            mode = "RGB" if im.mode == "RGB" else "L"
            path = feed / f"{src.stem}.{'ppm' if mode == 'RGB' else 'pgm'}"
            im.convert(mode).save(path)
        out.append(path)
    return out


def run_demo(out: Path, pages: Path, case: Path, console: Console) -> list[Path]:
    from dossier_station.capture.batch import run_scan
    from dossier_station.capture.signature import SignatureCaptureOptions, capture_signature
    from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
    from dossier_station.devices.emulators.pen import PenEmulator
    from dossier_station.devices.scanner import ScanSettings
    from dossier_station.station.build_console import run_build

    if out.exists() and (out / MARKER).exists():
        shutil.rmtree(out)  # a previous demo's output, nothing else
    elif out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not a demo folder; choose another -o")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by dossier demo\n")

    from dossier_station.core.journal import ENV, Journal

    os.environ[ENV] = str(out / "journal.sqlite3")  # the demo's own custody log, never the station's
    journal = Journal()

    def captured(page: dict) -> None:
        journal.record("capture", str((out / "batch" / page["file"]).resolve()), page["sha256"], device="pnm:0")
        console.print(f"  page {page['seq']:3d}  sha256 {page['sha256'][:16]}…")

    console.print("[bold]1/4[/] virtual scanner (SANE pnm backend): scanning the sample pages")
    sane = out / ".sane"
    sane.mkdir()
    (sane / "dll.conf").write_text("pnm\n")
    os.environ["SANE_CONFIG_DIR"] = str(sane)
    feed = _feed(pages, out / ".feed")
    schedule = {i + 1: {"filename": str(p)} for i, p in enumerate(feed)}
    settings = ScanSettings(device="pnm:0", dpi=300, mode="color", source="flatbed")
    outcome = run_scan(out / "batch", settings, schedule=schedule, max_pages=len(feed), on_page=captured)
    shutil.rmtree(out / ".feed")
    console.print(f"  {len(outcome.added)} pages in {out / 'batch'}")

    console.print("[bold]2/4[/] emulated pen pad and fingerprint sensor: signature capture on a demo transcript")
    from dossier_station.core.files import sha256_file
    from dossier_station.station.signing_transcript import make_transcript

    transcript = make_transcript(out / "transcript.pdf")
    bound = {"sha256": sha256_file(transcript), "name": transcript.name}  # the capture is bound to it
    with PenEmulator(speed=3.0).start() as pen, FingerprintEmulator(finger_delay=1.0).start() as finger:
        opts = SignatureCaptureOptions(pen_port=pen.port, finger_port=finger.port, signer="王小明", operator="demo", pen_idle=0.5)
        package = capture_signature(opts, out / "signature-capture", lambda level, msg: console.print(f"  {msg}") if level != "progress" else None, document=bound)
    console.print(f"  capture package: {package}")

    console.print("[bold]3/4[/] building the dossier")
    result = run_build(out / "batch", case, out / "dossier", None)
    console.print("[bold]4/4[/] signing: DEMO PKI, the transcript signed with the pads' capture, the volume sealed")
    from dossier_station.station.signing_demo import run_signing_demo

    run_signing_demo(out, list(result.volumes), package, transcript, console)
    console.print(f"custody journal: {journal.path} — {journal.verify().summary()}")
    journal.close()
    return result.volumes
