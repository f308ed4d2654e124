"""Benchmark `dossier build` against OCRmyPDF and bare tesseract on the same pages, same run.

Prints pages/min, CER against ground truth, residual skew of the output, bytes/page and peak
RSS for each, and the ratios of ours to OCRmyPDF's. Every output is measured the same way:
text through poppler's pdftotext (tesseract: its own .txt), skew by rendering each output page
with pdftoppm and measuring it with one projection-profile method.

    .venv/bin/python bench/bench_build.py [--pages DIR] [--jobs N] [--skip-ocrmypdf]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dossier_station.ocr.geometry import measure_skew  # noqa: E402
from dossier_station.ocr.quality import cer  # noqa: E402


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and the peak RSS (MiB) of the largest process in the command's tree.

    ``os.wait4`` reports the usage of this one child and the descendants it waited for, so
    each tool's figure is its own, not the running maximum over the whole benchmark.
    """
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    return wall, usage.ru_maxrss // 1024


def pdf_page_texts(pdf: Path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return out.split("\f")[:-1]


def page_skews(pdf: Path, indices: list[int]) -> list[float]:
    import cv2

    skews = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in indices:
            prefix = Path(tmp) / f"p{i}"
            subprocess.run(["pdftoppm", "-r", "100", "-gray", "-f", str(i + 1), "-l", str(i + 1), "-png", str(pdf), str(prefix)], check=True)
            img = cv2.imread(str(next(Path(tmp).glob(f"p{i}*.png"))), cv2.IMREAD_GRAYSCALE)
            geo = measure_skew(img)
            skews.append(abs(geo.skew_deg))
            for f in Path(tmp).glob(f"p{i}*.png"):
                f.unlink()
    return skews


def ours(pages: list[Path], gts: list[dict], work: Path, jobs: int, images: str = "archival") -> dict:
    import pikepdf

    src = work / f"ours-in-{images}"
    src.mkdir()
    for p in pages:
        shutil.copy(p, src / p.name)
    out = work / f"ours-out-{images}"
    cmd = [str(REPO / ".venv/bin/dossier"), "build", str(src), "-o", str(out), "--jobs", str(jobs), "--images", images]
    wall, rss = run(cmd)
    pdf = next(out.glob("*.pdf"))
    texts = pdf_page_texts(pdf)
    with pikepdf.open(pdf) as doc:
        labels = {str(pg.label): i for i, pg in enumerate(doc.pages)}
    report = json.loads(next(out.glob("*.report.json")).read_text("utf-8"))
    rates, idx = [], []
    for rec, gt in zip(report["pages"], gts, strict=True):
        if gt["is_blank"]:
            continue
        i = labels[str(rec["page_number"])]
        lines = texts[i].strip().splitlines()
        if lines and lines[0].strip() == str(rec["page_number"]):
            lines = lines[1:]  # our stamped page number, not page text
        rates.append(cer(gt["text"], "".join(lines)))
        idx.append(i)
    return {"name": f"dossier ({images})", "wall": wall, "rss": rss, "bytes": pdf.stat().st_size, "cer": rates, "skew": page_skews(pdf, idx)}


def ocrmypdf(pages: list[Path], gts: list[dict], work: Path, jobs: int) -> dict:
    import img2pdf

    inp = work / "ocrmypdf-in.pdf"
    inp.write_bytes(img2pdf.convert([str(p) for p in pages]))
    out = work / "ocrmypdf-out.pdf"
    cmd = [str(REPO / ".venv/bin/ocrmypdf"), "--deskew", "--rotate-pages", "--output-type", "pdfa", "-l", "chi_sim+eng", "--jobs", str(jobs), str(inp), str(out)]
    wall, rss = run(cmd)
    texts = pdf_page_texts(out)
    keep = [i for i, gt in enumerate(gts) if not gt["is_blank"]]
    rates = [cer(gts[i]["text"], texts[i]) for i in keep]
    return {"name": "OCRmyPDF", "wall": wall, "rss": rss, "bytes": out.stat().st_size, "cer": rates, "skew": page_skews(out, keep)}


def tesseract(pages: list[Path], gts: list[dict], work: Path, jobs: int) -> dict:
    out = work / "tess"
    out.mkdir()
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    script = "tesseract \"$1\" \"$2/$(basename \"$1\")\" -l chi_sim+eng txt >/dev/null 2>&1"
    cmd = ["bash", "-c", f"printf '%s\\n' \"$@\" | xargs -P {jobs} -I{{}} bash -c '{script}' _ {{}} {out}", "_", *map(str, pages)]
    wall, rss = run(cmd, env=env)
    rates = [cer(gt["text"], (out / f"{p.name}.txt").read_text("utf-8")) for p, gt in zip(pages, gts, strict=True) if not gt["is_blank"]]
    return {"name": "tesseract (bare)", "wall": wall, "rss": rss, "bytes": 0, "cer": rates, "skew": []}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=Path, default=REPO.parent / "shared" / "data" / "pages")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--skip-ocrmypdf", action="store_true")
    args = ap.parse_args()
    manifest = json.loads((args.pages / "manifest.json").read_text("utf-8"))
    pages = [args.pages / p["image"] for p in manifest["pages"]]
    gts = [json.loads((args.pages / p["gt"]).read_text("utf-8")) for p in manifest["pages"]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results = [ours(pages, gts, work, args.jobs), ours(pages, gts, work, args.jobs, "compact")]
        if not args.skip_ocrmypdf:
            results.append(ocrmypdf(pages, gts, work, args.jobs))
        results.append(tesseract(pages, gts, work, args.jobs))
    n = len(pages)
    print(f"{n} pages, {args.jobs} jobs, {os.cpu_count()} cores\n")
    print(f"{'tool':20} {'pages/min':>9} {'CER mean':>9} {'CER max':>8} {'skew med':>9} {'skew max':>9} {'bytes/page':>11} {'peak RSS MiB':>12}")
    for r in results:
        skew_med = f"{statistics.median(r['skew']):.3f}" if r["skew"] else "-"
        skew_max = f"{max(r['skew']):.3f}" if r["skew"] else "-"
        bpp = f"{r['bytes'] / n:,.0f}" if r["bytes"] else "-"
        print(f"{r['name']:20} {n / r['wall'] * 60:9.1f} {statistics.mean(r['cer']):9.4f} {max(r['cer']):8.4f} {skew_med:>9} {skew_max:>9} {bpp:>11} {r['rss']:12}")
    if not args.skip_ocrmypdf:
        peer = results[2]
        print()
        for a in results[:2]:
            print(
                f"{a['name']} / OCRmyPDF: speed {peer['wall'] / a['wall']:.2f}×, bytes/page {a['bytes'] / peer['bytes']:.2f}×, "
                f"CER {statistics.mean(a['cer']) / statistics.mean(peer['cer']):.3f}×"
            )


if __name__ == "__main__":
    main()
