"""Redis job leases (station/cluster/lease.py) on a real redis-server, and two `dossier watch`
daemons sharing one hot folder through them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from test_cluster_helpers import DOSSIER, RedisServer, needs_redis

from dossier_station.station.cluster.lease import RedisLeases, held
from dossier_station.watch_folders.lease import JobLeases, new_owner

pytestmark = needs_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("lease-redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def leases(redis_server):
    client = redis_server.client()
    client.flushdb()
    return RedisLeases(client)


def test_redis_leases_speak_the_watch_daemons_claim_interface(leases):
    assert isinstance(leases, JobLeases)


def test_a_held_lease_is_refused_to_others_until_it_expires(leases):
    a, b = "hostA:100:aa", "hostB:200:bb"  # other machines: only expiry frees them
    assert leases.claim("job1", a, 0.6)
    assert not leases.claim("job1", b, 0.6)
    assert leases.claim("job1", a, 0.6)  # the holder may claim again
    time.sleep(0.8)
    assert leases.claim("job1", b, 5)
    assert leases.holder("job1") == b


def test_renewal_keeps_the_lease_and_only_the_holder_releases(leases):
    a, b = "hostA:100:aa", "hostB:200:bb"
    assert leases.claim("job2", a, 0.5)
    for _ in range(4):
        time.sleep(0.25)
        assert leases.renew("job2", a, 0.5)
    assert not leases.claim("job2", b, 0.5)
    assert not leases.renew("job2", b, 0.5)
    leases.release("job2", b)  # not b's to release
    assert leases.holder("job2") == a
    leases.release("job2", a)
    assert leases.holder("job2") is None


def test_a_dead_daemon_on_this_machine_is_taken_over_at_once(leases):
    proc = subprocess.Popen(["true"])
    proc.wait()
    import socket

    ghost = f"{socket.gethostname()}:{proc.pid}:dead"
    assert leases.claim("job3", ghost, 60)
    assert leases.claim("job3", new_owner(), 60)


def test_after_a_broker_restart_the_holder_renews_what_nobody_took(redis_server, leases):
    me = "hostA:100:aa"
    assert leases.claim("job4", me, 30)
    redis_server.restart(down_for=0.2)
    assert leases.renew("job4", me, 30)
    assert leases.holder("job4") == me


def test_racing_claimers_get_each_key_exactly_once(redis_server):
    keys = [f"k{i}" for i in range(100)]
    wins: dict[str, list[str]] = {k: [] for k in keys}
    lock = threading.Lock()

    def claimer(owner: str) -> None:
        mine = RedisLeases(redis_server.client())
        for k in keys:
            if mine.claim(k, owner, 30):
                with lock:
                    wins[k].append(owner)

    threads = [threading.Thread(target=claimer, args=(f"host{i}:1:x",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(w) == 1 for w in wins.values())


def test_held_renews_in_the_background_and_refuses_a_second_holder(leases):
    from dossier_station.core.errors import BusyError

    with held(leases, "job5", "hostA:1:a", ttl=0.3) as lost:
        time.sleep(0.8)  # longer than the ttl: renewed meanwhile
        assert not lost.is_set()
        with pytest.raises(BusyError, match="hostA"), held(leases, "job5", "hostB:1:b", ttl=0.3):
            pass
    assert leases.holder("job5") is None


# -- two watch daemons, one hot folder ---------------------------------------------------------

def _drop(hot: Path, n: int) -> dict[str, str]:
    made = {}
    for i in range(n):
        data = f"f{i} {os.urandom(8).hex()}\n".encode()
        tmp = hot / f".f{i:04d}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, hot / f"f{i:04d}.pdf")
        made[f"f{i:04d}.pdf"] = hashlib.sha256(data).hexdigest()
    return made


def _outcomes(outs: list[Path]) -> dict[str, list[tuple[str, Path]]]:
    found: dict[str, list[tuple[str, Path]]] = {}
    for out in outs:
        for kind in ("done", "failed"):
            for job in sorted((out / kind).iterdir()) if (out / kind).is_dir() else []:
                for f in (job / "input").iterdir():
                    found.setdefault(f.name, []).append((kind, job))
    return found


def test_two_watch_daemons_on_one_hot_folder_file_each_of_200_exactly_once(redis_server, tmp_path):
    """Daemon B starts while A is mid-way, on the same hot and output folders: B's start-up
    recovery sees A's jobs in the processing area and must leave them to A — held by A's
    leases in Redis (none in the SQLite state file), which B respects."""
    import sqlite3

    hot, out = tmp_path / "hot", tmp_path / "out"
    hot.mkdir()
    made = _drop(hot, 200)
    env = {**os.environ, "DOSSIER_WATCH_CHECKSUM_DELAY": "0.05"}

    def daemon() -> subprocess.Popen[str]:
        cmd = [*DOSSIER, "watch", str(hot), "-o", str(out), "--job", "checksum", "--once", "--stable", "0.2",
               "--workers", "2", "--broker", redis_server.url]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    from dossier_station.core.journal import Journal

    with Journal():  # the custody log exists before two processes first open it
        pass
    client = redis_server.client()
    a = daemon()
    log = out / "watch-log.jsonl"
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text("utf-8").count('"event": "taken"') >= 5):
        assert a.poll() is None and time.monotonic() < deadline, a.stderr.read() if a.stderr else ""
        time.sleep(0.05)
    leases_at_b_start = len(client.keys("dossier:lease:watch:*"))
    b = daemon()
    errs = []
    for p in (a, b):
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        errs.append(err)
    assert leases_at_b_start >= 1  # A's jobs in hand were leased in Redis
    found = _outcomes([out])
    assert sorted(found) == sorted(made)
    twice = {n: v for n, v in found.items() if len(v) != 1}
    assert not twice, f"filed more than once: {list(twice.items())[:3]}"
    for name, [(kind, job)] in found.items():
        assert kind == "done"
        assert hashlib.sha256((job / "input" / name).read_bytes()).hexdigest() == made[name]
        assert json.loads((job / "job.json").read_text("utf-8"))["name"] == name
    assert [p.name for p in hot.iterdir() if p.name != ".dossier-watch"] == []
    assert list((hot / ".dossier-watch" / "processing").iterdir()) == []
    assert client.keys("dossier:lease:*") == []  # every lease released
    db = sqlite3.connect(out / ".dossier-watch" / "state.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
    events = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert not [e for e in events if e["event"] == "resumed"]  # B adopted none of A's jobs
    counts = [int(e.rsplit("done ", 1)[1].split(",")[0]) for e in errs]
    assert sum(counts) == 200 and all(c > 0 for c in counts), counts  # both did share the work
