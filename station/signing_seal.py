"""``dossier seal`` and ``dossier build --seal``: the unit's seal on many files at once.

One result line per file, a progress bar, one custody-journal entry per sealed file; a file
that fails is listed with its reason and the others go on; the exit status says whether any
failed. The key's certificate is checked once, before the first file (expired, revoked, or
the OCSP service down → nothing is sealed).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dossier_station.core.errors import BadArgsError, DossierError, ExitCode, InputFileError
from dossier_station.signing.pades import LEVELS, Placement, SignRequest

console = Console(highlight=False)
SEAL_BOX = (40.0, 60.0, 160.0, 180.0)  # 120 pt round seal, bottom right of the last page


class SomeFilesFailed(DossierError):
    exit_code = ExitCode.other_error


def collect(inputs: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix.lower() == ".pdf" and q.is_file() and not q.name.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            raise InputFileError(f"{p}: no such file or folder", hint="check the path")
    if not files:
        raise InputFileError("no PDF files to seal", hint="give PDF files or a folder holding them")
    return files


def seal_request(setup, level: str, tsa: str | None, invisible: bool, unit: str) -> SignRequest:  # type: ignore[no-untyped-def]
    from PIL import Image

    from dossier_station.signing.appearance import seal_image

    image = None
    if not invisible:
        custom = setup.path(setup.table.seal_image)
        image = Image.open(custom).convert("RGB") if custom else seal_image(setup.table.seal_unit or unit, 300)
    return SignRequest(level=level, reason="单位印章 / unit seal", location=setup.table.location,
                       placement=None if invisible else Placement(-1, SEAL_BOX, from_right=True), image=image,
                       tsa_url=setup.tsa(tsa, level))


def prepare_seal(setup, pkcs12: Path | None, key: str | None, trust_files: tuple[Path, ...]):  # type: ignore[no-untyped-def]
    """Key reference, PIN, trust and unit name; the certificate checked once, now."""
    from dossier_station.signing.keys import open_signer
    from dossier_station.signing.pades import Services, check_certificate, trust_from_signer

    ref = setup.key_ref(pkcs12, key, default=setup.table.seal, what="seal key")
    pin = setup.pin(f"seal key {ref.describe()}")
    with open_signer(ref, pin) as s:
        trust = trust_from_signer(s, setup.trust(trust_files).roots)
        cert = s.signing_cert
        unit = cert.subject.native.get("organization_name") or cert.subject.native.get("common_name", "")

        async def check() -> None:
            async with Services(trust):
                await check_certificate(cert, trust)

        asyncio.run(check())
    return ref, pin, trust, unit


def seal_files(files: list[tuple[Path, Path]], setup, ref, pin, trust, req: SignRequest, *,  # type: ignore[no-untyped-def]
               jobs: int = 0, show: bool = True, record: bool = True):
    from dossier_station.core.journal import Journal
    from dossier_station.signing.seal import SealJob, seal_many

    outcomes = []
    with Journal() as journal, Progress(TextColumn("sealing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                        console=console, transient=True, disable=not show) as bar:
        task = bar.add_task("seal", total=len(files))

        def done(o) -> None:  # type: ignore[no-untyped-def]
            bar.advance(task)
            if o.ok and record:
                journal.record("seal", str(o.dst.resolve()), o.sha256, source=str(o.src.resolve()),
                               source_sha256=o.source_sha256, level=req.level)
                bar.console.print(f"[green]✓[/] {escape(str(o.src))} → {escape(str(o.dst))}  sha256 {o.sha256[:16]}…", soft_wrap=True)
            else:
                bar.console.print(f"[bold red]✗[/] {escape(str(o.src))}: {escape(o.error)}", soft_wrap=True)
            outcomes.append(o)

        seal_many([SealJob(s, d) for s, d in files], ref, pin, req, trust, workers=jobs, on_done=done)
    return outcomes


@click.command("seal")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for the sealed files.")
@click.option("--pkcs12", type=click.Path(path_type=Path), default=None, help="Seal key: a PKCS#12 file (default: [signing] seal).")
@click.option("--key", default=None, help="Seal key: pkcs11:token=…;object=… URI.")
@click.option("--level", type=click.Choice(LEVELS), default=None, help="PAdES level (default: [signing] seal_level, B-LTA).")
@click.option("--tsa", default=None, help="Timestamp authority URL (default: [signing] tsa_url).")
@click.option("--invisible", is_flag=True, help="No seal image on the page.")
@click.option("-j", "--jobs", type=int, default=0, help="Worker processes (default: one per core).")
@click.option("--trust", "trust_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trusted root certificate; repeatable (default: [signing] trust, else the key file's root).")
@click.option("--profile", "profile_path", default=None, help="Station profile (TOML).")
def seal(inputs: tuple[Path, ...], out: Path, pkcs12: Path | None, key: str | None, level: str | None, tsa: str | None,
         invisible: bool, jobs: int, trust_files: tuple[Path, ...], profile_path: str | None) -> None:
    """Put the unit's seal on FILES_OR_DIR (PDF files) into -o OUTDIR; one line per file."""
    from dossier_station.station.signing_setup import load_setup

    setup = load_setup(profile_path)
    files = collect(inputs)
    out.mkdir(parents=True, exist_ok=True)
    pairs = [(f, out / f.name) for f in files]
    if any(d.resolve() == s.resolve() for s, d in pairs):
        raise BadArgsError(f"{out}: is where the inputs are", hint="seal into another folder; the originals are kept")
    ref, pin, trust, unit = prepare_seal(setup, pkcs12, key, trust_files)
    req = seal_request(setup, level or setup.table.seal_level, tsa, invisible, unit)
    outcomes = seal_files(pairs, setup, ref, pin, trust, req, jobs=jobs, show=console.is_terminal)
    failed = [o for o in outcomes if not o.ok]
    console.print(f"{len(outcomes) - len(failed)} sealed, {len(failed)} failed")
    if failed:
        raise SomeFilesFailed(f"{len(failed)} of {len(outcomes)} file(s) could not be sealed: "
                              + ", ".join(o.src.name for o in failed), hint="see the reason on each ✗ line above")


def seal_volumes(volumes: list[Path], profile_path: str | None) -> None:
    """``dossier build --seal``: each finished volume sealed in place at [signing] seal_level (B-LTA)."""
    import tempfile

    from dossier_station.core.files import copy_atomic
    from dossier_station.station.signing_setup import load_setup

    setup = load_setup(profile_path)
    ref, pin, trust, unit = prepare_seal(setup, None, None, ())
    req = seal_request(setup, setup.table.seal_level, None, False, unit)
    with tempfile.TemporaryDirectory(dir=volumes[0].parent, prefix=".sealing-") as tmp:
        pairs = [(v, Path(tmp) / v.name) for v in volumes]
        outcomes = seal_files(pairs, setup, ref, pin, trust, req, jobs=0, show=console.is_terminal, record=False)
        failed = [o for o in outcomes if not o.ok]
        if failed:
            raise SomeFilesFailed(f"{len(failed)} volume(s) could not be sealed: {failed[0].error}",
                                  hint="the unsealed volumes are kept; fix the cause and run dossier seal on them")
        from dossier_station.core.journal import Journal

        with Journal() as journal:
            for o in outcomes:
                copy_atomic(o.dst, o.src, expected_sha256=o.sha256)  # the sealed volume takes the volume's name
                journal.record("seal", str(o.src.resolve()), o.sha256, source_sha256=o.source_sha256, level=req.level)
                console.print(f"[green]✓[/] sealed {escape(str(o.src))} ({req.level})", soft_wrap=True)
