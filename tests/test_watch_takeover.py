"""A running daemon takes over a job whose holder died, without being restarted itself.

Two daemons serve one hot folder (as two machines do on a share); the one holding a job is
killed with SIGKILL mid-job. The survivor notices at its next lease sweep — the dead holder's
lease is gone — and finishes the job: filed once, in done/.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from test_watch_daemon import drop, outcomes, start, starts, wait_started


def _log(out: Path) -> list[dict]:
    path = out / "watch-log.jsonl"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()] if path.exists() else []


def test_running_daemon_takes_over_the_job_of_a_killed_one_without_a_restart(tmp_path: Path):
    hot, out = tmp_path / "hot", tmp_path / "out"
    hot.mkdir()
    slow = start(hot, out, "--stable", "0.5", "--workers", "1", env={"DOSSIER_WATCH_CHECKSUM_DELAY": "600"})
    survivor = None
    try:
        wait_started(out, slow)
        made = drop(hot, 1)
        deadline = time.time() + 30
        while not any(e.get("event") == "taken" for e in _log(out)):
            assert time.time() < deadline, "the first daemon never took the job"
            time.sleep(0.1)
        survivor = start(hot, out, "--stable", "0.5", "--workers", "1")
        wait_started(out, survivor, before=starts(out))
        os.kill(slow.pid, signal.SIGKILL)
        slow.wait(10)
        deadline = time.time() + 90  # a sweep every half lease period (15 s)
        while not (out / "done").is_dir() or not any((out / "done").iterdir()):
            assert survivor.poll() is None, survivor.stderr.read() if survivor.stderr else ""
            assert time.time() < deadline, "the job of the killed daemon was never taken over"
            time.sleep(0.2)
        assert any(e.get("event") == "taken-over" for e in _log(out))
        found = outcomes(out)
        assert set(found) == set(made)
        assert all(len(v) == 1 and v[0][0] == "done" for v in found.values())
        assert not list(hot.glob("f*.pdf"))
    finally:
        for proc in (slow, survivor):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except Exception:
                    proc.kill()
