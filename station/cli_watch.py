"""``dossier watch``: hot folders → dossiers, and ``dossier watch status``.

``dossier watch HOT -o OUT`` is the common form, so ``watch`` is a group whose default command
is ``run``: anything that is not ``status`` (or ``run``) is taken as ``run``'s arguments.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from dossier_station.core.errors import BadArgsError
from dossier_station.core.profile import load_profile


class _DefaultRun(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("watch", cls=_DefaultRun)
def watch() -> None:
    """Hot folders: dossier watch HOT -o OUT | dossier watch status -o OUT."""


def _record(kind: str, subject: str, sha256: str | None = None, **detail: Any) -> None:
    """The custody journal, one short connection per event (worker threads share no handle)."""
    from dossier_station.core.journal import Journal

    with Journal() as journal:
        journal.record(kind, subject, sha256, **detail)


@watch.command("run")
@click.argument("hot", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), help="Output folder: done/, failed/, the log and the state.")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML); its [watch] table may list several hot folders.")
@click.option("--workers", type=int, default=None, help="Jobs run at once (default 1; each build uses the [build] jobs for its pages).")
@click.option("--poll", type=float, default=None, help="Poll every SECONDS instead of waiting for filesystem events (network shares).")
@click.option("--stable", type=float, default=None, help="Seconds a file's size and time must stay unchanged before it is taken (default 5).")
@click.option("--once", is_flag=True, help="Process what is ready now, then exit (cron, tests).")
@click.option("--grace", type=float, default=60.0, show_default=True, help="On SIGTERM/Ctrl-C, seconds to let running jobs finish before releasing them.")
@click.option("--log", "log_path", type=click.Path(path_type=Path), default=None, help="JSON-lines operator log (default OUT/watch-log.jsonl).")
@click.option("--job", "job_kind", type=click.Choice(["build", "checksum"]), default="build", hidden=True,
              help="checksum: file inputs with their SHA-256, no OCR (benchmarks and soak tests of the watcher).")
@click.option("--broker", default=None, help="Redis URL: job leases shared by daemons on several machines on one hot folder (else [cluster] broker; docs/cluster.md).")
def run(hot: Path | None, out: Path | None, profile_path: str | None, workers: int | None, poll: float | None, stable: float | None,
        once: bool, grace: float, log_path: Path | None, job_kind: str, broker: str | None = None) -> None:
    """Watch HOT and build one dossier per file or case folder dropped into it.

    A job is a single file (PDF, TIFF, JPEG, PNG …) or a folder holding case.toml/case.json
    and its pages (ready when a .ready file appears, or when nothing in it changed for the
    stability window). Results go to OUT/done/<job>/, rejects to OUT/failed/<job>/ with
    error.txt. `dossier watch status -o OUT` shows the queue and the last errors.
    """
    from dossier_station.station.watch_jobs import checksum_job, make_build_job
    from dossier_station.watch_folders.config import settings_from_profile
    from dossier_station.watch_folders.daemon import Watcher

    profile = load_profile(profile_path)
    if hot is not None and out is None:
        raise BadArgsError("an output folder is required", hint="add -o OUT (outside the hot folder)")
    settings = settings_from_profile(profile, hot=hot, out=out, poll=poll, stable=stable, workers=workers, log=log_path)
    if job_kind == "build":
        from dossier_station.station.pipeline import BuildOptions

        BuildOptions.from_profile(profile)  # a bad [build] table stops here, not on the first job
        job_fn = make_build_job(profile)
    else:
        job_fn = checksum_job
    broker = broker or profile.table("cluster").broker
    leases = None
    if broker:  # several machines on one hot folder: leases in Redis, not in this machine's state file
        from dossier_station.station.cluster.lease import redis_leases

        leases = redis_leases(broker)
    watcher = Watcher(settings, job_fn, record=_record, leases=leases)
    signals = {"n": 0}

    def on_signal(signum: int, _frame: object) -> None:
        signals["n"] += 1
        if signals["n"] == 1:
            watcher.stop()
        else:  # asked twice: release what is in hand now and go
            released = watcher.runner.release_all()
            sys.stderr.write(f"stopped; {len(released)} job(s) released for the next start\n")
            os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    from dossier_station.station.custody import AnchorTimer

    with AnchorTimer(profile):  # custody: journal anchored at least daily, queued mirror copies retried
        summary = watcher.run(once=once, grace=grace)
    click.echo(f"done {summary.done}, failed {summary.failed}"
               + (f", released {len(summary.released)}" if summary.released else "")
               + (f"; still being written, left for later: {', '.join(summary.left)}" if summary.left else ""), err=True)
    watcher.log.close()
    if summary.released:  # a job thread is still running: leave it behind, it holds no lease
        sys.stderr.flush()
        os._exit(0)


@watch.command("status")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None, help="Output folder a `dossier watch` writes to.")
@click.option("--profile", "profile_path", default=None, help="Station profile: every output of its [[watch.folders]].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable.")
@click.option("--errors", type=int, default=5, show_default=True, help="Last errors shown per folder.")
def status(out: Path | None, profile_path: str | None, as_json: bool, errors: int) -> None:
    """Queue length, jobs in progress, done/failed counts and the last errors."""
    from dossier_station.watch_folders.config import settings_from_profile
    from dossier_station.watch_folders.status import read_status

    if out is not None:
        outs = [out]
    else:
        settings = settings_from_profile(load_profile(profile_path))
        outs = list(dict.fromkeys(f.out for f in settings.folders))
    for o in outs:
        st = read_status(o, errors=errors)
        with contextlib.suppress(BrokenPipeError):
            click.echo(st.as_json() if as_json else st.summary())


COMMANDS = [watch]
