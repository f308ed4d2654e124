"""Benchmark the worker pool against the local process pool on the same pages, same run.

    .venv/bin/python bench/bench_cluster.py [--pages DIR] [--engine rapidocr] [--repeat 1] [--latency 8]

On one machine (so cores are equal): `dossier build` with 1 and 2 local processes, and with
`--broker` on 1 and 2 `dossier worker` processes (concurrency 1 each) of a private Redis —
pages/min and the queue's overhead (pool time / local time − 1). Then, with the pool idle:
the time from a task being sent to its OCR starting on a worker (the queue's own latency), the
time from a page landing in a hot folder served by `dossier watch --broker` to its OCR starting
on a worker (includes the watcher's stability window, given), and the time a build takes to
finish a page whose worker was SIGKILLed mid-page (the heartbeat-driven resend).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOSSIER = [sys.executable, "-m", "dossier_station.station"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(url).ping()
            return proc, url
        time.sleep(0.05)
    raise SystemExit("redis-server did not start")


class Worker:
    """`dossier worker` in its own process group (to be killed with its pool) but in this
    session: with the kernel's autogroup scheduling a new session would get its own share of a
    busy machine's CPU and flatter the pool against the local build, which runs in this one."""

    def __init__(self, url: str, name: str, folder: Path) -> None:
        self.name, self.log = f"{name}@bench", folder / f"{name}.jsonl"
        self.proc = subprocess.Popen([*DOSSIER, "worker", "--broker", url, "-c", "1", "-n", self.name, "--log-file", str(self.log)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0,
                                     env={**os.environ, "OMP_THREAD_LIMIT": "1"})

    def wait(self, client) -> None:  # type: ignore[no-untyped-def]
        while not client.exists(f"dossier:worker:{self.name}"):
            if self.proc.poll() is not None:
                raise SystemExit(f"worker {self.name} exited")
            time.sleep(0.1)

    def events(self) -> list[dict]:
        return [json.loads(x) for x in self.log.read_text("utf-8").splitlines()] if self.log.exists() else []

    def stop(self, sig: int = signal.SIGTERM) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system, incl. reaped children) of every process in group ``pgid``."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


def own_cpu() -> float:
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def build_seconds(pages: Path, out: Path, engine: str, *, jobs: int = 0, broker: str | None = None,
                  workers: list[Worker] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one build (the station's, its pool's, and the workers')."""
    from dossier_station.station.pipeline import BuildOptions, build_dossier

    shutil.rmtree(out, ignore_errors=True)
    cpu0 = own_cpu() + sum(group_cpu(w.proc.pid) for w in workers or [])
    t = time.perf_counter()
    build_dossier(pages, None, out, options=BuildOptions(engine=engine, jobs=jobs, broker=broker, attach=False))
    wall = time.perf_counter() - t
    return wall, own_cpu() + sum(group_cpu(w.proc.pid) for w in workers or []) - cpu0


def ts(event: dict) -> float:
    return datetime.fromisoformat(event["time"]).timestamp()


def queue_latency(url: str, page: Path, workers: list[Worker], n: int) -> list[float]:
    """Send → "started" on a worker, for a page already in Redis (the queue's own latency)."""
    from dossier_station.core.files import sha256_bytes
    from dossier_station.station.cluster.app import make_app
    from dossier_station.station.cluster.config import build_key, done_list, page_key, redis_client
    from dossier_station.station.cluster.payload import make_task

    client, app, out = redis_client(url), make_app(url), []
    for i in range(n):
        data = page.read_bytes() + f"\n{i} {time.time()}".encode()  # unique bytes: no cached result
        sha = sha256_bytes(data)
        client.set(page_key(sha), data)
        client.set(build_key("lat"), "1")
        task = make_task(build="lat", seq=1, name=f"lat{i}.png", index=0, count=1, kind="image", sha256=sha, size=len(data),
                         engine="tesseract", images="archival", via="redis", ref=page_key(sha), secret=None)
        t0 = time.time()
        app.send_task("dossier.ocr_page", args=[task], queue="ocr")
        deadline = time.monotonic() + 300
        while client.blpop([done_list("lat")], timeout=2) is None:
            if time.monotonic() > deadline:
                raise SystemExit("a latency probe never finished")
        started = [e for w in workers for e in w.events() if e.get("page") == f"lat{i}.png" and e.get("event") == "started"]
        out.append(ts(started[0]) - t0)
    return out


def landing_latency(url: str, page: Path, workers: list[Worker], n: int, stable: float, tmp: Path) -> list[float]:
    """A page renamed into a hot folder served by `dossier watch --broker` → "started" on a worker."""
    hot, out = tmp / "hot", tmp / "watch-out"
    hot.mkdir()
    profile = tmp / "profile.toml"
    profile.write_text(f'[build]\nengine = "tesseract"\nattach = false\n\n[cluster]\nbroker = "{url}"\n', "utf-8")
    watch = subprocess.Popen([*DOSSIER, "watch", str(hot), "-o", str(out), "--profile", str(profile), "--stable", str(stable)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while not (out / "watch-log.jsonl").exists():
            time.sleep(0.1)
        time.sleep(1.0)
        lat = []
        for i in range(n):
            name = f"land{i:02d}.png"
            tmpfile = hot / f".{name}.part"
            tmpfile.write_bytes(page.read_bytes() + f"\n{i} {time.time()}".encode())
            t0 = time.time()
            os.replace(tmpfile, hot / name)
            deadline = time.monotonic() + 120
            while True:
                started = [e for w in workers for e in w.events() if e.get("page") == name and e.get("event") == "started"]
                if started:
                    lat.append(ts(started[0]) - t0)
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} never started on a worker")
                time.sleep(0.02)
            while not any((out / "done").glob(f"land{i:02d}*")) and not any((out / "failed").glob(f"land{i:02d}*")):
                time.sleep(0.1)
        return lat
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        watch.wait(30)


def kill_recovery(url: str, pages: Path, workers: list[Worker], engine: str, tmp: Path) -> tuple[float, float]:
    """Build on 2 workers, SIGKILL one as it starts a page: seconds from the kill to the
    station resending its page, and to the build's end."""
    import logging

    from dossier_station.station.pipeline import BuildOptions, build_dossier

    resent: list[float] = []

    class Note(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "sending it again" in record.getMessage():
                resent.append(time.perf_counter())

    logging.getLogger("dossier.cluster").addHandler(Note())

    victim = workers[1]
    before = len(victim.events())
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("r", build_dossier(pages, None, tmp / "kill", options=BuildOptions(engine=engine, broker=url, attach=False))))
    t.start()
    while not any(e.get("event") == "started" for e in victim.events()[before:]):
        time.sleep(0.05)
    victim.stop(signal.SIGKILL)
    killed = time.perf_counter()
    t.join()
    return (resent[0] - killed if resent else float("nan")), time.perf_counter() - killed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=Path, default=REPO.parent / "shared" / "data" / "pages")
    ap.add_argument("--engine", default="rapidocr")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each configuration (the best is reported)")
    ap.add_argument("--latency", type=int, default=8, help="samples for each latency figure")
    ap.add_argument("--stable", type=float, default=1.0, help="the watcher's stability window for the landing figure")
    args = ap.parse_args()
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    os.environ.setdefault("DOSSIER_JOURNAL", str(tmp / "journal.sqlite3"))
    pages = tmp / "pages"
    pages.mkdir()
    for p in sorted(args.pages.iterdir()):
        if p.suffix.lower() in (".jpg", ".png", ".tif", ".tiff"):
            shutil.copy2(p, pages / p.name)
    n = len(list(pages.iterdir()))
    redis_proc, url = start_redis(tmp)
    from dossier_station.station.cluster.config import redis_client

    client = redis_client(url)
    workers: list[Worker] = []
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in ("local 1", "pool 1", "local 2", "pool 2")}
    try:
        warm = tmp / "warm"
        warm.mkdir()
        shutil.copy2(sorted(pages.iterdir())[0], warm)
        build_seconds(warm, tmp / "warm-out", args.engine, jobs=1)  # imports paid once, outside the figures
        for _ in range(args.repeat):  # interleaved, so a busy spell of the machine hits both sides
            for k in (1, 2):
                while len(workers) < k:
                    workers.append(Worker(url, f"w{len(workers) + 1}", tmp))
                    workers[-1].wait(client)
                times[f"local {k}"].append(build_seconds(pages, tmp / "local", args.engine, jobs=k))
                times[f"pool {k}"].append(build_seconds(pages, tmp / "pool", args.engine, broker=url, workers=workers[:k]))
            for w in workers[1:]:
                w.stop()
            workers = workers[:1]
        print(f"{n} pages, engine {args.engine}, best of {args.repeat} (interleaved), on {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        print("| configuration | wall s | pages/min | CPU s/page | pool vs local: wall | pool vs local: CPU |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for k in (1, 2):
            lo_w, lo_c = min(w for w, _ in times[f"local {k}"]), min(c for _, c in times[f"local {k}"])
            po_w, po_c = min(w for w, _ in times[f"pool {k}"]), min(c for _, c in times[f"pool {k}"])
            print(f"| local, {k} process{'es' if k > 1 else ''} | {lo_w:.1f} | {n / lo_w * 60:.1f} | {lo_c / n:.2f} | | |")
            print(f"| pool, {k} worker{'s' if k > 1 else ''} × 1 | {po_w:.1f} | {n / po_w * 60:.1f} | {po_c / n:.2f} "
                  f"| {(po_w / lo_w - 1) * 100:+.1f} % | {(po_c / lo_c - 1) * 100:+.1f} % |")
        while len(workers) < 2:
            workers.append(Worker(url, f"w{len(workers) + 1}", tmp))
            workers[-1].wait(client)
        first = sorted(pages.iterdir())[0]
        q = queue_latency(url, first, workers, args.latency)
        print(f"send → OCR starts on a worker (idle pool): median {statistics.median(q) * 1000:.0f} ms, max {max(q) * 1000:.0f} ms")
        land = landing_latency(url, first, workers, max(3, args.latency // 2), args.stable, tmp)
        print(f"page lands in hot folder → OCR starts on a worker (watch --stable {args.stable:g}): "
              f"median {statistics.median(land):.2f} s, max {max(land):.2f} s")
        resend, rest = kill_recovery(url, pages, workers, args.engine, tmp)
        print(f"SIGKILL of one of 2 workers mid-build → its page resent {resend:.1f} s later; build done {rest:.1f} s after the kill ({n} pages)")
    finally:
        for w in workers:
            w.stop()
        redis_proc.terminate()
        redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
