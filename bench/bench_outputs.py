"""What verified outputs cost: the verify step and the evidence copies, against the write itself.

Every volume is now reopened after writing (page count, trailer, every image at full length),
hashed from disk, and its pass-through scans are first copied into the work folder as hashed
(so the bytes embedded are the bytes that were hashed). This measures those costs against the
same write without them, for volumes of 20 and 200 pages of a ~1 MB JPEG scan (no OCR):

    .venv/bin/python bench/bench_outputs.py [--pages 20 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from assemble_helpers import spec_from_sample  # noqa: E402

from dossier_station.assemble import writer  # noqa: E402
from dossier_station.assemble.case import Case, CaseFields, CatalogueRow  # noqa: E402
from dossier_station.core.files import AtomicOutput, copy_hashed, sha256_file  # noqa: E402

SAMPLE = REPO.parent / "shared" / "data" / "pages" / "dev_004.jpg"


def write(n: int, out: Path) -> tuple[float, float]:
    """Seconds for the whole verified write, and for its verify step alone (timed inside it)."""
    spec = spec_from_sample(SAMPLE)
    row = CatalogueRow(1, "询问笔录")
    case = Case(CaseFields(case_name="测试案"), [row])
    saved = writer._volume_verifier
    spent = [0.0]

    def timed(total, images, forms=0):  # type: ignore[no-untyped-def]
        check = saved(total, images, forms)

        def run(path: Path) -> None:
            t = time.perf_counter()
            check(path)
            spent[0] += time.perf_counter() - t

        return run

    writer._volume_verifier = timed  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        writer.write_volume(case, [(row, [spec] * n)], 1, 1, out, output=AtomicOutput(out))
        return time.perf_counter() - t0, spent[0]
    finally:
        writer._volume_verifier = saved


def evidence_copies(n: int, work: Path) -> float:
    digest = sha256_file(SAMPLE)
    t0 = time.perf_counter()
    for i in range(n):
        copy_hashed(SAMPLE, work / f"{i:05d}.jpg", digest)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, nargs="+", default=[20, 200])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        write(2, Path(d) / "warm.pdf")  # fonts loaded once per process, as in a build
    print("| pages | volume write (s) | of which verify (s) | evidence copies (s) | overhead vs unverified write |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in args.pages:
        total, verify, copies = [], [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as d:
                t, v = write(n, Path(d) / "v.pdf")
                total.append(t)
                verify.append(v)
            with tempfile.TemporaryDirectory() as d:
                copies.append(evidence_copies(n, Path(d)))
        t, v, e = statistics.median(total), statistics.median(verify), statistics.median(copies)
        print(f"| {n} | {t:.2f} | {v:.2f} | {e:.2f} | {100 * (v + e) / (t - v):+.1f} % |")


if __name__ == "__main__":
    main()
