"""``dossier build``: pages (+ case) → catalogued PDF/A volumes."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import click

from dossier_station.station.pages import early_guess, started_early


@click.command("build")
@click.argument("inputs", type=click.Path(path_type=Path))
@click.option("--case", "case", type=click.Path(path_type=Path), help="Case description (TOML/JSON).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--engine", default=None, help="OCR engine: rapidocr (default) or tesseract, or one a plugin adds.")
@click.option("-j", "--jobs", type=int, default=None, help="Pages processed in parallel (default: one per core).")
@click.option("--pdfa", type=click.Choice(["1b", "2b", "3b"]), default=None, help="PDF/A level (3b when attachments are embedded).")
@click.option("--max-pages", type=int, default=None, help="Numbered pages per volume (default 200).")
@click.option("--attach/--no-attach", default=None, help="Embed the case file and build report (PDF/A-3b).")
@click.option("--images", type=click.Choice(["auto", "archival", "compact"]), default=None, help="auto (default): per page from its content (JPEG captures byte for byte; colour, photo and faint pages JPEG; clean text bitonal G4); archival: captured pixels kept; compact: grey pages bitonal, colour re-encoded.")
@click.option("--broker", default=None, help="OCR on the worker pool: redis://HOST:6379/0 (see docs/cluster.md); else [cluster] broker.")
@click.option("--fallback", type=click.Choice(["none", "local"]), default=None, help="local: build here if the broker or its workers cannot be reached.")
@click.option("--seal", is_flag=True, default=False, help="Seal every finished volume with the unit key ([signing] seal) at [signing] seal_level (B-LTA).")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
def build(inputs: Path, case: Path | None, out: Path, engine: str | None, jobs: int | None, pdfa: str | None, max_pages: int | None, attach: bool | None, images: str | None, profile_path: str | None, broker: str | None = None, fallback: str | None = None, seal: bool = False) -> None:
    """Build a catalogued, searchable PDF/A dossier from page images.

    INPUTS is a case file (TOML/JSON naming its pages), a folder of scans (images, multi-page
    TIFFs, scanned PDFs, in name order), a batch folder from `dossier scan`, or one file.
    """
    guess = early_guess(inputs, engine, jobs, broker, profile_path)
    with started_early(*guess) if guess else nullcontext():  # workers start while the build loads
        from dossier_station.station.build_console import run_build

        result = run_build(inputs, case, out, profile_path, engine=engine, jobs=jobs, pdfa=pdfa, max_pages=max_pages, attach=attach, images=images, broker=broker, fallback=fallback)
    if seal:
        from dossier_station.station.signing_seal import seal_volumes

        seal_volumes(list(result.volumes), profile_path)
        from dossier_station.core.profile import load_profile
        from dossier_station.station.custody import after_build

        after_build(list(result.volumes), out, load_profile(profile_path))  # custody: mirror the sealed volumes, anchor


COMMANDS = [build]
