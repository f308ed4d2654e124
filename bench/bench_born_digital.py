"""Born-digital pages: kept as vector pages vs stored as rasters, vs OCRmyPDF --skip-text.

Input: one born-digital PDF of N pages (default 10) of dense Chinese text — the ground-truth
lines of ../shared/data/pages set in the station's embedded CJK font, with a red rule per page
(vectors), as a case system's 起诉书 would be. In one run:

- **ours, kept**: ``dossier build`` (the page is imported as a Form XObject);
- **ours, raster**: the same build with the import refused, i.e. the page stored as before
  this change (the page stage's raster under the default image policy + its own text layer);
- **OCRmyPDF** ``--skip-text`` (pages with text kept as they are), ``--output-type pdfa`` and,
  as its own error message advises with Ghostscript 10.0.0, ``--output-type pdf``.

For each: seconds, bytes per document page (volume bytes less the same build's sheets and
attachments is not separable, so the whole file divided by the input pages — the sheets are
the same in both of ours), image XObjects in the file, whether a line of the text comes out of
``pdftotext`` exactly once, and whether every font is embedded (``pdffonts``).

    .venv/bin/python bench/bench_born_digital.py [--pages 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = REPO.parent / "shared" / "data" / "pages"


def make_input(out: Path, n: int) -> tuple[Path, str]:
    import pikepdf

    from dossier_station.assemble.canvas import Canvas
    from dossier_station.assemble.fonts import CjkFont

    texts = [ln["text"] for gt in sorted(PAGES.glob("dev_*.json")) for ln in json.loads(gt.read_text("utf-8"))["lines"]]
    font = CjkFont()
    contents = []
    for p in range(n):
        c = Canvas(font)
        c.text(60, 800, f"第{p + 1}页 文书编号BD-{p + 1:04d}", 12)  # a line found once in the whole file
        for i in range(32):
            c.text(60, 776 - 22 * i, texts[(p * 32 + i) % len(texts)][:34], 12)
        contents.append(c.content() + b"\n1 0 0 RG 1.5 w 60 60 m 535 60 l S")
    pdf = pikepdf.new()
    fonts = font.embed(pdf)
    for content in contents:
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595.28, 841.89],
                                  Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(fonts)), Contents=pikepdf.Stream(pdf, content))
        pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
    pdf.save(out)
    return out, "文书编号BD-0002"


def facts(pdf: Path, probe: str, pages: int) -> dict[str, object]:
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    from pikepdf.pdfa import validate_written

    return {
        "pdfa_2b": validate_written(pdf, "2b").passed,
        "bytes_per_page": round(pdf.stat().st_size / pages),
        "file_bytes": pdf.stat().st_size,
        "images": len(images),
        "text_once": text.count(probe) == 1,
        "fonts_embedded": all(f.split()[-5] == "yes" for f in fonts),
    }


def ours(src: Path, work: Path, refuse: bool) -> tuple[float, Path]:
    from dossier_station.assemble import imported_page
    from dossier_station.station.pipeline import BuildOptions, build_dossier

    saved = imported_page.SourcePdfs.refusal
    if refuse:  # as before this change: the page goes in as its raster and its own text
        imported_page.SourcePdfs.refusal = lambda self, imp, level, fallback="": "refused for the benchmark"  # type: ignore[method-assign]
    try:
        work.mkdir(exist_ok=True)
        folder = work / ("in-raster" if refuse else "in-kept")
        folder.mkdir()
        shutil.copy(src, folder / src.name)
        t = time.perf_counter()
        result = build_dossier(folder, None, work / ("out-raster" if refuse else "out-kept"), options=BuildOptions(engine="tesseract", jobs=1, attach=False))
        return time.perf_counter() - t, result.volumes[0]
    finally:
        imported_page.SourcePdfs.refusal = saved  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=10)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src, probe = make_input(work / "indictment.pdf", args.pages)
        rows = {"input": {"seconds": 0.0, **facts(src, probe, args.pages)}}
        ours(src, work / "warm-up", False)  # imports, fonts, engine: not counted
        for name, refuse in (("ours, raster (before)", True), ("ours, kept (vector)", False)):
            secs, vol = ours(src, work, refuse)
            rows[name] = {"seconds": round(secs, 2), **facts(vol, probe, args.pages)}
        for output_type in ("pdfa", "pdf"):
            t = time.perf_counter()
            out = work / f"ocrmypdf-{output_type}.pdf"
            cmd = [str(REPO / ".venv" / "bin" / "ocrmypdf"), "--skip-text", "--output-type", output_type, "-l", "chi_sim+eng", "--jobs", "1", str(src), str(out)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            name = f"OCRmyPDF --skip-text -> {output_type}"
            if r.returncode == 0:
                rows[name] = {"seconds": round(time.perf_counter() - t, 2), **facts(out, probe, args.pages)}
            else:
                rows[name] = {"exit": r.returncode, "error": " ".join(r.stderr.split())[-160:]}
    print(f"{args.pages} born-digital pages")
    for name, row in rows.items():
        print(f"{name:24s} " + "  ".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
