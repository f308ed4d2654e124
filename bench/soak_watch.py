"""Soak: SIGKILL `dossier watch` at random moments, restart, and check nothing was lost or doubled.

    .venv/bin/python bench/soak_watch.py [--trials 20] [--files 40] [--kills 3] [--seed 1]

Each trial drops unique small files (every 13th empty, so failed/ is exercised too) into a
fresh hot folder, then starts the daemon and SIGKILLs it, ``--kills`` times, each at a random
moment — half of them during start-up and recovery, half while jobs are claimed, run and placed
— dropping more files between crashes. A final ``--once`` run finishes the work. The checks:
every file is in exactly one of done/ and failed/, byte for byte; nothing is left in the hot
folder, the processing area or the staging area; no empty outcome folder; the state DB has one
row per file, final, pointing at its folder, and no lease left. The job is the checksum job
with a 20 ms delay (``DOSSIER_WATCH_CHECKSUM_DELAY``) so that kills land inside jobs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
ENV = {**os.environ, "DOSSIER_WATCH_CHECKSUM_DELAY": "0.02"}


def drop(hot: Path, n: int, prefix: str) -> dict[str, str]:
    made = {}
    for i in range(n):
        data = b"" if i % 13 == 0 else f"{prefix}{i} {os.urandom(8).hex()}\n".encode()
        tmp = hot / f".{prefix}{i}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, hot / f"{prefix}{i:04d}.pdf")
        made[f"{prefix}{i:04d}.pdf"] = hashlib.sha256(data).hexdigest()
    return made


def cmd(hot: Path, out: Path, *extra: str) -> list[str]:
    return [PY, "-m", "dossier_station.station", "watch", str(hot), "-o", str(out), "--job", "checksum",
            "--stable", "0.2", "--workers", "2", *extra]


def starts(out: Path) -> int:
    """How many daemon runs have reached their "start" line (recovered, now looking)."""
    log = out / "watch-log.jsonl"
    return log.read_text("utf-8").count('"event": "start"') if log.exists() else 0


def check(hot: Path, out: Path, made: dict[str, str]) -> list[str]:
    """Every invariant, as a list of problems (empty: consistent)."""
    problems: list[str] = []
    seen: dict[str, list[Path]] = {}
    for kind in ("done", "failed"):
        for job in (out / kind).iterdir():
            if not any(job.iterdir()):
                problems.append(f"empty outcome folder {job}")
                continue
            for f in (job / "input").iterdir():
                seen.setdefault(f.name, []).append(job)
                if hashlib.sha256(f.read_bytes()).hexdigest() != made.get(f.name):
                    problems.append(f"{f}: bytes differ from what was dropped")
    lost = sorted(set(made) - set(seen))
    doubled = sorted(n for n, jobs in seen.items() if len(jobs) > 1)
    problems += [f"lost: {n}" for n in lost] + [f"filed twice: {n} in {seen[n]}" for n in doubled]
    left = [p.name for p in hot.iterdir() if p.name != ".dossier-watch"]
    left += [f"processing/{p.name}" for p in (hot / ".dossier-watch" / "processing").iterdir()]
    left += [f"staging/{p.name}" for p in (out / ".dossier-watch" / "staging").iterdir()]
    problems += [f"left behind: {n}" for n in left]
    db = sqlite3.connect(out / ".dossier-watch" / "state.sqlite3")
    rows = db.execute("SELECT name, state, dest FROM jobs").fetchall()
    if sorted(r[0] for r in rows) != sorted(made):
        problems.append(f"state rows {len(rows)} ≠ files {len(made)}")
    problems += [f"state row {n}: {s} {d}" for n, s, d in rows if s not in ("done", "failed") or not d or not Path(d).is_dir()]
    leases = db.execute("SELECT COUNT(*) FROM leases").fetchone()[0]
    if leases:
        problems.append(f"{leases} lease(s) left")
    return problems


def trial(n: int, rng: random.Random, files: int, kills: int, keep: bool) -> tuple[list[str], dict[str, int]]:
    root = Path(tempfile.mkdtemp(prefix=f"soak-watch-{n}-"))
    hot, out = root / "hot", root / "out"
    hot.mkdir()
    made = drop(hot, files, "f")
    stats = {"kills_in_startup": 0, "kills_in_work": 0, "resumed": 0, "recovered": 0}
    for k in range(kills):
        before = starts(out)
        proc = subprocess.Popen(cmd(hot, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0.05, 3.0))  # somewhere in interpreter start, recovery, first claims
            stats["kills_in_startup"] += 1
        else:
            deadline = time.time() + 30
            while starts(out) == before and time.time() < deadline and proc.poll() is None:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            stats["kills_in_work"] += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        made.update(drop(hot, rng.randint(0, 8), f"k{k}x"))
    final = subprocess.run(cmd(hot, out, "--once"), capture_output=True, text=True, env=ENV, timeout=300)
    problems = [] if final.returncode == 0 else [f"final run exit {final.returncode}: {final.stderr[-500:]}"]
    problems += check(hot, out, made)
    if (out / "watch-log.jsonl").exists():
        events = [json.loads(line)["event"] for line in (out / "watch-log.jsonl").read_text("utf-8").splitlines()]
        stats["resumed"], stats["recovered"] = events.count("resumed"), events.count("recovered")
    stats["files"] = len(made)
    if not keep and not problems:
        import shutil

        shutil.rmtree(root)
    elif problems:
        problems.insert(0, f"(kept in {root})")
    return problems, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep every trial's folders")
    args = ap.parse_args()
    os.environ.setdefault("DOSSIER_JOURNAL", str(Path(tempfile.mkdtemp(prefix="soak-journal-")) / "journal.sqlite3"))
    ENV["DOSSIER_JOURNAL"] = os.environ["DOSSIER_JOURNAL"]
    rng = random.Random(args.seed)
    failures = 0
    totals: dict[str, int] = {}
    started_at = time.time()
    for n in range(1, args.trials + 1):
        problems, stats = trial(n, rng, args.files, args.kills, args.keep)
        for k, v in stats.items():
            totals[k] = totals.get(k, 0) + v
        verdict = "ok" if not problems else "FAILED"
        print(f"trial {n:2d}: {verdict}  files {stats['files']}, kills {args.kills} "
              f"(startup {stats['kills_in_startup']}, work {stats['kills_in_work']}), resumed {stats['resumed']}, "
              f"finished placing {stats['recovered']}", flush=True)
        for p in problems[:10]:
            print(f"    {p}")
        failures += bool(problems)
    print(f"\n{args.trials} trials, {args.trials * args.kills} SIGKILLs, {totals['files']} files, "
          f"{totals['resumed']} jobs resumed, {totals['recovered']} finished placing after a kill: "
          f"{failures} trial(s) with lost, doubled or inconsistent files ({time.time() - started_at:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
