"""Scanner driver: one interface, SANE through pyinsane2 on Linux (WIA through it on Windows).

libsane runs in a worker process of our own (spawned), in pyinsane2's single-thread mode, and
that worker writes every page to the batch folder the moment it is read: a misbehaving backend
can kill only the worker, never the station, and a page on disk never depends on the parent.
(pyinsane2's own daemon is not used: its pipe reads each reply with one ``os.read`` and
truncates real pages.)

Options are a frozen value object (NAPS2's shape); the device's constraints are read and the
request negotiated against them — vendor ``source``/``mode`` strings by pattern, resolution to
the device's list or range — and a value the device cannot do is an error listing what it can.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dossier_station.core.errors import BadArgsError, DeviceError, DeviceNotFoundError, DossierError
from dossier_station.core.files import sha256_bytes
from dossier_station.devices.scan_options import (  # noqa: F401 - re-exported: the driver's public surface
    FAULTS,
    MODE_PATTERNS,
    SANE_FIXED,
    SOURCE_PATTERNS,
    DeviceInfo,
    PageRecord,
    ScanSettings,
    pick_resolution,
    pick_string,
    raw_value,
)

# ---------------------------------------------------------------- worker process side


def _fingerprint(im: Any) -> list[int]:
    return list(im.convert("L").resize((8, 8)).tobytes())


def _write_once(path: Path, data: bytes) -> None:
    """Raw pages are evidence: created exclusively, fsynced, never overwritten."""
    tmp = path.with_name(f".{path.name}.part")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if path.exists():
        tmp.unlink()
        raise FileExistsError(f"{path} already exists; raw pages are never overwritten")
    os.link(tmp, path)
    tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _apply(dev: Any, settings: ScanSettings) -> dict[str, Any]:
    opts = dev.options
    applied: dict[str, Any] = {}

    def opt_value(name: str) -> Any:
        try:
            return opts[name].value
        except Exception:
            return None

    if "source" in opts:
        src = pick_string(settings.source, SOURCE_PATTERNS, list(opts["source"].constraint or []), "from source", settings.source_name)
        opts["source"].value = src
        applied["source"] = src
    elif settings.source != "flatbed":
        raise BadArgsError("the scanner has no document feeder", hint="use --source flatbed")
    if "mode" in opts:
        mode = pick_string(settings.mode, MODE_PATTERNS, list(opts["mode"].constraint or []), "in mode")
        opts["mode"].value = mode
        applied["mode"] = mode
    res = opts["resolution"]
    fixed = "Fixed" in str(res.val_type)
    res.value = pick_resolution(settings.dpi, res.constraint, fixed)
    applied["dpi"] = settings.dpi
    for name, value in (("brightness", settings.brightness), ("contrast", settings.contrast)):
        if value is not None and name in opts:
            opts[name].value = value
            applied[name] = value
    import pyinsane2

    if settings.page_mm:
        w, h = settings.page_mm
        for name, v in (("page-height", h), ("page-width", w), ("tl-x", 0), ("tl-y", 0), ("br-y", h), ("br-x", w)):
            if name in opts:  # page height before bottom-right y: some backends clamp br-y to it
                fixed_geo = "Fixed" in str(opts[name].val_type)
                opts[name].value = int(v * SANE_FIXED) if fixed_geo else int(v)
        applied["page_mm"] = [w, h]
    else:
        pyinsane2.maximize_scan_area(dev)
    for name, value in settings.extra:
        if name not in opts:
            raise BadArgsError(f"the scanner has no option {name!r}", hint=f"it has: {', '.join(sorted(opts))}")
        opts[name].value = raw_value(opts[name], value)
        applied[name] = value
    applied["geometry"] = {k: opt_value(k) for k in ("tl-x", "tl-y", "br-x", "br-y") if k in opts}
    return applied


def _worker(settings: ScanSettings, batch: str, start_seq: int, max_pages: int | None, schedule: dict[int, dict[str, Any]], out: Any) -> None:
    """Runs in the worker process: open, negotiate, scan, write each page, report."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    os.environ["PYINSANE_SINGLE_THREAD"] = "1"
    try:
        import pyinsane2

        pyinsane2.init()
        devices = pyinsane2.get_devices()
        names = [d.name for d in devices]
        if not devices:
            out.put(("notfound", "no scanner found", []))
            return
        name = settings.device or names[0]
        if name not in names:
            out.put(("notfound", f"scanner {name!r} not found", names))
            return
        dev = next(d for d in devices if d.name == name)
        applied = _apply(dev, settings)
        out.put(("opened", asdict(DeviceInfo(dev.name, dev.vendor, dev.model, getattr(dev, "dev_type", ""))), applied))
        pages_dir, thumbs = Path(batch) / "pages", Path(batch) / "thumbs"
        count = 0
        # Encoding, hashing, fsync and thumbnails run on a writer thread while the next page is
        # read: zlib, hashlib and fsync release the GIL, so the feeder does not wait for them.
        pending: queue.Queue[Any] = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def writer() -> None:
            seq = start_seq
            while (item := pending.get()) is not None:
                im, index = item
                try:
                    out.put(("page", asdict(_store(im, seq, index, settings, pages_dir, thumbs))))
                except BaseException as exc:  # reported after the scan loop
                    failure.append(exc)
                    return
                seq += 1

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        try:
            for im in _images(dev, settings, max_pages, schedule, out):
                if failure:
                    break
                pending.put((im, count))
                count += 1
        finally:
            pending.put(None)
            thread.join()
        if failure:
            raise failure[0]
        if count == 0 and settings.source != "flatbed":
            out.put(("fault", "NO_DOCS", "no documents"))
            return
        out.put(("end", count))
    except DossierError as exc:  # a setting the device cannot do: the clerk's to fix
        out.put(("refused", exc.message, exc.hint))
    except Exception as exc:  # classify SANE statuses; anything else is reported as is
        status = getattr(exc, "status", None)
        label = str(status).split(":")[-1].strip() if status is not None else ""
        for key in FAULTS:
            if key.replace("_", " ").lower() in label.lower() or key.lower() in type(exc).__name__.lower():
                out.put(("fault", key, str(exc)))
                return
        for key, words in (("JAMMED", "jammed"), ("COVER_OPEN", "cover"), ("DEVICE_BUSY", "busy"), ("IO_ERROR", "i/o"), ("NO_DOCS", "no more documents")):
            if words in str(exc).lower():
                out.put(("fault", key, str(exc)))
                return
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _store(im: Any, seq: int, index: int, settings: ScanSettings, pages_dir: Path, thumbs: Path) -> PageRecord:
    """Write one raw page (once, fsynced), its thumbnail, and describe it."""
    buf = _png(im, settings.dpi)
    path = pages_dir / f"{seq:04d}.png"
    _write_once(path, buf)
    thumb = im.copy()
    thumb.thumbnail((240, 340))
    thumb.convert("RGB" if im.mode == "RGB" else "L").save(thumbs / f"{seq:04d}.jpg", quality=70)
    side = "back" if settings.source == "adf-duplex" and index % 2 == 1 else "front"
    return PageRecord(
        seq, f"pages/{path.name}", sha256_bytes(buf), len(buf), im.width, im.height,
        settings.dpi, im.mode, side, time.strftime("%Y-%m-%dT%H:%M:%S%z"), f"thumbs/{seq:04d}.jpg", _fingerprint(im),
    )


def _images(dev: Any, settings: ScanSettings, max_pages: int | None, schedule: dict[int, dict[str, Any]], out: Any):  # type: ignore[no-untyped-def]
    """Pages as they come: one multi-page session on a feeder, one session per page on glass.

    Scheduled option changes (``schedule[n]`` before page n) are applied between pages, when
    no scan is open — backends refuse option changes mid-scan.
    """

    def apply(n: int) -> None:
        for opt, value in schedule.get(n, {}).items():
            dev.options[opt].value = raw_value(dev.options[opt], value)

    if settings.source == "flatbed":
        for n in range(1, (max_pages or 1) + 1):
            apply(n)
            session = dev.scan(multiple=False)
            try:
                while True:
                    session.scan.read()
            except EOFError:
                pass
            if session.images:
                yield session.images.pop()
        return
    apply(1)
    session = dev.scan(multiple=True)
    count = 0
    try:
        while max_pages is None or count < max_pages:
            if count:
                apply(count + 1)
            try:
                session.scan.read()
            except EOFError:
                if not session.images:  # sane_read said NO_DOCS: the feeder is empty
                    return
                count += 1
                yield session.images.pop()
    except StopIteration:
        return


def _png(im: Any, dpi: int) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1, dpi=(dpi, dpi))  # lossless; level 1: the feeder must not wait for zlib
    return buf.getvalue()


# ---------------------------------------------------------------- station side


class ScanWorker:
    """The parent's handle on one scanning worker: iterate its messages with timeouts."""

    def __init__(self, settings: ScanSettings, batch: Path, start_seq: int, *, max_pages: int | None = None,
                 schedule: dict[int, dict[str, Any]] | None = None, timeout: float = 60.0) -> None:
        ctx = _context()
        self._queue = ctx.Queue()
        self.timeout = timeout
        self.process = ctx.Process(target=_worker, args=(settings, str(batch), start_seq, max_pages, schedule or {}, self._queue), daemon=True)
        self.process.start()

    def messages(self):  # type: ignore[no-untyped-def]
        """Yield the worker's messages; a worker that dies or goes silent is a device error."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                msg = self._queue.get(timeout=0.5)
            except queue.Empty:
                if not self.process.is_alive():
                    try:
                        msg = self._queue.get(timeout=1.0)
                    except queue.Empty:
                        raise DeviceError(
                            f"the scanner driver stopped unexpectedly (exit code {self.process.exitcode})",
                            hint="check the scanner's cable and power, then run: dossier scan --resume BATCH",
                        ) from None
                elif time.monotonic() > deadline:
                    self.stop()
                    raise DeviceError(
                        f"the scanner did not answer for {self.timeout:.0f} s (disconnected?)",
                        hint="check the scanner's cable and power, then run: dossier scan --resume BATCH",
                    ) from None
                else:
                    continue
            deadline = time.monotonic() + self.timeout
            yield msg
            if msg[0] in ("end", "fault", "error", "notfound", "refused"):
                return

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
        self.process.join(1)


def _context():  # type: ignore[no-untyped-def]
    """fork on Linux: the parent never loads libsane, so the child starts clean and at once
    (spawn would re-import the whole CLI, ~1 s before the first page); spawn elsewhere."""
    import sys

    return get_context("fork" if sys.platform.startswith("linux") else "spawn")


def list_devices(timeout: float = 30.0) -> list[DeviceInfo]:
    ctx = _context()
    q = ctx.Queue()
    p = ctx.Process(target=_list_worker, args=(q,), daemon=True)
    p.start()
    try:
        result = q.get(timeout=timeout)
    except queue.Empty:
        p.terminate()
        raise DeviceError("listing scanners timed out", hint="a network scanner may be unreachable; try again") from None
    p.join(2)
    if isinstance(result, str):
        raise DeviceNotFoundError(f"cannot list scanners: {result}", hint="install libsane1 and sane-utils")
    return [DeviceInfo(**d) for d in result]


def _list_worker(q: Any) -> None:
    os.environ["PYINSANE_SINGLE_THREAD"] = "1"
    try:
        import pyinsane2

        pyinsane2.init()
        q.put([asdict(DeviceInfo(d.name, d.vendor, d.model, getattr(d, "dev_type", ""))) for d in pyinsane2.get_devices()])
    except Exception as exc:
        q.put(f"{type(exc).__name__}: {exc}")
