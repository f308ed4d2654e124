"""The page task and its result, as versioned JSON both ends validate.

A Celery message is only an envelope: what a worker acts on is the task payload below, and
what the station accepts is the result below. Both carry the page's SHA-256 (the evidence
hash taken at capture); both may carry an HMAC-SHA256 signature over their canonical JSON when
station and workers share a key, so a message injected into Redis by someone without the key
is refused rather than run. Pickle never appears: Celery is configured JSON-only as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from dossier_station.core import __version__

TASK_FORMAT = "dossier-page-task/1"
RESULT_FORMAT = "dossier-page-result/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BAD_NAME = re.compile(r"[/\\\0]")


class PayloadRefused(Exception):
    """A task or result that is not ours, not this version, tampered with, or badly signed."""


def canonical(payload: dict[str, Any]) -> bytes:
    body = {k: v for k, v in payload.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()


def sign(payload: dict[str, Any], secret: bytes | None) -> dict[str, Any]:
    if secret:
        payload["sig"] = hmac.new(secret, canonical(payload), hashlib.sha256).hexdigest()
    return payload


def verify(payload: dict[str, Any], secret: bytes | None, what: str) -> None:
    if not secret:
        return
    sig = payload.get("sig")
    if not isinstance(sig, str) or not sig.isascii() or not hmac.compare_digest(sig, hmac.new(secret, canonical(payload), hashlib.sha256).hexdigest()):
        raise PayloadRefused(f"{what}: signature missing or wrong (not signed with this centre's key)")


def settings_key(sha256: str, index: int, engine: str, images: str, turn: int = 0) -> str:
    """Idempotence key of a page's result: same bytes + same settings + same code = same result.

    ``turn`` (a clerk's quarter turn) enters the key only when set, so keys of untouched pages
    stay what they were."""
    body = {"sha256": sha256, "index": index, "engine": engine, "images": images, "version": __version__, "format": RESULT_FORMAT}
    if turn:
        body["turn"] = turn
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def make_task(
    *, build: str, seq: int, name: str, index: int, count: int, kind: str, sha256: str, size: int,
    engine: str, images: str, via: str, ref: str, secret: bytes | None, turn: int = 0,
) -> dict[str, Any]:
    payload = {"turn": turn,
        "format": TASK_FORMAT, "build": build, "seq": seq, "name": name, "index": index, "count": count,
        "kind": kind, "sha256": sha256, "bytes": size, "engine": engine, "images": images,
        "result_key": settings_key(sha256, index, engine, images, turn), "via": via, "ref": ref,
    }
    return sign(payload, secret)


_TASK_FIELDS: dict[str, type | tuple[type, ...]] = {
    "format": str, "build": str, "seq": int, "name": str, "index": int, "count": int, "kind": str,
    "sha256": str, "bytes": int, "engine": str, "images": str, "result_key": str, "via": str, "ref": str,
}


def check_task(payload: Any, secret: bytes | None) -> dict[str, Any]:
    """The worker's gate: anything but a well-formed task of this version is refused."""
    if not isinstance(payload, dict):
        raise PayloadRefused(f"task payload is a {type(payload).__name__}, not a {TASK_FORMAT} object")
    if payload.get("format") != TASK_FORMAT:
        raise PayloadRefused(f"task format {payload.get('format')!r} is not {TASK_FORMAT!r} (station and worker versions differ?)")
    for key, typ in _TASK_FIELDS.items():
        if not isinstance(payload.get(key), typ) or isinstance(payload.get(key), bool):
            raise PayloadRefused(f"task field {key!r} missing or of the wrong type")
    where = f"page {payload['name']!r}"
    if not _HEX64.match(payload["sha256"]) or not _HEX64.match(payload["result_key"]):
        raise PayloadRefused(f"{where}: sha256/result_key is not a SHA-256 hex digest")
    if _BAD_NAME.search(payload["name"]) or payload["name"] in ("", ".", ".."):
        raise PayloadRefused(f"{where}: the file name must be a plain name, not a path")
    if payload["via"] not in ("redis", "shared"):
        raise PayloadRefused(f"{where}: unknown page transport {payload['via']!r}")
    if payload["via"] == "shared" and (payload["ref"].startswith("/") or ".." in payload["ref"].split("/")):
        raise PayloadRefused(f"{where}: shared path must stay inside the shared folder")
    if not 0 <= payload["index"] < payload["count"]:
        raise PayloadRefused(f"{where}: page index {payload['index']} outside 0..{payload['count'] - 1}")
    if payload["images"] not in ("auto", "archival", "compact"):
        raise PayloadRefused(f"{where}: unknown image policy {payload['images']!r}")
    turn = payload.get("turn", 0)
    if turn not in (0, 90, 180, 270) or isinstance(turn, bool):
        raise PayloadRefused(f"{where}: turn {turn!r} is not 0, 90, 180 or 270")
    if payload["result_key"] != settings_key(payload["sha256"], payload["index"], payload["engine"], payload["images"], turn):
        raise PayloadRefused(f"{where}: result_key does not follow from the page hash and settings")
    verify(payload, secret, f"task for {where}")
    return payload


def check_result(result: Any, task: dict[str, Any], secret: bytes | None) -> dict[str, Any]:
    """The station's gate: the result must be for exactly the page and settings it sent."""
    where = f"page {task['name']}" + (f" #{task['index'] + 1}" if task["count"] > 1 else "")
    if not isinstance(result, dict) or result.get("format") != RESULT_FORMAT:
        raise PayloadRefused(f"{where}: the result is not a {RESULT_FORMAT} object")
    verify(result, secret, f"result for {where}")
    if result.get("input_sha256") != task["sha256"]:
        raise PayloadRefused(
            f"{where}: the worker OCR'd bytes with SHA-256 {str(result.get('input_sha256'))[:16]}…, not the page's {task['sha256'][:16]}…"
        )
    for key in ("result_key", "index", "engine", "images"):
        if result.get(key) != task[key]:
            raise PayloadRefused(f"{where}: result {key} {result.get(key)!r} differs from the task's {task[key]!r}")
    if not isinstance(result.get("outcome"), dict):
        raise PayloadRefused(f"{where}: result has no page outcome")
    return result
