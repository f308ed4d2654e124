"""``dossier journal``: the station's custody log — recent events; ``--verify`` is
``dossier custody verify`` (chain and anchors), kept for scripts written before it."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from dossier_station.core.custody import canonical_kind
from dossier_station.core.journal import Journal

console = Console(highlight=False, soft_wrap=True)  # a report line is never cut


@click.command("journal")
@click.option("--verify", is_flag=True, help="Check the hash chain and the anchors (same as: dossier custody verify).")
@click.option("-n", "--last", "last", type=int, default=20, show_default=True, help="How many recent events to show.")
@click.option("--path", type=click.Path(path_type=Path), default=None, help="Journal file (default: $DOSSIER_JOURNAL or ~/.local/share).")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
def journal(verify: bool, last: int, path: Path | None, profile_path: str | None) -> None:
    """Show the custody log of this station (captures, builds, signatures, transfers) and verify it."""
    with Journal(path, create=not verify) as j:
        for e in j.recent(last):
            digest = f"  sha256 {e['sha256'][:16]}…" if e["sha256"] else ""
            who = f"  [{e['station']}/{e['operator']}]" if e.get("station") else ""
            console.print(escape(f"{e['id']:6d}  {e['time']}  {canonical_kind(e['kind']):10}  {e['subject']}{digest}{who}"))
    if verify:
        from dossier_station.station.cli_custody import run_verify

        run_verify(path, None, None, False, False, profile_path)


COMMANDS = [journal]
