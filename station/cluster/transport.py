"""Page bytes to the worker and the encoded page image back, always checked against a hash.

Two ways, chosen by the station: a shared folder both ends mount (the usual centre set-up:
the scans already sit on the share, only a relative path travels) or Redis itself for pages
up to a size limit (a small centre with no share). The task carries the SHA-256; the worker
hashes what it fetched before any OCR, the station hashes the image it gets back — bytes that
do not match are refused, never silently used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dossier_station.core.files import copy_atomic, sha256_bytes, sha256_file, write_bytes_atomic
from dossier_station.station.cluster.config import (
    ClusterError,
    ClusterSettings,
    page_key,
    redact,
    result_image_key,
)
from dossier_station.station.cluster.payload import PayloadRefused

# Keys in Redis outlive a build only by this much (a build deletes its own keys when done).
PAGE_TTL = 6 * 3600
RESULT_TTL = 6 * 3600
SHARED_PAGES = "pages"
SHARED_RESULTS = "results"


class PageMissing(Exception):
    """The page bytes are not where the task says (Redis restarted, share not mounted): retry."""


# ---- station side -------------------------------------------------------------------------

def put_page(client: Any, settings: ClusterSettings, path: Path, sha256: str) -> tuple[str, str]:
    """Make a page file reachable by workers; returns (via, ref) for the task."""
    if settings.shared is not None:
        shared = settings.shared.resolve()
        real = path.resolve()
        if real.is_relative_to(shared):
            return "shared", real.relative_to(shared).as_posix()
        ref = f"{SHARED_PAGES}/{sha256}{path.suffix.lower()}"
        target = shared / ref
        if not (target.exists() and target.stat().st_size == path.stat().st_size):
            copy_atomic(path, target, expected_sha256=sha256)
        return "shared", ref
    size = path.stat().st_size
    if size > settings.redis_page_limit:
        raise ClusterError(
            f"{path}: {size:,} bytes is over the {settings.redis_page_limit:,}-byte limit for pages sent through Redis",
            hint="give the station and the workers a shared folder ([cluster] shared / --shared)",
        )
    client.set(page_key(sha256), path.read_bytes(), ex=PAGE_TTL)
    return "redis", page_key(sha256)


def page_reachable(client: Any, settings: ClusterSettings, via: str, ref: str) -> bool:
    if via == "redis":
        return bool(client.exists(ref))
    assert settings.shared is not None
    return (settings.shared / ref).exists()


def get_result_image(client: Any, settings: ClusterSettings, image: dict[str, Any], source: Path, source_sha256: str, dest_stem: Path) -> Path:
    """The encoded page image a worker made, as a local file whose hash was checked."""
    where, want = image.get("where"), image.get("sha256")
    if where == "source":  # JPEG passed through: the image is the page file itself
        if want != source_sha256:
            raise PayloadRefused(f"{source.name}: the worker's image claims to be the page file but its hash differs")
        return source
    suffix = str(image.get("suffix", ""))
    if suffix not in (".jpg", ".g4", ".flate"):
        raise PayloadRefused(f"{source.name}: unexpected image type {suffix!r} in the result")
    if where == "redis":
        data = client.get(str(image.get("ref")))
        if data is None:
            raise PageMissing(f"{source.name}: the result image is gone from Redis")
    elif where == "shared" and settings.shared is not None:
        try:
            data = _read_shared(settings.shared, str(image.get("ref")))
        except FileNotFoundError:
            raise PageMissing(f"{source.name}: the result image is missing from the shared folder") from None
    else:
        raise PayloadRefused(f"{source.name}: result image location {where!r} is not usable here")
    if sha256_bytes(data) != want:
        raise PayloadRefused(f"{source.name}: the result image's bytes do not match its SHA-256")
    out = dest_stem.with_suffix(suffix)
    out.write_bytes(data)
    return out


# ---- worker side --------------------------------------------------------------------------

def _read_shared(root: Path, ref: str) -> bytes:
    path = (root / ref).resolve()
    if not path.is_relative_to(root.resolve()):
        raise PayloadRefused(f"{ref}: points outside the shared folder")
    return path.read_bytes()


def fetch_page(client: Any, shared: Path | None, task: dict[str, Any]) -> bytes:
    """The page bytes the task names, refused unless they hash to the task's SHA-256."""
    if task["via"] == "redis":
        if task["ref"] != page_key(task["sha256"]):
            raise PayloadRefused(f"page {task['name']}: Redis key {task['ref']!r} is not the page's")
        data = client.get(task["ref"])
        if data is None:
            raise PageMissing(f"page {task['name']}: not in Redis (broker restarted?)")
    else:
        if shared is None:
            raise PageMissing(f"page {task['name']}: sent through a shared folder, but this worker has none (--shared)")
        try:
            data = _read_shared(shared, task["ref"])
        except FileNotFoundError:
            raise PageMissing(f"page {task['name']}: {task['ref']} not found in the shared folder {shared}") from None
    got = sha256_bytes(data)
    if got != task["sha256"]:
        raise PayloadRefused(
            f"page {task['name']}: the bytes fetched hash to {got[:16]}…, not the task's {task['sha256'][:16]}… — refused, not OCR'd"
        )
    return data


def put_result_image(client: Any, shared: Path | None, task: dict[str, Any], image_path: Path, source_copy: Path) -> dict[str, Any]:
    """Make the encoded image reachable by the station; describe where in the result."""
    if image_path == source_copy:
        return {"where": "source", "sha256": task["sha256"], "suffix": image_path.suffix.lower()}
    data = image_path.read_bytes()
    digest = sha256_bytes(data)
    suffix = image_path.suffix.lower()
    rk = task["result_key"]
    if task["via"] == "shared" and shared is not None:
        ref = f"{SHARED_RESULTS}/{rk}{suffix}"
        target = shared / ref
        if not (target.exists() and sha256_file(target) == digest):
            write_bytes_atomic(target, data)
        return {"where": "shared", "ref": ref, "sha256": digest, "suffix": suffix}
    client.set(result_image_key(rk), data, ex=RESULT_TTL)
    return {"where": "redis", "ref": result_image_key(rk), "sha256": digest, "suffix": suffix}


def describe(settings: ClusterSettings) -> str:
    return f"shared folder {settings.shared}" if settings.shared else f"Redis ({redact(settings.broker)}, pages ≤ {settings.redis_page_limit // 2**20} MiB)"


def shared_from_env(value: str | os.PathLike[str] | None) -> Path | None:
    if not value:
        return None
    p = Path(value)
    if not p.is_dir():
        raise ClusterError(f"{p}: the shared folder does not exist or is not mounted", hint="mount the share or fix --shared")
    return p
