"""``dossier build`` and ``dossier demo``: pages (+ case) → catalogued PDF/A volumes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from station.profile import load_profile

if TYPE_CHECKING:
    from station.pipeline import BuildResult

console = Console(highlight=False)


def _run_build(inputs: Path, case: Path | None, out: Path, profile_path: str | None, **overrides: object) -> BuildResult:
    # Imported here: OpenCV and the OCR stack load only for commands that build.
    from station.pipeline import BuildOptions, build_dossier

    profile = load_profile(profile_path)
    options = BuildOptions.from_profile(profile, **overrides)
    with Progress(
        TextColumn("[bold]OCR[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and not os.environ.get("DOSSIER_PROGRESS"),
    ) as progress:
        task = progress.add_task("pages", total=None)

        def start(n: int) -> None:
            progress.update(task, total=n)

        def done(outcome) -> None:  # type: ignore[no-untyped-def]
            note = "blank, set aside" if outcome.blank else f"{outcome.chars} chars"
            progress.update(task, advance=1, description=f"{outcome.key}: {note}")

        result = build_dossier(inputs, case, out, profile, options=options, on_page=done, on_start=start)
    _summary(result)
    return result


def _summary(result: BuildResult) -> None:
    rep = result.report
    table = Table(title="Dossier built", show_header=True, header_style="bold")
    table.add_column("volume file")
    table.add_column("numbered pages", justify="right")
    table.add_column("PDF pages", justify="right")
    for v in rep["volumes"]:
        table.add_row(str(result.volumes[v["volume"] - 1]), str(v["numbered_pages"]), str(v["total_pages"]))
    console.print(table)
    s = rep["summary"]
    console.print(
        f"{s['pages_in']} pages in · {s['blank_set_aside']} blank set aside · {s['turned']} turned upright · "
        f"mean OCR confidence {s['mean_ocr_confidence']:.3f} · {rep['seconds']} s ({rep['pages_per_minute']} pages/min)"
    )
    if rep.get("qc"):
        console.print(f"[yellow]check before filing ({len(rep['qc'])}):[/]")
        for item in rep["qc"][:10]:
            console.print(f"  {item.get('page') or 'row ' + item.get('row', '')}: {item['issue']}")
        if len(rep["qc"]) > 10:
            console.print(f"  … and {len(rep['qc']) - 10} more in the report")
    console.print(f"report: {result.report_path}")


@click.command("build")
@click.argument("inputs", type=click.Path(path_type=Path))
@click.option("--case", "case", type=click.Path(path_type=Path), help="Case description (TOML/JSON).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--engine", default=None, help="OCR engine: rapidocr (default) or tesseract, or one a plugin adds.")
@click.option("-j", "--jobs", type=int, default=None, help="Pages processed in parallel (default: one per core).")
@click.option("--pdfa", type=click.Choice(["1b", "2b", "3b"]), default=None, help="PDF/A level (3b when attachments are embedded).")
@click.option("--max-pages", type=int, default=None, help="Numbered pages per volume (default 200).")
@click.option("--attach/--no-attach", default=None, help="Embed the case file and build report (PDF/A-3b).")
@click.option("--images", type=click.Choice(["archival", "compact"]), default=None, help="archival: captured pixels kept (default); compact: grey pages bitonal, colour re-encoded.")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
def build(inputs: Path, case: Path | None, out: Path, engine: str | None, jobs: int | None, pdfa: str | None, max_pages: int | None, attach: bool | None, images: str | None, profile_path: str | None) -> None:
    """Build a catalogued, searchable PDF/A dossier from page images.

    INPUTS is a case file (TOML/JSON naming its pages), a folder of scans (images, multi-page
    TIFFs, scanned PDFs, in name order), a batch folder from `dossier scan`, or one file.
    """
    _run_build(inputs, case, out, profile_path, engine=engine, jobs=jobs, pdfa=pdfa, max_pages=max_pages, attach=attach, images=images)


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
    from station.demo import run_demo

    here = Path(__file__).resolve().parent.parent
    volumes = run_demo(out, demo_pages(), here / "examples" / "case.toml", console)
    console.print(f"\n[bold green]Your dossier:[/] {', '.join(str(p.resolve()) for p in volumes)}")


COMMANDS = [build, demo]
