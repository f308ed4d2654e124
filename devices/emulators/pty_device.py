"""A serial device on a pseudo-terminal: the shared plumbing of the pen and fingerprint emulators.

The host opens the slave path with pyserial exactly as it would open ``/dev/ttyUSB0``, so tests
and the demo exercise the real termios/read/write path. The emulator serves the master fd from a
thread (or the foreground, for ``dossier pads emulate``), writes without blocking so a slow host
never stalls command handling, and reads the host's line speed back with ``termios.tcgetattr``:
when it differs from the device's baud, what goes out is garbage, as from a mis-clocked UART.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import termios
import threading
import time
import tty
from abc import ABC, abstractmethod

SPEEDS = {getattr(termios, f"B{n}"): n for n in (
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400) if hasattr(termios, f"B{n}")}


def garbage(n: int, rng: random.Random) -> bytes:
    """Bytes that can never form an ISDV4 packet body or an ``EF 01`` header (all ≥ 0x80, ≠ 0xEF)."""
    return bytes(rng.choice(range(0x80, 0xEF)) for _ in range(n))


class PtyDevice(ABC):
    """Serve one pty master: feed host bytes to :meth:`on_bytes`, call :meth:`tick` regularly."""

    tick_interval = 0.002

    def __init__(self, *, baud: int, wire_time: bool = False, seed: int = 1) -> None:
        self.baud = baud
        self.wire_time = wire_time
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo of our own output back to us before the host opens
        self.port = os.ttyname(self._slave)
        os.set_blocking(self.master, False)
        self.received = bytearray()  # everything the host sent, for tests
        self.sent = bytearray()  # everything written to the wire (after faults/garbling)
        self.silent = False
        self.unplugged = False
        self._rng = random.Random(seed)
        self._out = bytearray()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._credit = 0.0
        self._last = time.monotonic()

    # -- to implement ---------------------------------------------------------------------------
    @abstractmethod
    def on_bytes(self, data: bytes, now: float) -> None:
        """Bytes the host wrote (any chunking); called with the device lock held."""

    def tick(self, now: float) -> None:
        """Time-driven behaviour (streaming packets); default none."""
        return None

    # -- line -----------------------------------------------------------------------------------
    def host_baud(self) -> int | None:
        """The speed the host set on the port (None once unplugged or if unknown)."""
        try:
            return SPEEDS.get(termios.tcgetattr(self._slave)[5])
        except (termios.error, OSError):
            return None

    def baud_matches(self) -> bool:
        return self.host_baud() == self.baud

    def send(self, data: bytes) -> None:
        """Queue device output; garbled when the host's speed is wrong, dropped when silent."""
        if self.silent or self.unplugged:
            return
        if not self.baud_matches():
            data = garbage(len(data), self._rng)
        self.send_raw(data)

    def send_raw(self, data: bytes) -> None:
        """Queue bytes verbatim (fault injection: stray bytes)."""
        with self._lock:
            self._out += data

    def pending_output(self) -> int:
        with self._lock:
            return len(self._out)

    # -- serving --------------------------------------------------------------------------------
    def start(self) -> PtyDevice:
        """Serve from a daemon thread; returns self so ``with Emulator().start() as emu`` reads well."""
        self._thread = threading.Thread(target=self.serve_forever, name=type(self).__name__,
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        while not self._stop.is_set() and not self.unplugged:
            with self._lock:  # when pacing, write on each tick instead of on writability
                want_write = bool(self._out) and not self.wire_time
            try:
                readable, writable, _ = select.select(
                    [self.master], [self.master] if want_write else [], [], self.tick_interval)
            except (OSError, ValueError):
                return  # fd closed under us (unplug)
            now = time.monotonic()
            with self._lock:
                if readable:
                    try:
                        data = os.read(self.master, 4096)
                    except BlockingIOError:
                        data = b""
                    except OSError:
                        return
                    if data:
                        self.received += data
                        self.on_bytes(data, now)
                self.tick(now)
                if self._out and (writable or not want_write):
                    self._write_some(now)

    def _write_some(self, now: float) -> None:
        limit = len(self._out)
        if self.wire_time:  # 10 bits per byte on the wire (8N1)
            self._credit = min(self._credit + (now - self._last) * self.baud / 10, 64)  # UART FIFO
            limit = min(limit, int(self._credit))
        self._last = now
        if limit <= 0:
            return
        try:
            n = os.write(self.master, bytes(self._out[:limit]))
        except BlockingIOError:
            return
        except OSError:
            return
        self.sent += self._out[:n]
        if len(self.sent) > 1 << 20:  # a demo may run for hours: keep the last MiB
            del self.sent[: len(self.sent) - (1 << 20)]
        del self._out[:n]
        self._credit -= n

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued has been written (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending_output():
                return True
            time.sleep(0.002)
        return False

    # -- faults and shutdown ----------------------------------------------------------------------
    def unplug(self) -> None:
        """The cable is pulled: close both ends so the host's next read or write fails.

        The serving thread is stopped first so it never selects on a closed (or reused) fd.
        """
        self.unplugged = True
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        with self._lock:
            self._out.clear()
            for fd in (self.master, self._slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.master = self._slave = -1

    def close(self) -> None:
        self._stop.set()
        if self.master >= 0:
            self.unplug()

    def __enter__(self) -> PtyDevice:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
