"""``dossier demo``: the whole station on embedded defaults, no hardware needed."""

from __future__ import annotations

from pathlib import Path

import click

from dossier_station.station.build_console import console


def demo_pages() -> Path:
    """The sample pages: ../shared/data/pages beside the checkout, else the copies we ship."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "shared" / "data" / "pages", here / "examples" / "pages"):
        if candidate.is_dir():
            return candidate
    raise click.ClickException("no sample pages found (expected ../shared/data/pages or examples/pages)")


@click.command("demo")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True)
def demo(out: Path) -> None:
    """Scan the sample pages on a virtual scanner, capture a signature on emulated pads, build the dossier."""
    from dossier_station.station.demo import run_demo

    here = Path(__file__).resolve().parent.parent
    volumes = run_demo(out, demo_pages(), here / "examples" / "case.toml", console)
    console.print(f"\n[bold green]Your dossier:[/] {', '.join(str(p.resolve()) for p in volumes)}")
    console.print("In a browser (scan, check, catalogue, build): .venv/bin/dossier ui --demo  → open http://127.0.0.1:8750/")


COMMANDS = [demo]
