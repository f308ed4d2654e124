"""Benchmark custody against plain tools doing the same job, in one run.

- journal append: ``Journal.record`` (one transaction per event, WAL, synchronous=FULL, hash
  chain, station/operator) and ``record_many`` (a build's pages in one transaction) vs a bare
  sqlite3 INSERT with the same durability and no chain;
- chain check: ``Journal.verify`` over the whole journal (entries per second);
- anchor: ``signing.rfc3161.request_token`` + ``verify_token`` vs ``openssl ts -query`` | curl |
  ``openssl ts -verify`` against the same TSA (certomancer animate on 127.0.0.1);
- mirror copy: ``core.files.copy_atomic`` with the expected hash (temp, fsync, hash, rename)
  vs ``cp`` + ``sha256sum`` + ``sync``.

    .venv/bin/python bench/bench_custody.py [--events 2000] [--mb 64] [--anchors 20]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s ({seconds * 1000 / n:.2f} ms each)"


def bench_journal(work: Path, n: int) -> None:
    from dossier_station.core.journal import Journal

    who = {"station": "bench", "operator": "bench"}
    with Journal(work / "ours.sqlite3", identity=who) as j:
        t = time.perf_counter()
        for i in range(n):
            j.record("captured", f"/scan/b/pages/{i:06d}.png", f"{i:064x}", device="test:0", dpi=300)
        one = time.perf_counter() - t
        t = time.perf_counter()
        for k in range(n // 100):
            j.record_many([("processed", f"p{k}-{i}", f"{i:064x}", {"engine": "tesseract"}) for i in range(100)])
        batch = time.perf_counter() - t
        t = time.perf_counter()
        v = j.verify()
        check = time.perf_counter() - t
    db = sqlite3.connect(work / "plain.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, time TEXT, kind TEXT, subject TEXT, sha256 TEXT, detail TEXT)")
    t = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO events (time, kind, subject, sha256, detail) VALUES (datetime('now'), ?, ?, ?, ?)",
                   ("captured", f"/scan/b/pages/{i:06d}.png", f"{i:064x}", '{"dpi": 300}'))
        db.execute("COMMIT")
    plain = time.perf_counter() - t
    db.close()
    print(f"journal append, one transaction each : ours {rate(n, one)}   plain sqlite3 INSERT {rate(n, plain)}")
    print(f"journal append, 100 per transaction  : ours {rate(n // 100 * 100, batch)}")
    print(f"chain check ({v.entries} entries, ok={v.ok}) : {rate(v.entries, check)}")


def bench_anchor(work: Path, count: int) -> None:
    import hashlib

    from custody_tsa.server import start_tsa

    from dossier_station.signing.rfc3161 import request_token, verify_token

    tsa = start_tsa(work / "tsa")
    try:
        request_token(tsa.url, hashlib.sha256(b"warm").digest())
        t = time.perf_counter()
        for i in range(count):
            digest = hashlib.sha256(str(i).encode()).digest()
            token, _ = request_token(tsa.url, digest)
            assert verify_token(token, digest, trust_roots=[tsa.root_pem]).ok
        ours = time.perf_counter() - t
        data = work / "head.bin"
        t = time.perf_counter()
        for i in range(count):
            data.write_bytes(str(i).encode())
            subprocess.run(["openssl", "ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(work / "q.tsq")], check=True, capture_output=True)
            subprocess.run(["curl", "-sf", "-H", "Content-Type: application/timestamp-query", "--data-binary", f"@{work / 'q.tsq'}",
                            "-o", str(work / "r.tsr"), tsa.url], check=True)
            subprocess.run(["openssl", "ts", "-verify", "-data", str(data), "-in", str(work / "r.tsr"), "-CAfile", str(tsa.root_pem)],
                           check=True, capture_output=True)
        peer = time.perf_counter() - t
    finally:
        tsa.stop()
    print(f"anchor (request + verify, trusted)   : ours {rate(count, ours)}   openssl ts + curl {rate(count, peer)}")


def bench_mirror(work: Path, mb: int) -> None:
    from dossier_station.core.files import copy_atomic, sha256_file

    src = work / "volume.pdf"
    with open(src, "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))
    sha = sha256_file(src)
    (work / "m1").mkdir()
    (work / "m2").mkdir()
    t = time.perf_counter()
    copy_atomic(src, work / "m1" / "volume.pdf", expected_sha256=sha)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["cp", str(src), str(work / "m2" / "volume.pdf")], check=True)
    subprocess.run(["sync", str(work / "m2" / "volume.pdf")], check=True)
    out = subprocess.run(["sha256sum", str(work / "m2" / "volume.pdf")], check=True, capture_output=True, text=True).stdout
    peer = time.perf_counter() - t
    assert out.split()[0] == sha
    print(f"mirror copy of {mb} MiB, checked      : ours {mb / ours:,.0f} MiB/s   cp + sync + sha256sum {mb / peer:,.0f} MiB/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--anchors", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench_journal(work, args.events)
        bench_mirror(work, args.mb)
        bench_anchor(work, args.anchors)


if __name__ == "__main__":
    main()
