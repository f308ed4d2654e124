"""``dossier worker`` and ``dossier workers status``: the pool of a digitisation centre.

A worker is a Celery worker (any machine that reaches the broker) that OCRs pages for any
station's ``dossier build --broker``. See docs/cluster.md for a centre's set-up.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from dossier_station.core.errors import BadArgsError
from dossier_station.core.profile import load_profile


def _broker(broker: str | None, profile_path: str | None) -> tuple[str, object]:
    from dossier_station.station.cluster.config import BROKER_ENV, check_broker_url

    profile = load_profile(profile_path)
    url = broker or profile.table("cluster").broker or os.environ.get(BROKER_ENV)
    if not url:
        raise BadArgsError("no broker given", hint="give --broker redis://HOST:6379/0, [cluster] broker in the profile, or $DOSSIER_BROKER")
    return check_broker_url(url), profile


@click.command("worker")
@click.option("--broker", default=None, help="redis://HOST:6379/0 (rediss:// for TLS); else [cluster] broker or $DOSSIER_BROKER.")
@click.option("-c", "--concurrency", type=int, default=None, help="Pages at a time (default: one per core).")
@click.option("-Q", "--queues", default="ocr,assemble", show_default=True, help="Queues to take tasks from.")
@click.option("--shared", type=click.Path(path_type=Path, file_okay=False), default=None, help="The shared folder, as this machine mounts it.")
@click.option("-n", "--name", default=None, help="Worker name (default dossier-PID@HOST); unique in the pool.")
@click.option("--log-file", type=click.Path(path_type=Path, dir_okay=False), default=None, help="JSON-lines log (default ~/.local/state/dossier-station/worker-NAME.jsonl).")
@click.option("--secret-file", type=click.Path(path_type=Path, dir_okay=False), default=None, help="HMAC key shared with the stations (tasks must be signed with it).")
@click.option("--loglevel", type=click.Choice(["debug", "info", "warning", "error"]), default="info")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML) with a [cluster] table.")
def worker(broker: str | None, concurrency: int | None, queues: str, shared: Path | None, name: str | None, log_file: Path | None, secret_file: Path | None, loglevel: str, profile_path: str | None) -> None:
    """Start a worker that OCRs pages for the stations of a centre (Celery over Redis)."""
    from dossier_station.station.cluster.config import load_secret, ping_broker
    from dossier_station.station.cluster.transport import shared_from_env
    from dossier_station.station.cluster.worker import default_log_file, default_name, run_worker
    from dossier_station.station.pages import default_jobs

    url, profile = _broker(broker, profile_path)
    table = profile.table("cluster")  # type: ignore[attr-defined]
    ping_broker(url)  # unreachable: say so now, not in a retry loop
    names = [q.strip() for q in queues.split(",") if q.strip()]
    if not names or any(q not in ("ocr", "assemble") for q in names):
        raise BadArgsError(f"--queues {queues!r}: the queues are ocr and assemble", hint="e.g. --queues ocr")
    if concurrency is not None and concurrency < 1:
        raise BadArgsError("--concurrency must be at least 1")
    name = name or default_name()
    if "@" not in name:
        name = f"{name}@{os.uname().nodename}"
    run_worker(
        url, name=name, concurrency=concurrency or default_jobs(), queues=names,
        shared=shared_from_env(shared or table.shared), secret=load_secret(secret_file or table.secret_file),
        log_file=log_file or default_log_file(name), loglevel=loglevel,
    )


@click.group("workers")
def workers() -> None:
    """The worker pool: who is in it and what it is doing."""


@workers.command("status")
@click.option("--broker", default=None, help="redis://HOST:6379/0; else [cluster] broker or $DOSSIER_BROKER.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--timeout", type=float, default=1.5, show_default=True, help="Seconds to wait for workers to answer.")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
def status(broker: str | None, as_json: bool, timeout: float, profile_path: str | None) -> None:
    """Workers, their queues, tasks in progress and done, failures of the last hour."""
    from rich.console import Console
    from rich.table import Table

    from dossier_station.station.cluster.status import pool_status

    url, _ = _broker(broker, profile_path)
    st = pool_status(url, timeout=timeout)
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False, indent=1))
        return
    console = Console(highlight=False)
    table = Table(title=f"Workers on {st['broker']}", header_style="bold")
    for col in ("worker", "alive", "queues", "concurrency", "in progress", "pages done"):
        table.add_column(col)
    for w in st["workers"]:
        pages = ", ".join(p["page"] or p["task_id"] or "?" for p in w["in_progress"]) or "–"
        table.add_row(w["name"], "yes" if w["alive"] else "no", ",".join(w["queues"]), str(w["concurrency"] or "?"), pages, str(w["pages_done"]))
    console.print(table)
    console.print(f"queued: {', '.join(f'{q} {n}' for q, n in st['queued'].items())}")
    fails = st["failures_last_hour"]
    console.print(f"failures in the last hour: {len(fails)}")
    for f in fails[-10:]:
        when = datetime.fromtimestamp(f["time"], UTC).astimezone().strftime("%H:%M:%S")
        console.print(f"  {when} {f.get('worker')}: {f.get('page') or ''} {f.get('status')}: {f.get('error')}")


COMMANDS = [worker, workers]
