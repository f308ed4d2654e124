"""Benchmark the station UI in a real browser (Debian chromium via playwright), three figures:

1. page landing → thumbnail shown: SANE's virtual ``test`` scanner feeds pages through the UI's
   scan screen; for each page, the browser's time when its thumbnail finished loading minus the
   raw page file's mtime (written and fsynced by the scan worker). Goal ≤ 1 s.
2. first load of a 200-page batch's check screen (with a build report's flags on every page):
   navigation start → load event in the browser, and the server's time for the HTML. Goal ≤ 1 s.
3. request latency while OCR runs: the check screen and the batch list fetched repeatedly while
   a build runs (OCR in the pipeline's worker processes), against the same requests when idle.

    .venv/bin/python bench/bench_ui.py [--scan-pages 10] [--dpi 150] [--pages 200] [--ocr-pages 4 --engine tesseract]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DOSSIER_JOURNAL", str(Path(tempfile.mkdtemp(prefix="bench-ui-")) / "journal.sqlite3"))

from tests.ui_server import browser, serve  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def csrf(client: httpx.Client, url: str) -> str:
    return client.get(f"{url}/batches").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def thumbnail_latency(b, url: str, data: Path, pages: int, dpi: int) -> list[float]:
    page = b.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{url}/scan")
    page.fill("#device", "test:0")
    page.select_option("#preset", "text-grey")
    page.fill("#dpi", str(dpi))
    page.click("#start-scan")
    page.wait_for_url("**/batch/*/scan")
    batch = page.url.rsplit("/", 2)[-2]
    page.wait_for_selector('#feeder-state[data-state="done"]', timeout=300_000)
    time.sleep(0.5)
    shown = page.evaluate("window.__thumbShown")
    page.close()
    out = []
    for p in json.loads((data / "batches" / batch / "batch.json").read_text("utf-8"))["pages"][:pages]:
        if str(p["seq"]) in shown:
            landed = (data / "batches" / batch / p["file"]).stat().st_mtime
            out.append(shown[str(p["seq"])] / 1000 - landed)
    return out


def make_big_batch(data: Path, n: int) -> str:
    """A 200-page batch as a scan leaves it (pages, thumbnails, batch.json) plus a build report."""
    from PIL import Image

    from dossier_station.capture.batch import BatchFolder
    from dossier_station.devices.scanner import ScanSettings

    bid = "bench-200"
    b = BatchFolder.create(data / "batches" / bid, ScanSettings(device="test:0", dpi=300, mode="gray", source="adf"))
    page = Image.new("L", (1240, 1754), 255)
    thumb = page.copy()
    thumb.thumbnail((240, 340))
    report_pages = []
    for s in range(1, n + 1):
        page.save(b.path / "pages" / f"{s:04d}.png")
        thumb.save(b.path / "thumbs" / f"{s:04d}.jpg", quality=70)
        b.pages.append({"seq": s, "file": f"pages/{s:04d}.png", "sha256": "0" * 64, "role": "page", "flags": [], "thumb": f"thumbs/{s:04d}.jpg"})
        report_pages.append({"key": f"{s:04d}.png", "blank": s % 17 == 0, "ocr_confidence": 0.9, "page_number": s, "rotation_deg": 0})
    b.data["state"] = "complete"
    b.save()
    (b.path / "out").mkdir()
    qc = [{"page": f"{s:04d}.png", "issue": "low OCR confidence 0.70: check legibility"} for s in range(3, n, 11)]
    (b.path / "out" / "bench.report.json").write_text(json.dumps({"pages": report_pages, "qc": qc, "volumes": []}), "utf-8")
    return bid


def check_screen_load(b, url: str, bid: str, repeat: int) -> tuple[list[float], list[float]]:
    browser_ms, server_ms = [], []
    with httpx.Client() as c:
        for _ in range(repeat):
            t = time.perf_counter()
            c.get(f"{url}/batch/{bid}/check").raise_for_status()
            server_ms.append((time.perf_counter() - t) * 1000)
    for _ in range(repeat):
        ctx = b.new_context(viewport={"width": 1366, "height": 768})  # cold: no cached thumbnails
        page = ctx.new_page()
        page.goto(f"{url}/batch/{bid}/check", wait_until="load")
        nav = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
        browser_ms.append(json.loads(nav)["loadEventEnd"])
        assert page.locator("#grid .thumb").count() >= 200
        ctx.close()
    return browser_ms, server_ms


def latency_while(url: str, bid: str, busy: threading.Event | None, seconds: float) -> list[float]:
    out = []
    with httpx.Client() as c:
        end = time.monotonic() + seconds
        while time.monotonic() < end and (busy is None or busy.is_set()):
            for path in (f"/batch/{bid}/check", "/batches"):
                t = time.perf_counter()
                c.get(url + path).raise_for_status()
                out.append((time.perf_counter() - t) * 1000)
            time.sleep(0.1)
    return out


def ocr_latency(url: str, data: Path, bid: str, n: int, engine: str) -> tuple[list[float], list[float], float]:
    samples = REPO.parent / "shared" / "data" / "pages"
    files = sorted(p for p in samples.iterdir() if p.suffix in (".png", ".jpg"))[:n]
    with httpx.Client(timeout=120) as c:
        token = csrf(c, url)
        r = c.post(f"{url}/api/upload", headers={"X-CSRF-Token": token}, files=[("files", (f.name, f.read_bytes())) for f in files])
        r.raise_for_status()
        ocr_batch = r.json()["batch"]
        idle = latency_while(url, bid, None, 5)
        c.post(f"{url}/api/batch/{ocr_batch}/build", headers={"X-CSRF-Token": token}, json={"engine": engine}).raise_for_status()
        busy = threading.Event()
        busy.set()
        started = time.monotonic()

        def watch() -> None:
            while True:
                html = c.get(f"{url}/batch/{ocr_batch}/build").text
                if 'data-state="running"' not in html:
                    busy.clear()
                    return
                time.sleep(0.5)

        t = threading.Thread(target=watch)
        t.start()
        loaded = latency_while(url, bid, busy, 900)
        t.join()
        return idle, loaded, time.monotonic() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scan-pages", type=int, default=10)
    ap.add_argument("--dpi", type=int, default=150)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ocr-pages", type=int, default=4)
    ap.add_argument("--engine", default="tesseract")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "sane.d").mkdir()
        (work / "sane.d" / "dll.conf").write_text("test\n")
        os.environ["SANE_CONFIG_DIR"] = str(work / "sane.d")
        data = work / "data"
        with serve(data, build_overrides={"jobs": 2}) as url, browser() as b:
            lat = thumbnail_latency(b, url, data, args.scan_pages, args.dpi)
            print(f"page landing → thumbnail shown ({len(lat)} pages, {args.dpi} dpi grey): median {statistics.median(lat) * 1000:.0f} ms, "
                  f"p95 {pct(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms (goal ≤ 1000 ms)")
            bid = make_big_batch(data, args.pages)
            br, sv = check_screen_load(b, url, bid, args.repeat)
            print(f"check screen, {args.pages}-page batch, first load: browser load event median {statistics.median(br):.0f} ms "
                  f"(max {max(br):.0f}); server HTML median {statistics.median(sv):.0f} ms (goal ≤ 1000 ms)")
            idle, loaded, secs = ocr_latency(url, data, bid, args.ocr_pages, args.engine)
            print(f"request latency (check screen of {args.pages} pages + batch list): idle median {statistics.median(idle):.0f} ms p95 {pct(idle, 0.95):.0f}; "
                  f"while OCR runs ({args.ocr_pages} pages, {args.engine}, {secs:.0f} s) median {statistics.median(loaded):.0f} ms "
                  f"p95 {pct(loaded, 0.95):.0f} max {max(loaded):.0f} ({len(loaded)} requests)")


if __name__ == "__main__":
    main()
