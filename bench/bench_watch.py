"""Benchmark: `dossier watch` vs OCRmyPDF's watcher (misc/watcher.py) on the same drops, one run.

    .venv/bin/python bench/bench_watch.py [--burst 60] [--singles 10] [--ocr 4]

Measures, for each watcher, **drop→claim latency** (from the moment a file appears in the hot
folder to the moment the watcher starts on it: our ``taken`` line, OCRmyPDF's ``New file``
line) p50/p95 — for files dropped one at a time into an idle watcher, and inside a burst — and
**files per minute** for the burst (first drop → last file finished).

- *fast profile* (what the watcher itself costs): ours with ``--job checksum`` (files the input
  with its SHA-256, no OCR); OCRmyPDF with ``tesseract_timeout: 0, optimize: 0, output_type:
  pdf`` (its cheapest path: it still opens, rasterises and rewrites each PDF).
- *OCR profile* (``--ocr N`` files, 0 to skip): ours building a dossier with ``--engine
  tesseract``; OCRmyPDF OCRing with tesseract (``-l eng``), one job at a time each.

OCRmyPDF's watcher is not vendored: it is read from the fetched repository
(``--ocrmypdf-repo``, default the search tool's mirror) and run with a separate venv that has
``ocrmypdf cyclopts python-dotenv watchfiles`` (``--ocrmypdf-python``; created if missing).
Drops are atomic (written beside the hot folder, renamed in), as a well-behaved MFP does.
"""

from __future__ import annotations

import argparse
import io
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = Path("/work/.mirror/ocrmypdf+OCRmyPDF/repo")
DEFAULT_PEER_VENV = Path(tempfile.gettempdir()) / "ocrmypdf-venv"


def tiny_pdf(text: str) -> bytes:
    im = Image.new("L", (850, 1100), 255)
    draw = ImageDraw.Draw(im)
    for i in range(6):
        draw.text((80, 120 + 60 * i), f"{text} — line {i}: hot folder benchmark page", fill=0)
    buf = io.BytesIO()
    im.save(buf, "PDF", resolution=100.0)
    return buf.getvalue()


class Tail:
    """Timestamp every line a watcher prints, as it arrives."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[tuple[float, str]] = []
        for stream in (proc.stdout, proc.stderr):
            threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in iter(stream.readline, ""):
            self.lines.put((time.time(), line.rstrip("\n")))

    def pump(self) -> None:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return

    def first(self, needle: str, name: str) -> float | None:
        return next((t for t, line in self.seen if needle in line and name in line), None)


class Watcher:
    """One watcher under test: how to start it, and which log lines mean taken / finished."""

    def __init__(self, label: str, cmd: list[str], env: dict[str, str], cwd: Path, taken: str, finished: tuple[str, ...], out: Path) -> None:
        self.label, self.cmd, self.env, self.cwd, self.taken, self.finished, self.out = label, cmd, env, cwd, taken, finished, out

    def pages_taken(self, name: str, lines: list[str]) -> str:
        """Pages of the slow writer's PDF as the watcher took it: ours, the claimed input;
        OCRmyPDF, the page count it parsed (its log) and whether its output is a valid PDF."""
        import re

        import pikepdf

        ours = self.out / "done" / Path(name).stem / "input" / name
        if ours.exists():
            with pikepdf.open(ours) as pdf:
                return str(len(pdf.pages))
        parsed = next((m.group(1) for line in lines if (m := re.search(r"Parsing (\d+) pages", line))), "?")
        invalid = any("INVALID" in line for line in lines)
        return f"{parsed} (output {'INVALID' if invalid else 'valid'})"

    def start(self) -> tuple[subprocess.Popen, Tail]:
        proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        return proc, Tail(proc)


def drop(hot: Path, side: Path, name: str, data: bytes) -> float:
    tmp = side / name
    tmp.write_bytes(data)
    os.rename(tmp, hot / name)
    return time.time()


def wait_for(tail: Tail, needles: tuple[str, ...], names: list[str], timeout: float) -> dict[str, float]:
    got: dict[str, float] = {}
    deadline = time.time() + timeout
    while len(got) < len(names) and time.time() < deadline:
        time.sleep(0.02)
        tail.pump()
        for n in names:
            if n not in got:
                for needle in needles:
                    t = tail.first(needle, n)
                    if t is not None:
                        got[n] = t
                        break
    return got


def wait_after(tail: Tail, start: str, name: str, ends: tuple[str, ...], timeout: float) -> list[str]:
    """Lines from ``name``'s start line to the first line that ends its job (one job at a time)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.05)
        tail.pump()
        lines = [line for _, line in tail.seen]
        first = next((i for i, line in enumerate(lines) if start in line and name in line), None)
        if first is None:
            continue
        end = next((i for i in range(first + 1, len(lines)) if any(e in lines[i] for e in ends)), None)
        if end is not None:
            return lines[first : end + 1]
    return []


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


SLOW_PAGES = 20


def slow_pdf() -> bytes:
    pages = []
    for i in range(SLOW_PAGES):
        im = Image.new("L", (850, 1100), 255)
        ImageDraw.Draw(im).text((100, 100), f"slow writer page {i + 1}", fill=0)
        pages.append(im)
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:], resolution=100.0)
    return buf.getvalue()


def slow_write(path: Path, data: bytes, chunks: int = 10, pause: float = 0.3) -> None:
    """A scanner writing a 20-page PDF straight into the hot folder over ~3 s."""
    step = -(-len(data) // chunks)
    with open(path, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i : i + step])
            f.flush()
            time.sleep(pause)


def run_case(w: Watcher, hot: Path, side: Path, singles: int, burst: int, tag: str, timeout: float) -> dict[str, float]:
    proc, tail = w.start()
    try:
        time.sleep(4.0)  # interpreter start, imports, first rescan
        tail.pump()
        lat_single: list[float] = []
        for i in range(singles):
            name = f"{tag}-single-{i:03d}.pdf"
            t0 = drop(hot, side, name, tiny_pdf(f"{tag} single {i}"))
            got = wait_for(tail, (w.taken,), [name], timeout)
            if name in got:
                lat_single.append(got[name] - t0)
            wait_for(tail, w.finished, [name], timeout)
            time.sleep(0.3)
        payloads = [(f"{tag}-burst-{i:04d}.pdf", tiny_pdf(f"{tag} burst {i}")) for i in range(burst)]
        dropped: dict[str, float] = {}
        for name, data in payloads:
            dropped[name] = drop(hot, side, name, data)
        first = min(dropped.values()) if dropped else time.time()
        names = list(dropped)
        taken = wait_for(tail, (w.taken,), names, timeout * max(1, burst))
        finished = wait_for(tail, w.finished, names, timeout * max(1, burst))
        lat_burst = [taken[n] - dropped[n] for n in names if n in taken]
        elapsed = (max(finished.values()) - first) if finished else float("nan")
        slow = f"{tag}-slow.pdf"
        slow_write(hot / slow, slow_pdf())
        slow_lines = wait_after(tail, w.taken, slow, (*w.finished, "Gave up", "Error while processing"), timeout)
        time.sleep(0.5)
        return {
            "slow_pages": w.pages_taken(slow, slow_lines),
            "single_p50": pct(lat_single, 50), "single_p95": pct(lat_single, 95),
            "burst_p50": pct(lat_burst, 50), "burst_p95": pct(lat_burst, 95),
            "files_per_min": len(finished) / elapsed * 60 if finished else 0.0,
            "finished": len(finished), "of": burst,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def ensure_peer(python: Path, repo: Path, where: Path) -> Path:
    """OCRmyPDF's watcher script, read from the fetched repository (not vendored here)."""
    if not python.exists():
        venv = python.parent.parent
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "ocrmypdf", "cyclopts", "python-dotenv", "watchfiles"], check=True)
    script = where / "watcher.py"
    if (repo / "misc" / "watcher.py").exists():
        shutil.copy(repo / "misc" / "watcher.py", script)
    else:  # a bare mirror: read it from git
        script.write_bytes(subprocess.run(["git", "-C", str(repo), "show", "HEAD:misc/watcher.py"], check=True, capture_output=True).stdout)
    return script


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--burst", type=int, default=60)
    ap.add_argument("--singles", type=int, default=10)
    ap.add_argument("--ocr", type=int, default=4, help="files for the OCR profile (0: skip)")
    ap.add_argument("--stable", type=float, default=1.0, help="our stability window for the run")
    ap.add_argument("--ocrmypdf-repo", type=Path, default=DEFAULT_MIRROR)
    ap.add_argument("--ocrmypdf-python", type=Path, default=DEFAULT_PEER_VENV / "bin" / "python")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    code = root / "code"
    code.mkdir()
    script = ensure_peer(args.ocrmypdf_python, args.ocrmypdf_repo, code)
    env = {**os.environ, "DOSSIER_JOURNAL": str(root / "journal.sqlite3"), "OMP_THREAD_LIMIT": "1"}
    profile = root / "station.toml"
    profile.write_text('[build]\nengine = "tesseract"\njobs = 1\n', "utf-8")

    def ours(label: str, extra: list[str], stable: float) -> tuple[Watcher, Path]:
        hot, out = root / label / "hot", root / label / "out"
        hot.mkdir(parents=True)
        cmd = [str(REPO / ".venv" / "bin" / "dossier"), "watch", str(hot), "-o", str(out), "--stable", str(stable), *extra]
        return Watcher(label, cmd, env, REPO, " taken ", (" done ", " failed "), out), hot

    def peer(label: str, settings: str) -> tuple[Watcher, Path]:
        hot, out, arch = root / label / "hot", root / label / "out", root / label / "archive"
        for d in (hot, out, arch):
            d.mkdir(parents=True)
        penv = {**env, "OCR_INPUT_DIRECTORY": str(hot), "OCR_OUTPUT_DIRECTORY": str(out), "OCR_ARCHIVE_DIRECTORY": str(arch),
                "OCR_ON_SUCCESS_ARCHIVE": "true", "OCR_JSON_SETTINGS": settings, "OCR_LOGLEVEL": "INFO"}
        return Watcher(label, [str(args.ocrmypdf_python), str(script)], penv, code, "New file:", ("OCR is done", "Error while processing", "Gave up"), out), hot

    cases = [
        ("dossier watch --job checksum", *ours("ours-fast", ["--job", "checksum"], args.stable), args.burst),
        ("OCRmyPDF watcher, no OCR", *peer("peer-fast", '{"tesseract_timeout": 0, "optimize": 0, "output_type": "pdf", "jobs": 1}'), args.burst),
    ]
    if args.ocr:
        cases += [
            ("dossier watch (build, tesseract)", *ours("ours-ocr", ["--profile", str(profile)], args.stable), args.ocr),
            ("OCRmyPDF watcher, tesseract", *peer("peer-ocr", '{"languages": ["eng"], "optimize": 0, "output_type": "pdf", "jobs": 1}'), args.ocr),
        ]
    rows = []
    for title, w, hot, burst in cases:
        side = hot.parent / "side"
        side.mkdir()
        singles = args.singles if burst == args.burst else min(2, args.singles)
        print(f"… {title}: {singles} single drops, burst of {burst}", flush=True)
        t0 = time.time()
        r = run_case(w, hot, side, singles, burst, w.label, timeout=120.0)
        print(f"  {time.time() - t0:.0f} s; {r}", flush=True)
        rows.append((title, r))
    print(f"\nstability window (ours): {args.stable:g} s; machine: {os.cpu_count()} cores\n")
    print("| watcher | idle drop→claim p50 / p95 (s) | burst drop→claim p50 / p95 (s) | burst files/min | finished | slow writer: pages taken |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for title, r in rows:
        print(f"| {title} | {r['single_p50']:.2f} / {r['single_p95']:.2f} | {r['burst_p50']:.2f} / {r['burst_p95']:.2f} "
              f"| {r['files_per_min']:.0f} | {r['finished']}/{r['of']} | {r['slow_pages']}/{SLOW_PAGES} |")
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
