"""``dossier journal``: the station's custody log — recent events, and a chain check."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from dossier_station.core.journal import Journal

console = Console(highlight=False)


@click.command("journal")
@click.option("--verify", is_flag=True, help="Check the hash chain of every entry.")
@click.option("-n", "--last", "last", type=int, default=20, show_default=True, help="How many recent events to show.")
@click.option("--path", type=click.Path(path_type=Path), default=None, help="Journal file (default: $DOSSIER_JOURNAL or ~/.local/share).")
def journal(verify: bool, last: int, path: Path | None) -> None:
    """Show the custody log of this station (captures, builds) and verify it."""
    with Journal(path) as j:
        for e in j.recent(last):
            digest = f"  sha256 {e['sha256'][:16]}…" if e["sha256"] else ""
            console.print(f"{e['id']:6d}  {e['time']}  {e['kind']:8}  {e['subject']}{digest}")
        if verify:
            result = j.verify()
            console.print(result.summary())
            if not result.ok:
                raise SystemExit(4)


COMMANDS = [journal]
