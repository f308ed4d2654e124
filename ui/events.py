"""Server-sent events: worker threads publish, each open browser tab gets its own queue.

Scanning and building run in threads (which drive the station's worker processes); they call
``publish`` from there, and the event is handed to the web server's event loop with
``call_soon_threadsafe`` — the request loop never waits for a scanner or an OCR engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

KEEPALIVE_S = 15.0


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]]] = {}

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs.get(topic, ()))
        for loop, q in subs:
            with contextlib.suppress(RuntimeError):  # that tab's loop is gone
                loop.call_soon_threadsafe(q.put_nowait, event)

    def subscribe(self, topic: str) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self._lock:
            self._subs.setdefault(topic, []).append((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, topic: str, q: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subs[topic] = [s for s in self._subs.get(topic, []) if s[1] is not q]

    async def stream(self, topic: str, first: Callable[[], list[dict[str, Any]]], closing: asyncio.Event) -> AsyncIterator[str]:
        """``first()``: the state so far, read after subscribing (a tab opened mid-scan misses
        no page; the browser drops duplicates by page number), then live events."""
        q = self.subscribe(topic)
        try:
            for ev in first():
                yield _frame(ev)
            while not closing.is_set():
                try:
                    ev = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield _frame(ev)
        finally:
            self.unsubscribe(topic, q)


def _frame(ev: dict[str, Any]) -> str:
    return f"event: {ev.get('type', 'message')}\ndata: {json.dumps(ev, ensure_ascii=False)}\n\n"
