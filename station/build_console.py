"""Running a build in the terminal: a progress bar per page and the summary table after.

Shared by ``dossier build``, ``dossier scan --build`` and ``dossier demo`` so that all three
show the same progress and the same summary, and none of them imports another command.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

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

from dossier_station.core.profile import load_profile

if TYPE_CHECKING:
    from dossier_station.station.pipeline import BuildResult

console = Console(highlight=False)


def run_build(inputs: Path, case: Path | None, out: Path, profile_path: str | None, **overrides: object) -> BuildResult:
    # Imported here: OpenCV and the OCR stack load only for commands that build.
    from dossier_station.station.pipeline import BuildOptions, build_dossier

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

        try:
            result = build_dossier(inputs, case, out, profile, options=options, on_page=done, on_start=start)
        except KeyboardInterrupt:
            # True, not hopeful: a build's files are placed only when all of them are written.
            console.print(f"build stopped: nothing was written to {out} (a dossier appears only when its build completes)")
            raise
    print_summary(result)
    return result


def print_summary(result: BuildResult) -> None:
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
    if s.get("kept_born_digital"):  # born-digital pages placed as they are (text not OCR'd, vectors kept)
        console.print(f"kept as born-digital vector pages ({len(s['kept_born_digital'])}): {', '.join(s['kept_born_digital'][:10])}")
    for item in rep.get("inputs_not_used", []):
        console.print(f"[yellow]not used:[/] {item['file']}: {item['why']}")
    if rep.get("qc"):
        console.print(f"[yellow]check before filing ({len(rep['qc'])}):[/]")
        for item in rep["qc"][:10]:
            console.print(f"  {item.get('page') or 'row ' + item.get('row', '')}: {item['issue']}")
        if len(rep["qc"]) > 10:
            console.print(f"  … and {len(rep['qc']) - 10} more in the report")
    unusual = [a for a in rep.get("set_aside_at_capture") or [] if not a["reason"].startswith(("separator sheet", "blank back"))]
    if unusual:  # captured but not bound, for a reason the clerk should see (routine ones are in the report)
        console.print(f"[yellow]{len(unusual)} captured pages are not in the dossier:[/]")
        for a in unusual[:10]:
            console.print(f"  {a['file']}: {a['reason']}")
    console.print(f"report: {result.report_path}")
