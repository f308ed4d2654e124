"""Benchmark `dossier scan` against `scanimage --batch` on the same virtual device and settings.

Both drive SANE's `test` backend (ADF, 10 sheets) through a private SANE_CONFIG_DIR, write PNG
pages, in one run; ours also hashes, fsyncs, writes thumbnails and batch.json for every page.

    .venv/bin/python bench/bench_scan.py [--dpi 300] [--mode gray] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dpi", type=int, default=300)
    ap.add_argument("--mode", default="gray", choices=["gray", "color"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--feeder-ppm", type=float, default=0, help="slow the virtual feeder to about this many pages/min (0: as fast as it goes)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "sane.d").mkdir()
        (work / "sane.d" / "dll.conf").write_text("test\n")
        env = dict(os.environ, SANE_CONFIG_DIR=str(work / "sane.d"))
        sane_mode = "Gray" if args.mode == "gray" else "Color"
        delay: list[str] = []
        ours_delay: list[str] = []
        if args.feeder_ppm:
            # the test backend sleeps after each buffer (32 KiB); a page is w×h bytes (gray)
            px = (200 / 25.4 * args.dpi) ** 2 * (1 if args.mode == "gray" else 3)
            per_buffer_us = int(min(200_000, max(1000, 60 / args.feeder_ppm / (px / 32768) * 1e6)))
            delay = ["--read-delay=yes", f"--read-delay-duration={per_buffer_us}"]
            ours_delay = ["--device-option", "read-delay=yes", "--device-option", f"read-delay-duration={per_buffer_us}"]
        ours, peer = [], []
        for i in range(args.repeat):
            out = work / f"scanimage{i}"
            out.mkdir()
            peer.append(timed(["scanimage", "-d", "test:0", "--source", "Automatic Document Feeder", "--mode", sane_mode,
                               "--resolution", str(args.dpi), "-x", "200", "-y", "200", "--format=png",
                               f"--batch={out}/p%04d.png", *delay], env))
            ours.append(timed([str(REPO / ".venv/bin/dossier"), "scan", "--batch", str(work / f"ours{i}"), "--device", "test:0",
                               "--dpi", str(args.dpi), "--mode", args.mode, "--source", "adf", *ours_delay], env))
            assert len(list((work / f"ours{i}" / "pages").glob("*.png"))) == len(list(out.glob("*.png"))) == 10
        o, p = statistics.median(ours), statistics.median(peer)
        feeder = f", feeder slowed to ~{args.feeder_ppm:g} ppm" if args.feeder_ppm else ", feeder unthrottled"
        print(f"10 pages, test:0 ADF, {args.dpi} dpi {args.mode}, 200×200 mm{feeder}, median of {args.repeat}")
        print(f"scanimage --batch : {p:6.2f} s  ({10 / p * 60:6.1f} pages/min)")
        print(f"dossier scan      : {o:6.2f} s  ({10 / o * 60:6.1f} pages/min)")
        print(f"ratio dossier/scanimage wall time: {o / p:.2f}× (goal ≤ 1.10×)")


if __name__ == "__main__":
    main()
