"""Job leases in Redis: hot-folder daemons on several machines claim a job exactly once.

The watch daemon (``watch_folders``) holds each job under a lease — owner plus expiry, renewed
while the job runs — through its small ``JobLeases`` interface; by default the leases live in
its SQLite state file, which only one machine can safely use. Handing it :class:`RedisLeases`
puts them in the centre's Redis instead: one atomic compare-and-set per claim, so of any number
of daemons exactly one holds a job; a daemon that dies stops renewing and its jobs become
claimable by another once the lease expires (at once when it was on the same machine and its
process is seen to be gone, as with the SQLite store).

A broker restart empties Redis (no persistence is assumed): a renewal then finds no holder and
takes the lease back for its owner, rather than reporting a lease lost that nobody else took.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from dossier_station.station.cluster.config import PREFIX

log = logging.getLogger("dossier.cluster.lease")

# KEYS[1] lease key; ARGV[1] owner, ARGV[2] ttl ms. Returns 1 when held by owner now, else the holder.
_CLAIM = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return cur
"""
# Take over from a holder known to be dead: only if it is still that holder.
_TAKEOVER = """
if redis.call('GET', KEYS[1]) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
"""
_RENEW = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLeases:
    """The ``watch_folders.lease.JobLeases`` protocol on Redis (claim / renew / release)."""

    def __init__(self, client: Any, namespace: str = "watch") -> None:
        self.client = client
        self.prefix = f"{PREFIX}lease:{namespace}:"
        self._claim = client.register_script(_CLAIM)
        self._takeover = client.register_script(_TAKEOVER)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Take ``key`` for ``owner``; False if another live owner holds it (or Redis is down)."""
        import redis

        from dossier_station.watch_folders.lease import owner_is_gone

        ms = max(1, int(ttl * 1000))
        try:
            got = self._claim(keys=[self._key(key)], args=[owner, ms])
            if got == 1:
                return True
            holder = got.decode() if isinstance(got, bytes) else str(got)
            if owner_is_gone(holder, owner):
                return self._takeover(keys=[self._key(key)], args=[owner, holder, ms]) == 1
            return False
        except redis.RedisError as exc:  # no lease, no claim: the job waits for the broker
            log.warning("lease %s: broker unavailable (%s); not claimed", key, type(exc).__name__)
            return False

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        """Extend our hold; False only when another owner has it now."""
        import redis

        try:
            return self._renew(keys=[self._key(key)], args=[owner, max(1, int(ttl * 1000))]) == 1
        except redis.RedisError as exc:  # cannot tell: keep working, the lease still runs
            log.warning("lease %s: renewal failed (%s); will retry", key, type(exc).__name__)
            return True

    def release(self, key: str, owner: str) -> None:
        import redis

        try:
            self._release(keys=[self._key(key)], args=[owner])
        except redis.RedisError as exc:  # it expires on its own
            log.warning("lease %s: release failed (%s); it expires by itself", key, type(exc).__name__)

    def holder(self, key: str) -> str | None:
        raw = self.client.get(self._key(key))
        return raw.decode() if raw is not None else None


@contextlib.contextmanager
def held(leases: RedisLeases, key: str, owner: str, ttl: float = 30.0) -> Iterator[threading.Event]:
    """Hold one lease for a block, renewed every ttl/3; the event is set if it is lost.

    Raises ``BusyError`` when another owner holds it.
    """
    from dossier_station.core.errors import BusyError

    if not leases.claim(key, owner, ttl):
        raise BusyError(f"{key}: held by {leases.holder(key) or 'another machine'}", hint="it is in hand elsewhere; try again after it finishes")
    lost, done = threading.Event(), threading.Event()

    def renew() -> None:
        while not done.wait(ttl / 3):
            if not leases.renew(key, owner, ttl):
                lost.set()
                return

    t = threading.Thread(target=renew, name=f"lease-{key}", daemon=True)
    t.start()
    try:
        yield lost
    finally:
        done.set()
        t.join()
        leases.release(key, owner)


def redis_leases(broker: str, namespace: str = "watch") -> Any:
    """A factory for ``Watcher(leases=…)``: checks the broker at once, one client for all folders."""
    from dossier_station.station.cluster.config import ping_broker

    client = ping_broker(broker)
    leases = RedisLeases(client, namespace)
    return lambda _store: leases
