"""Benchmark `dossier build` against OCRmyPDF and bare tesseract on the same pages, same run.

Prints pages/min, CER against ground truth, pages upright, residual skew of the output,
bytes/page and the peak memory of each tool's whole process tree (sum of PSS over the
command and all its descendants, sampled every 50 ms, in a second run of its own: sampling
stalls the processes a little, so the timed run is left alone), and the ratios of ours to
OCRmyPDF's.
Every output is measured the same way: text through poppler's pdftotext (tesseract: its own
.txt), skew by rendering each output page with pdftoppm and measuring it with one
projection-profile method.

The input is the sample pages plus a turned copy of every non-blank one (90°, 180°, 270° in
turn), so orientation is part of every figure. ``--big`` adds one run of a single 35-Mpx page
(A4 at 600 dpi) to check the memory goal (≤ 1 GB for the whole tree at 2 workers).

    .venv/bin/python bench/bench_build.py [--pages DIR] [--jobs N] [--skip-ocrmypdf] [--no-turned] [--big]
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
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dossier_station.ocr.geometry import measure_skew  # noqa: E402
from dossier_station.ocr.quality import cer  # noqa: E402


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def _pss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of the command, nothing else running beside it in this bench."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    return time.perf_counter() - t


def peak_mib(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """The peak memory (MiB) of the command's whole process tree, in a run of its own.

    Memory is the sum of PSS (shared pages split between the processes sharing them) over the
    command and every descendant, sampled every 50 ms: what the tree costs the machine.
    Reading a process's smaps stalls it a little, so this run is not the one timed.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(_pss_mib(p) for p in _tree(proc.pid)))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
    return round(peak[0])


def run(make_cmd: Callable[[str], list[str]], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds of one run (``make_cmd("")``) and the tree's peak memory in a second one
    (``make_cmd("-mem")``: its outputs beside the first's)."""
    return timed(make_cmd(""), env), peak_mib(make_cmd("-mem"), env)


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


def ours(pages: list[Path], gts: list[dict], work: Path, jobs: int, images: str = "auto") -> dict:
    import pikepdf

    src = work / f"ours-in-{images}"
    src.mkdir()
    for p in pages:
        shutil.copy(p, src / p.name)
    out = work / f"ours-out-{images}"
    wall, rss = run(lambda tag: [str(REPO / ".venv/bin/dossier"), "build", str(src), "-o", f"{out}{tag}", "--jobs", str(jobs), "--images", images])
    pdf = next(out.glob("*.pdf"))
    texts = pdf_page_texts(pdf)
    with pikepdf.open(pdf) as doc:
        labels = {str(pg.label): i for i, pg in enumerate(doc.pages)}
    report = json.loads(next(out.glob("*.report.json")).read_text("utf-8"))
    by_name = {p.name: gt for p, gt in zip(pages, gts, strict=True)}
    rates, idx, upright, seals = [], [], 0, [0, 0]
    for rec in report["pages"]:
        gt = by_name[rec["key"]]
        if gt["is_blank"]:
            continue
        if gt.get("stamp"):  # DA/T 31 §9.3: a page with a red seal must stay colour
            seals[0] += "DeviceRGB" in rec["image_encoding"]
            seals[1] += 1
        i = labels[str(rec["page_number"])]
        lines = texts[i].strip().splitlines()
        if lines and lines[0].strip() == str(rec["page_number"]):
            lines = lines[1:]  # our stamped page number, not page text
        rates.append(cer(gt["text"], "".join(lines)))
        upright += rec["rotation_deg"] == gt["rotation_deg"]
        idx.append(i)
    return {"name": f"dossier ({images})", "wall": wall, "rss": rss, "bytes": pdf.stat().st_size, "cer": rates, "skew": page_skews(pdf, idx), "upright": upright, "seals": seals}


def turned_copies(pages: list[Path], gts: list[dict], work: Path) -> tuple[list[Path], list[dict]]:
    """The pages plus a turned copy of each non-blank one (90°, 180°, 270° in turn)."""
    from PIL import Image

    folder = work / "turned"
    folder.mkdir()
    out_pages, out_gts = [], []
    turns = iter((90, 180, 270) * len(pages))
    for p, gt in zip(pages, gts, strict=True):
        out_pages.append(p)
        out_gts.append(gt)
        if gt["is_blank"]:
            continue
        t = next(turns)
        copy = folder / f"{p.stem}_t{t:03d}{p.suffix}"
        im = Image.open(p)
        im.rotate(t, expand=True).save(copy, dpi=(300, 300), **({"quality": 92} if p.suffix == ".jpg" else {}))
        out_pages.append(copy)
        out_gts.append(dict(gt, rotation_deg=(gt["rotation_deg"] + t) % 360))
    return out_pages, out_gts


def big_page(work: Path, jobs: int, sample: Path) -> dict:
    """One 35-Mpx page (A4 at 600 dpi): the whole tree's peak memory at ``jobs`` workers."""
    from PIL import Image

    folder = work / "big"
    folder.mkdir()
    im = Image.open(sample)
    im.resize((im.width * 2, im.height * 2), Image.Resampling.LANCZOS).save(folder / "a4-600dpi.jpg", quality=90, dpi=(600, 600))
    wall, peak = run(lambda tag: [str(REPO / ".venv/bin/dossier"), "build", str(folder), "-o", str(work / f"big-out{tag}"), "--jobs", str(jobs)])
    return {"wall": wall, "peak": peak}


def as_png(pages: list[Path], work: Path) -> list[Path]:
    """The pages as `dossier scan` writes them: lossless PNG, grey or colour as captured."""
    from PIL import Image

    folder = work / "png"
    folder.mkdir()
    out = []
    for p in pages:
        im = Image.open(p)
        dest = folder / f"{p.stem}.png"
        im.save(dest, dpi=im.info.get("dpi", (300, 300)))
        out.append(dest)
    return out


def ocrmypdf(pages: list[Path], gts: list[dict], work: Path, jobs: int, optimize: int | None = None) -> dict:
    import img2pdf

    inp = work / "ocrmypdf-in.pdf"
    inp.write_bytes(img2pdf.convert([str(p) for p in pages]))
    out = work / "ocrmypdf-out.pdf"
    opt = ["-O", str(optimize)] if optimize is not None else []
    wall, rss = run(lambda tag: [str(REPO / ".venv/bin/ocrmypdf"), "--deskew", "--rotate-pages", "--output-type", "pdfa", *opt, "-l", "chi_sim+eng", "--jobs", str(jobs),
                                 str(inp), str(out.with_name(out.stem + tag + ".pdf"))])
    texts = pdf_page_texts(out)
    keep = [i for i, gt in enumerate(gts) if not gt["is_blank"]]
    rates = [cer(gts[i]["text"], texts[i]) for i in keep]
    # OCRmyPDF reports no turn per page: a page counts as upright when its text reads (CER < 0.5)
    upright = sum(r < 0.5 for r in rates)
    return {"name": "OCRmyPDF" + (f" -O{optimize}" if optimize is not None else ""), "wall": wall, "rss": rss, "bytes": out.stat().st_size, "cer": rates, "skew": page_skews(out, keep), "upright": upright}


def tesseract(pages: list[Path], gts: list[dict], work: Path, jobs: int) -> dict:
    out = work / "tess"
    out.mkdir()
    (work / "tess-mem").mkdir()
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    script = "tesseract \"$1\" \"$2/$(basename \"$1\")\" -l chi_sim+eng txt >/dev/null 2>&1"
    wall, rss = run(lambda tag: ["bash", "-c", f"printf '%s\\n' \"$@\" | xargs -P {jobs} -I{{}} bash -c '{script}' _ {{}} {out}{tag}", "_", *map(str, pages)], env=env)
    rates = [cer(gt["text"], (out / f"{p.name}.txt").read_text("utf-8")) for p, gt in zip(pages, gts, strict=True) if not gt["is_blank"]]
    return {"name": "tesseract (bare)", "wall": wall, "rss": rss, "bytes": 0, "cer": rates, "skew": [], "upright": None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=Path, default=REPO.parent / "shared" / "data" / "pages")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--skip-ocrmypdf", action="store_true")
    ap.add_argument("--no-turned", action="store_true", help="the sample pages only, no turned copies")
    ap.add_argument("--big", action="store_true", help="also build one 35-Mpx page and report the tree's peak memory")
    ap.add_argument("--skip-compact", action="store_true", help="skip the --images compact run")
    ap.add_argument("--skip-tesseract", action="store_true", help="skip the bare tesseract run")
    ap.add_argument("--png", action="store_true", help="feed every tool lossless PNG pages, as `dossier scan` writes them (image-policy figures)")
    ap.add_argument("--ocrmypdf-optimize", type=int, default=None, help="OCRmyPDF's -O level (the image-size goal is against -O2)")
    args = ap.parse_args()
    manifest = json.loads((args.pages / "manifest.json").read_text("utf-8"))
    pages = [args.pages / p["image"] for p in manifest["pages"]]
    gts = [json.loads((args.pages / p["gt"]).read_text("utf-8")) for p in manifest["pages"]]
    big = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.no_turned:
            pages, gts = turned_copies(pages, gts, work)
        if args.png:
            pages = as_png(pages, work)
        results = [ours(pages, gts, work, args.jobs)]
        if not args.skip_compact:
            results.append(ours(pages, gts, work, args.jobs, "compact"))
        if not args.skip_ocrmypdf:
            results.append(ocrmypdf(pages, gts, work, args.jobs, args.ocrmypdf_optimize))
        if not args.skip_tesseract:
            results.append(tesseract(pages, gts, work, args.jobs))
        if args.big:
            big = big_page(work, args.jobs, args.pages / "dev_004.jpg")
    n = len(pages)
    text_pages = sum(not g["is_blank"] for g in gts)
    print(f"{n} pages, {args.jobs} jobs, {os.cpu_count()} cores\n")
    print(f"{'tool':20} {'pages/min':>9} {'CER mean':>9} {'CER max':>8} {'upright':>8} {'skew med':>9} {'skew max':>9} {'bytes/page':>11} {'tree peak MiB':>13}")
    for r in results:
        skew_med = f"{statistics.median(r['skew']):.3f}" if r["skew"] else "-"
        skew_max = f"{max(r['skew']):.3f}" if r["skew"] else "-"
        bpp = f"{r['bytes'] / n:,.0f}" if r["bytes"] else "-"
        upright = f"{r['upright']}/{text_pages}" if r["upright"] is not None else "-"
        print(f"{r['name']:20} {n / r['wall'] * 60:9.1f} {statistics.mean(r['cer']):9.4f} {max(r['cer']):8.4f} {upright:>8} {skew_med:>9} {skew_max:>9} {bpp:>11} {r['rss']:13}")
    for r in results:
        if r.get("seals"):
            print(f"{r['name']}: seal pages kept colour {r['seals'][0]}/{r['seals'][1]}")
    if big:
        print(f"\none 35-Mpx page (A4 at 600 dpi), {args.jobs} jobs: {big['wall']:.1f} s, whole tree peak {big['peak']} MiB")
    if not args.skip_ocrmypdf:
        peer = next(r for r in results if r["name"].startswith("OCRmyPDF"))
        print()
        for a in (r for r in results if r["name"].startswith("dossier")):
            print(
                f"{a['name']} / OCRmyPDF: speed {peer['wall'] / a['wall']:.2f}×, bytes/page {a['bytes'] / peer['bytes']:.2f}×, "
                f"CER {statistics.mean(a['cer']) / statistics.mean(peer['cer']):.3f}×"
            )


if __name__ == "__main__":
    main()
