"""Who holds a job: the small claim interface every job store speaks.

A claimed job is held under a *lease* — an owner name and an expiry renewed while the job
runs. A daemon that dies stops renewing, so its jobs become claimable again after the lease
runs out (at once, on the same machine, when its process is seen to be gone). The SQLite
store (:mod:`.state`) is the default; the station's cluster layer can hand in another
implementation (a Redis lease) so that several machines share one hot folder.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Protocol, runtime_checkable


@runtime_checkable
class JobLeases(Protocol):
    """Exclusive, expiring claims on job keys (a job id)."""

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Take ``key`` for ``owner`` for ``ttl`` seconds; False if someone else holds it."""

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        """Extend our hold; False if we lost it (expired and taken by another)."""

    def release(self, key: str, owner: str) -> None:
        """Give the key up (job finished, or left for another worker to resume)."""


def new_owner() -> str:
    """``host:pid:nonce`` — the nonce tells a restarted daemon that reuses a pid from its ghost."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_gone(owner: str, me: str) -> bool:
    """True when ``owner`` is a process on this machine that no longer runs (a crashed daemon).

    Only decidable for our own host; other hosts' owners are trusted until their lease expires.
    """
    try:
        host, pid_text, _nonce = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return True
    if host != socket.gethostname():
        return False
    if owner == me:
        return False
    if pid == os.getpid():
        return True  # same pid, other nonce: the ghost of an earlier run of this process id
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False
