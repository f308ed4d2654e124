"""OCR workers die with the build that started them, however it ends (kill -9 included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def _ocr_processes(build: int) -> tuple[list[int], list[int]]:
    """(workers, helpers) below a build: workers are its children (spawned) or its fork
    server's children (forked); helpers are the fork server itself. The resource tracker,
    which exits by itself when the build's pipe closes, is left out."""
    workers, helpers = [], []
    for child in _children(build):
        if "resource_tracker" in _cmdline(child):
            continue
        if "forkserver" in _cmdline(child):
            helpers.append(child)
            workers.extend(_children(child))
        else:
            workers.append(child)
    return workers, helpers


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_do_not_outlive_a_killed_build(tmp_path, sample_dir, sig):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("dev_002.jpg", "dev_004.jpg", "dev_006.jpg", "dev_008.jpg", "dev_009.jpg", "dev_010.jpg"):
        (folder / name).write_bytes((sample_dir / name).read_bytes())
    build = subprocess.Popen(
        [sys.executable, "-m", "dossier_station.station", "build", str(folder), "-o", str(tmp_path / "out"), "--jobs", "2", "--no-attach"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        workers: list[int] = []
        helpers: list[int] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers, helpers = _ocr_processes(build.pid)
        assert len(workers) >= 2, "the build never started its workers"
        workers += helpers  # the fork server must not outlive the build either
        time.sleep(3)  # let the workers load the engine and start on pages
        os.kill(build.pid, sig)
        build.wait(timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        left = [p for p in workers if _alive(p)]
        assert not left, f"workers still running after {sig.name} to the build: {left}"
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()


def test_a_build_refusing_its_input_leaves_no_worker_behind(tmp_path):
    """The workers start while the inputs are checked; a refused input must stop them too."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "page.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a PNG")
    (folder / "page2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a PNG either")
    build = subprocess.Popen(
        [sys.executable, "-m", "dossier_station.station", "build", str(folder), "-o", str(tmp_path / "out"), "--jobs", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen: set[int] = set()
    while build.poll() is None:
        workers, helpers = _ocr_processes(build.pid)
        seen.update(workers + helpers)
        time.sleep(0.05)
    assert build.returncode != 0 and "unreadable or truncated image" in build.stderr.read()
    assert seen, "no worker was started early (the test would prove nothing)"
    time.sleep(1)
    assert not [p for p in seen if _alive(p)], "a worker outlived the refused build"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.pdf"))


def test_workers_started_early_read_the_pages_of_the_build(tmp_path):
    """The warm pool is the pool that reads the pages: no second set of workers is started."""
    from dossier_station.station.pages import WarmPool

    with WarmPool("tesseract", 2) as warm:
        pool = warm.take("tesseract", 2)
        assert pool is not None and len(pool._processes) == 2  # noqa: SLF001 - the pool's own count
        assert warm.take("tesseract", 2) is None  # taken once
        pool.shutdown(wait=True)
    with WarmPool("tesseract", 2) as warm:
        assert warm.take("tesseract", 1) is None  # a different shape: stopped, the build starts its own


def test_workers_are_started_early_only_when_several_pages_are_likely(tmp_path):
    """One file (a hot folder's usual job) is read in-process: early workers would only take its CPU."""
    from dossier_station.station.pages import many_pages_likely as _many_pages_likely

    one = tmp_path / "one"
    one.mkdir()
    (one / "a.pdf").write_bytes(b"%PDF-1.7")
    two = tmp_path / "two"
    two.mkdir()
    for n in ("a.jpg", "b.jpg"):
        (two / n).write_bytes(b"x")
    batch = tmp_path / "batch"
    (batch / "pages").mkdir(parents=True)
    (batch / "batch.json").write_text("{}")
    for n in ("1.png", "2.png"):
        (batch / "pages" / n).write_bytes(b"x")
    assert not _many_pages_likely(one / "a.pdf") and not _many_pages_likely(one)
    assert _many_pages_likely(two) and _many_pages_likely(tmp_path / "case.toml")
    assert not _many_pages_likely(batch) and not _many_pages_likely(batch / "pages")


def test_workers_started_with_the_command_are_the_ones_the_build_uses():
    """`dossier build` starts its workers before it loads the build; the build adopts them."""
    from dossier_station.station import pages

    with pages.started_early("tesseract", 2):
        early = pages._started_early  # noqa: SLF001 - the workers the command started
        assert early is not None and early._pool is not None  # noqa: SLF001
        started = early._pool  # noqa: SLF001
        with pages.WarmPool("tesseract", 2) as warm:
            assert pages._started_early is None  # noqa: SLF001 - adopted, not left to stop
            pool = warm.take("tesseract", 2)
            assert pool is started
            pool.shutdown(wait=True)


def test_workers_started_on_a_wrong_guess_are_stopped_not_used():
    """A profile the guess could not foresee (another engine, fewer jobs): the early workers stop."""
    from dossier_station.station import pages

    with pages.started_early("tesseract", 2):
        started = pages._started_early._pool  # noqa: SLF001
        procs = list(started._processes.values()) if started._processes else []  # noqa: SLF001
        with pages.WarmPool("tesseract", 3) as warm:
            pool = warm.take("tesseract", 3)
            assert pool is not None and pool is not started
            pool.shutdown(wait=True)
        for proc in procs:
            proc.join(timeout=30)
            assert not proc.is_alive()


def test_the_early_guess_follows_the_command_line_and_profile(tmp_path):
    from dossier_station.station.pages import early_guess

    folder = tmp_path / "in"
    folder.mkdir()
    for n in ("a.jpg", "b.jpg"):
        (folder / n).write_bytes(b"x")
    assert early_guess(folder, None, 2, None, None) == ("rapidocr", 2)
    assert early_guess(folder, "tesseract", 3, None, None) == ("tesseract", 3)
    assert early_guess(folder, None, 1, None, None) is None  # one at a time: read in-process
    assert early_guess(folder, None, 2, "redis://127.0.0.1:1/0", None) is None  # the pool's machines read them
    assert early_guess(folder / "a.jpg", None, 2, None, None) is None  # one file
    profile = tmp_path / "station.toml"
    profile.write_text('[build]\nengine = "tesseract"\njobs = 4\n')
    assert early_guess(folder, None, None, None, str(profile)) == ("tesseract", 4)
    profile.write_text('[cluster]\nbroker = "redis://127.0.0.1:6390/0"\n')
    assert early_guess(folder, None, None, None, str(profile)) is None
    profile.write_text("not = toml = at all")
    assert early_guess(folder, None, 2, None, str(profile)) is None  # the build reports the profile's error


def test_costliest_pages_go_first_and_outcomes_keep_input_order(tmp_path):
    """Sent costliest first (a dense page drawn last keeps one worker busy while the others
    wait); the build still gets its pages in input order, and the writer's head start (on_tail)
    comes once, when a worker has no page left to take."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from dossier_station.ocr.loader import PageSource
    from dossier_station.station import pages

    sizes = [300, 5000, 100, 2000, 800]
    sources = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"p{i}.jpg"
        path.write_bytes(b"x" * size)
        sources.append(PageSource(path, 0, 1, f"{i:064x}", "image"))
    started: list[str] = []
    lock = threading.Lock()

    def note_page(args):  # in place of the page stage: this test pins the scheduling only
        src = args[0]
        with lock:
            started.append(src.path.name)
        return src.path.name

    tails: list[int] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        got = list(pages._largest_first(pool, note_page, [(s, tmp_path, i + 1, "auto") for i, s in enumerate(sources)], 1, None, lambda: tails.append(len(started))))
    assert started == ["p1.jpg", "p3.jpg", "p4.jpg", "p0.jpg", "p2.jpg"]  # by size, largest first
    assert got == [f"p{i}.jpg" for i in range(5)]  # input order
    assert tails == [5]  # once: when the last page had gone to the only worker


def test_page_costs_compare_pages_within_their_format(tmp_path):
    """A lossless PNG of a text page is several times the bytes of a JPEG of one, not the work:
    each page is weighed against the pages of its own format, so the small (blank) ones of
    every format go last."""
    from dossier_station.ocr.loader import PageSource
    from dossier_station.station.pages import page_costs

    files = {"a.jpg": 900, "b.jpg": 1000, "blank.jpg": 100, "c.png": 3000, "d.png": 3300, "blank.png": 300}
    sources = []
    for name, size in files.items():
        (tmp_path / name).write_bytes(b"x" * size)
        sources.append(PageSource(tmp_path / name, 0, 1, "0" * 64, "image"))
    costs = dict(zip(files, page_costs(sources), strict=True))
    assert costs["c.png"] < costs["b.jpg"] * 1.5 and costs["d.png"] > costs["blank.jpg"]
    assert max(costs["blank.jpg"], costs["blank.png"]) < min(costs[n] for n in ("a.jpg", "b.jpg", "c.png", "d.png"))
