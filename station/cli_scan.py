"""``dossier scan``, ``dossier scanners`` and ``dossier separator``."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console

from dossier_station.capture.batch import BatchFolder, ScanOutcome, run_scan
from dossier_station.core.errors import DeviceError
from dossier_station.core.profile import check_keys, load_profile
from dossier_station.devices.scanner import ScanSettings, list_devices

console = Console(highlight=False)
PAGE_SIZES = {"a4": (210.0, 297.0), "a3": (297.0, 420.0), "letter": (215.9, 279.4), "legal": (215.9, 355.6), "16k": (195.0, 270.0)}
SCANNER_KEYS = {"device", "dpi", "mode", "source", "page", "brightness", "contrast", "source_names", "timeout", "require_colour"}


def _settings(profile_path: str | None, **cli: object) -> tuple[ScanSettings, float]:
    section = load_profile(profile_path).section("scanner")
    check_keys(section, SCANNER_KEYS, "scanner")
    values = {k: v for k, v in section.items() if k in ("device", "dpi", "mode", "source", "brightness", "contrast")}
    values.update({k: v for k, v in cli.items() if v is not None and k in ("device", "dpi", "mode", "source")})
    page = cli.get("page") or section.get("page")
    if page:
        key = str(page).lower()
        if key in PAGE_SIZES:
            values["page_mm"] = PAGE_SIZES[key]
        else:
            try:
                w, h = (float(x) for x in key.split("x"))
            except ValueError:
                raise click.BadParameter(f"{page!r}: use A4, A3, letter, legal, 16k or WIDTHxHEIGHT in mm", param_hint="--page") from None
            values["page_mm"] = (w, h)
    settings = ScanSettings(**values)  # type: ignore[arg-type]
    overrides = section.get("source_names", {})  # per-model vendor strings: {"fi-7160" = {adf-duplex = "ADF Duplex"}}
    if settings.device and isinstance(overrides, dict):
        for model, names in overrides.items():
            if model in settings.device and isinstance(names, dict) and settings.source in names:
                settings = ScanSettings(**{**settings.__dict__, "source_name": names[settings.source]})
    if section.get("require_colour") and settings.mode != "color":
        console.print("[yellow]warning:[/] DA/T 31-2017 §9.3: this station's profile requires colour (seals, red headers); scanning in " + settings.mode)
    return settings, float(cli.get("timeout") or section.get("timeout", 60))


def _progress(started: float):  # type: ignore[no-untyped-def]
    def show(page: dict) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        n = show.count = getattr(show, "count", 0) + 1  # type: ignore[attr-defined]
        flag = f"  [yellow]{', '.join(page['flags'])}[/]" if page.get("flags") else ""
        console.print(f"page {page['seq']:4d}  {page['side']:5}  {n} this session, {n / elapsed * 60:5.1f} pages/min{flag}")

    return show


def _report(outcome: ScanOutcome, batch_dir: Path) -> None:
    for w in outcome.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(f"{len(outcome.added)} pages scanned into {batch_dir}")
    if outcome.reason.startswith("fault:"):
        raise DeviceError(
            f"scanning stopped: {outcome.message}",
            hint=f"the {len(outcome.added)} pages scanned so far are kept; then run: dossier scan --resume {batch_dir}",
        )
    if outcome.reason == "interrupted":
        console.print(f"stopped; the {len(outcome.added)} pages so far are kept. Continue with: dossier scan --resume {batch_dir}")
        raise KeyboardInterrupt  # exit code 130, like any interrupted command


@click.command("scan")
@click.option("--batch", "batch_dir", type=click.Path(path_type=Path), help="New batch folder.")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), help="Continue a stopped batch.")
@click.option("--device", default=None, help="Scanner name (see `dossier scanners`).")
@click.option("--dpi", type=int, default=None, help="Resolution (default 300).")
@click.option("--mode", type=click.Choice(["color", "gray", "lineart"]), default=None)
@click.option("--source", type=click.Choice(["flatbed", "adf", "adf-duplex"]), default=None)
@click.option("--page", default=None, help="A4, A3, letter, legal, 16k or WxH in mm (default: largest).")
@click.option("--device-option", "device_options", multiple=True, metavar="NAME=VALUE", help="Set a raw device option (repeatable).")
@click.option("--max-pages", type=int, default=None, help="Stop after this many pages (flatbed batches).")
@click.option("--manual-duplex", is_flag=True, help="Simplex feeder: scan fronts, flip the stack, scan backs.")
@click.option("--timeout", type=float, default=None, help="Seconds without an answer before the scanner counts as gone.")
@click.option("--case", "case_path", type=click.Path(path_type=Path), default=None, help="Check separator split against this case.")
@click.option("--build", "build_case", type=click.Path(path_type=Path), default=None, help="Build the dossier from the batch with this case file.")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None, help="Output folder for --build.")
@click.option("--broker", default=None, help="With --build: send pages to the worker pool as they are scanned (docs/cluster.md); else [cluster] broker.")
@click.option("--profile", "profile_path", default=None)
def scan(batch_dir: Path | None, resume_dir: Path | None, device: str | None, dpi: int | None, mode: str | None, source: str | None,
         page: str | None, device_options: tuple[str, ...], max_pages: int | None, manual_duplex: bool, timeout: float | None, case_path: Path | None, build_case: Path | None,
         out: Path | None, profile_path: str | None, broker: str | None = None) -> None:
    """Scan until the feeder is empty; every page written, fsynced and hashed as it arrives."""
    from dossier_station.station.scan_batch import classify_pages, interleave_manual_duplex

    if bool(batch_dir) == bool(resume_dir):
        raise click.UsageError("give either --batch DIR (new batch) or --resume DIR")
    if build_case and not out:
        raise click.UsageError("--build needs -o/--output")
    settings, wait = _settings(profile_path, device=device, dpi=dpi, mode=mode, source=source, page=page, timeout=timeout)
    extra = []
    for item in device_options:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--device-option")
        extra.append((name.strip(), value.strip()))
    if extra:
        settings = ScanSettings(**{**settings.__dict__, "extra": tuple(extra)})
    target = batch_dir or resume_dir
    assert target is not None
    from dossier_station.core.locking import check_output_folder

    check_output_folder(Path(target), "--batch/--resume")  # naming a file (or a path under one): a clear error
    if build_case and out is not None:
        check_output_folder(out)
    started = time.monotonic()
    from dossier_station.core.journal import Journal

    journal = Journal()
    show = _progress(started)

    early = None
    if build_case:  # read pages while the feeder runs: the dossier is ready right after the last sheet
        from dossier_station.core.profile import load_profile
        from dossier_station.station.cluster.early import early_ocr
        from dossier_station.station.pages import default_jobs
        from dossier_station.station.pipeline import BuildOptions
        from dossier_station.station.scan_batch import EarlyOcr

        opts = BuildOptions.from_profile(load_profile(profile_path), broker=broker)
        early = (early_ocr(load_profile(profile_path), Path(target), engine=opts.engine, images=opts.images, broker=broker)  # the pool, if any
                 or EarlyOcr(Path(target), engine=opts.engine, images=opts.images, jobs=opts.jobs or default_jobs()))

    def on_page(page: dict) -> None:
        show(page)
        journal.record("capture", str((target / page["file"]).resolve()), page["sha256"],
                       device=settings.device, dpi=page.get("dpi"), side=page.get("side"), flags=page.get("flags", []))
        if early is not None:
            early.page(page)

    try:
        outcome = run_scan(target, settings, resume=resume_dir is not None, on_page=on_page, timeout=wait, max_pages=max_pages)
    except BaseException:
        if early is not None:
            early.cancel()
        raise
    _report(outcome, target)
    if manual_duplex and outcome.reason == "end":
        first_back = BatchFolder.open(target).next_seq()
        click.prompt("Turn the stack over, put it back in the feeder and press Enter", default="", show_default=False)
        outcome = run_scan(target, settings, resume=True, on_page=on_page, timeout=wait, max_pages=max_pages)
        _report(outcome, target)
        interleave_manual_duplex(BatchFolder.open(target), first_back)
    case = None
    if case_path or build_case:
        from dossier_station.assemble.case import load_case

        case = load_case(case_path or build_case)  # type: ignore[arg-type]
    counts = classify_pages(BatchFolder.open(target), case)
    if counts["separators"] or counts["blank_backs"]:
        console.print(f"{counts['separators']} separator sheets, {counts['blank_backs']} blank backs set aside")
    if counts.get("unassigned"):
        console.print(f"[yellow]warning:[/] {counts['unassigned']} pages were scanned before the first separator sheet: kept in the batch, set aside at build (rescan them behind their separator)")
    if early is not None:
        early.finish()
    if build_case:
        from dossier_station.station.build_console import run_build

        run_build(target, build_case, out, profile_path, broker=broker)  # type: ignore[arg-type]


@click.command("scanners")
def scanners() -> None:
    """List the scanners SANE (or WIA) can see."""
    devices = list_devices()
    if not devices:
        console.print("no scanner found")
        raise SystemExit(11)
    for d in devices:
        console.print(f"{d.name}\t{d.vendor} {d.model}")


@click.command("separator")
@click.option("--case", "case_path", type=click.Path(path_type=Path, exists=True), default=None)
@click.option("--patch-t", is_flag=True, help="A patch T sheet instead (no case needed; documents map to rows in order).")
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=Path("separators.pdf"), show_default=True)
def separator(case_path: Path | None, patch_t: bool, out: Path) -> None:
    """Print one QR separator sheet per catalogue row (or a patch T sheet), to scan ahead of each document."""
    from dossier_station.assemble.case import load_case
    from dossier_station.capture.separators import separator_pdf

    if patch_t:
        import io

        from dossier_station.capture.patchcode import patch_t_sheet
        from dossier_station.core.files import write_bytes_atomic
        from dossier_station.core.pdfcheck import pdf_verifier

        buf = io.BytesIO()
        patch_t_sheet(300).save(buf, "PDF", resolution=300.0)
        write_bytes_atomic(out, buf.getvalue(), verify=pdf_verifier(pages=1, what="separator sheet"), make_parents=False)
        console.print(f"patch T separator sheet: {out} (print at 100 %, no scaling)")
        return
    if case_path is None:
        raise click.UsageError("give --case case.toml (or --patch-t)")
    n = separator_pdf(load_case(case_path), out)
    console.print(f"{n} separator sheets: {out}")


COMMANDS = [scan, scanners, separator]
