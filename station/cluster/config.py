"""Cluster settings, the redacted broker URL, the reachability check and the Redis key names.

The broker URL may carry a password (``redis://:secret@host``) and TLS (``rediss://``). It is
needed to connect and nowhere else: everything printed, logged or written into a report uses
:func:`redact`, so a build report or a worker log handed to a court never leaks the password.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dossier_station.core.errors import BadArgsError, DossierError, ExitCode

BROKER_ENV = "DOSSIER_BROKER"
SECRET_ENV = "DOSSIER_CLUSTER_SECRET"
# Pages up to this size travel through Redis when no shared folder is configured; larger
# ones need the shared folder (Redis holds every value in memory).
REDIS_PAGE_LIMIT = 16 * 1024 * 1024
# A worker's heartbeat key lives this long; it is refreshed every HEARTBEAT_EVERY seconds.
# A worker killed outright is noticed by the station within HEARTBEAT_TTL.
HEARTBEAT_TTL = 6
HEARTBEAT_EVERY = 2.0
# How long the station waits at start for a first worker before giving up (or going local).
NO_WORKER_WAIT = 15.0
PREFIX = "dossier:"
# A scan that streams its pages to the pool keeps its key alive this long after its last page.
BUILD_TTL_EARLY = 3600


class ClusterError(DossierError):
    """The broker cannot be reached, no worker answers, or a page came back wrong.

    Exit code 15 (other error): nothing about the inputs is wrong, the pool is.
    """

    exit_code = ExitCode.other_error


@dataclass(frozen=True)
class ClusterSettings:
    """What the station needs to hand its pages to the pool (a value object, like BuildOptions)."""

    broker: str
    shared: Path | None = None  # the shared folder as this machine mounts it
    redis_page_limit: int = REDIS_PAGE_LIMIT
    secret: bytes | None = None  # HMAC key shared by station and workers (optional)
    fallback: str = "none"  # "local": build here when the broker cannot be reached
    no_worker_wait: float = NO_WORKER_WAIT

    @property
    def safe_broker(self) -> str:
        return redact(self.broker)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (user names and hosts stay readable)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<broker URL not shown>"
    netloc = parts.netloc
    if "@" in netloc:
        cred, host = netloc.rsplit("@", 1)
        # user:password@ keeps the user name; a lone word before @ may be a password: hide it
        netloc = f"{cred.split(':', 1)[0]}:***@{host}" if ":" in cred else f"***@{host}"
    query = "&".join(
        (kv.split("=", 1)[0] + "=***") if kv.split("=", 1)[0].lower() in ("password", "passwd") else kv
        for kv in parts.query.split("&")
    ) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def secret_words(url: str) -> list[str]:
    """The literal secrets inside a URL, for log filters that must never let them through."""
    parts = urlsplit(url)
    words = []
    if parts.password:
        words.append(parts.password)
    elif parts.username and "@" in parts.netloc:
        words.append(parts.username)
    for kv in parts.query.split("&"):
        k, _, v = kv.partition("=")
        if k.lower() in ("password", "passwd") and v:
            words.append(v)
    return [w for w in words if len(w) >= 3]


def check_broker_url(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss"):
        raise BadArgsError(
            f"broker {redact(url)!r}: only Redis brokers are supported (redis:// or rediss://)",
            hint="give --broker redis://HOST:6379/0 (rediss:// for TLS)",
        )
    return url


def redis_client(url: str, *, timeout: float = 5.0) -> Any:
    """A redis-py client that retries briefly on a dropped connection (a broker restart costs a retry)."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout + 5,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), 3),
        retry_on_error=[ConnectionError, TimeoutError, OSError],
        health_check_interval=10,
    )


def ping_broker(url: str, *, timeout: float = 3.0) -> Any:
    """Connect and PING at once: an unreachable broker is said within seconds, not after OCR."""
    import redis

    check_broker_url(url)
    client = redis_client(url, timeout=timeout)
    try:
        client.ping()
    except redis.AuthenticationError:
        raise ClusterError(f"broker {redact(url)}: the password was refused", hint="check the password in the broker URL") from None
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        reason = redact_text(str(exc), url)
        raise ClusterError(
            f"broker {redact(url)} is unreachable ({reason})",
            hint="start Redis or fix --broker; add --fallback local to build on this machine instead",
        ) from None
    except redis.ResponseError as exc:
        raise ClusterError(f"broker {redact(url)}: {redact_text(str(exc), url)}", hint="check the broker URL (database number, TLS)") from None
    return client


def redact_text(text: str, url: str) -> str:
    for word in secret_words(url):
        text = text.replace(word, "***")
    return text.replace(url, redact(url))


def load_secret(path: str | os.PathLike[str] | None) -> bytes | None:
    """The HMAC key: a file (``[cluster] secret_file``/``--secret-file``) or $DOSSIER_CLUSTER_SECRET."""
    if path:
        p = Path(path)
        try:
            data = p.read_bytes().strip()
        except OSError as exc:
            raise BadArgsError(f"{p}: cannot read the cluster secret ({exc.strerror})", hint="give a readable file holding the shared key") from None
        if len(data) < 16:
            raise BadArgsError(f"{p}: the cluster secret is shorter than 16 bytes", hint="use e.g.  openssl rand -hex 32 > FILE")
        return data
    env = os.environ.get(SECRET_ENV)
    return env.encode() if env else None


# Redis key names, in one place so station, worker and `workers status` agree.
def worker_key(hostname: str) -> str:
    return f"{PREFIX}worker:{hostname}"


def any_worker(client: Any) -> bool:
    """Is any worker heartbeating? (SCAN, not KEYS: a centre's Redis holds many keys.)"""
    return next(iter(client.scan_iter(match=worker_key("*"), count=500)), None) is not None


def build_key(build_id: str) -> str:
    return f"{PREFIX}build:{build_id}"


def done_list(build_id: str) -> str:
    return f"{PREFIX}build:{build_id}:done"


def held_hash(build_id: str) -> str:
    return f"{PREFIX}build:{build_id}:held"


def page_key(sha256: str) -> str:
    return f"{PREFIX}page:{sha256}"


def result_key(rkey: str) -> str:
    return f"{PREFIX}result:{rkey}"


def result_image_key(rkey: str) -> str:
    return f"{PREFIX}result:{rkey}:image"


FAILURES = f"{PREFIX}failures"
DONE_COUNT = f"{PREFIX}done"
