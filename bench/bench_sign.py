"""Seals per second on this machine: `dossier seal`'s engine vs pyHanko's own CLI, same files, same run.

    .venv/bin/python bench/bench_sign.py [--files 40] [--jobs 2] [--ceremonies 5]

A DEMO PKI is made in a temp folder and served by `dossier pki serve` (a separate process, real
HTTP on 127.0.0.1) for both tools. The input is N copies of the demo transcript (2-page
PDF/A-2b, born digital). Scenarios: invisible / visible, B-B (no timestamp) / B-T (RFC 3161
timestamp from the PKI's TSA).

* ours: `signing.seal.seal_many` — ``--jobs`` worker processes, one persistent event loop and
  HTTP session each, the key loaded once per worker, raster seal image (no font); the
  certificate pre-check is done once per run (as `dossier seal` does) and is not timed.
* pyHanko CLI: ``pyhanko sign addsig [--timestamp-url URL] [--field 1/x1,y1,x2,y2/Seal] pemder
  --key K --cert C --chain CA --no-pass IN OUT``, ``--jobs`` processes at a time (one process per
  file, as a script around the CLI runs it); its visible appearance is its default text stamp.

Then the ceremony time: from the end of the capture (package loaded) to the signed file in
place, event key generated in SoftHSM2, in a warm process, median of ``--ceremonies`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PIN = "1234"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ours(files: list[Path], out: Path, pki, jobs: int, visible: bool, level: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from dossier_station.signing.appearance import seal_image
    from dossier_station.signing.keys import load_pkcs12, parse_key_ref
    from dossier_station.signing.pades import (
        Placement,
        SignRequest,
        Trust,
        load_certs,
        trust_from_signer,
    )
    from dossier_station.signing.seal import SealJob, seal_many

    ref = parse_key_ref(str(pki.p12("seal")))
    trust = trust_from_signer(load_pkcs12(pki.p12("seal"), PIN), load_certs(pki.root / "root.pem"))
    req = SignRequest(level=level, reason="unit seal", tsa_url=pki.tsa_url,
                      placement=Placement(-1, (40, 60, 160, 180), from_right=True) if visible else None,
                      image=seal_image("DEMO 示范公安局", 300) if visible else None)
    out.mkdir()
    jobs_ = [SealJob(f, out / f.name) for f in files]
    c, t = children_cpu(), time.perf_counter()
    res = seal_many(jobs_, ref, PIN, req, Trust(trust.roots, trust.others), workers=jobs)
    dt, cpu = time.perf_counter() - t, children_cpu() - c
    bad = [r for r in res if not r.ok]
    assert not bad, bad[0].error
    return len(files) / dt, 1000 * cpu / len(files)


def pyhanko_cli(files: list[Path], out: Path, pki, jobs: int, visible: bool, level: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    exe = shutil.which("pyhanko", path=str(REPO / ".venv" / "bin")) or shutil.which("pyhanko")
    assert exe, "pyhanko-cli not installed"
    out.mkdir()
    r = pki.root

    def one(f: Path) -> int:
        args = [exe, "sign", "addsig", "--field", "1/400,60,520,180/Seal" if visible else "Seal"]
        if level != "B-B":
            args += ["--use-pades", "--timestamp-url", pki.tsa_url]
        args += ["pemder", "--key", str(r / "keys" / "seal.key.pem"), "--cert", str(r / "certs" / "seal.pem"),
                 "--chain", str(r / "certs" / "interm.pem"), "--no-pass", str(f), str(out / f.name)]
        return subprocess.run(args, capture_output=True, check=False).returncode

    c, t = children_cpu(), time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        codes = list(pool.map(one, files))
    dt, cpu = time.perf_counter() - t, children_cpu() - c
    assert all(code == 0 for code in codes), codes
    return len(files) / dt, 1000 * cpu / len(files)


def ceremony_times(pki, work: Path, transcript: Path, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    from dossier_station.capture.signature import SignatureCaptureOptions, capture_signature
    from dossier_station.core.files import sha256_file
    from dossier_station.devices.emulators.fingerprint import FingerprintEmulator
    from dossier_station.devices.emulators.pen import PenEmulator
    from dossier_station.signing import escrow
    from dossier_station.signing.ceremony import CeremonyConfig, sign_transcript
    from dossier_station.signing.event import IssuingCa
    from dossier_station.signing.keys import parse_key_ref
    from dossier_station.signing.pades import Trust, load_certs
    from dossier_station.signing.softhsm import init_token
    from dossier_station.station.signing_ceremony import load_capture

    init_token(work / "softhsm", "bench-event", PIN)
    with PenEmulator(speed=3.0).start() as pen, FingerprintEmulator(finger_delay=0.2).start() as finger:
        opts = SignatureCaptureOptions(pen_port=pen.port, finger_port=finger.port, signer="王小明", pen_idle=0.3)
        pkg = capture_signature(opts, work / "capture", document={"sha256": sha256_file(transcript), "name": "t.pdf"})
    cfg = CeremonyConfig(ca=IssuingCa.from_pkcs12(pki.p12("ca").read_bytes(), PIN, crl_url=pki.crl_url),
                         trust=Trust(roots=load_certs(pki.root / "root.pem")), tsa_url=pki.tsa_url,
                         escrow_cert=escrow.load_escrow_cert(pki.root / "escrow.pem"),
                         token=parse_key_ref("pkcs11:token=bench-event"), token_pin=PIN, validity=timedelta(minutes=10))
    data = transcript.read_bytes()
    times = []
    for i in range(runs + 1):  # the first run warms the imports up and is not counted
        done = time.monotonic()
        capture = load_capture(pkg, sha256_file(transcript))  # the capture ends: package read and checked
        res = asyncio.run(sign_transcript(data, transcript, work / f"ceremony-{i}.pdf", signer_name="王小明",
                                          id_number="110101199003051234", capture=capture, cfg=cfg, capture_done=done))
        if i:
            times.append(res.seconds["total"])
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--ceremonies", type=int, default=5)
    a = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ["DOSSIER_PIN"] = PIN
    from dossier_station.signing.pki import init_pki
    from dossier_station.signing.pki_serve import wait_for_port
    from dossier_station.station.signing_transcript import make_transcript

    with tempfile.TemporaryDirectory(prefix="bench-sign-") as tmp:
        work = Path(tmp)
        pki = init_pki(work / "pki", free_port())
        server = subprocess.Popen([sys.executable, "-m", "dossier_station.station", "pki", "serve", str(pki.root), "--quiet"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_for_port("127.0.0.1", pki.port, 30), "pki serve did not start"
            transcript = make_transcript(work / "transcript.pdf")
            src = work / "in"
            src.mkdir()
            files = []
            for i in range(a.files):
                files.append(src / f"doc{i:03d}.pdf")
                shutil.copy(transcript, files[-1])
            print(f"{a.files} files ({transcript.stat().st_size:,} bytes, 2-page PDF/A-2b), {a.jobs} processes, "
                  f"{os.cpu_count()} cores\n")
            print(f"load average before the run: {os.getloadavg()[0]:.1f}")
            print("| scenario | ours seals/s | pyHanko CLI seals/s | ratio | ours CPU ms/seal | CLI CPU ms/seal | "
                  "ours CPU-bound seals/s on 2 cores |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
            for visible in (False, True):
                for level in ("B-B", "B-T"):
                    name = f"{'visible' if visible else 'invisible'}, {level}"
                    tag = f"{int(visible)}{level}"
                    o, oc = ours(files, work / f"ours-{tag}", pki, a.jobs, visible, level)
                    p, pc = pyhanko_cli(files, work / f"cli-{tag}", pki, a.jobs, visible, level)
                    print(f"| {name} | {o:.1f} | {p:.1f} | {o / p:.1f}× | {oc:.0f} | {pc:.0f} | {2000 / oc:.0f} |", flush=True)
            t = ceremony_times(pki, work, transcript, a.ceremonies)
            print(f"\nceremony, end of capture → signed file (event key in SoftHSM2, B-T, visible, marks on every page,"
                  f" escrow): median {statistics.median(t):.2f} s, min {min(t):.2f} s, max {max(t):.2f} s "
                  f"over {len(t)} runs")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
