"""``dossier doctor``: what this station has, and what to install for what is missing.

A clerk's first question on a new machine is "why does X not work"; this answers it in one
screen, using the same probes the stages use (so it cannot disagree with them).
"""

from __future__ import annotations

import shutil
import subprocess

import click
from rich.console import Console
from rich.table import Table

from dossier_station.core.errors import DossierError

console = Console(highlight=False)


def _version(cmd: list[str]) -> str | None:
    if not shutil.which(cmd[0]):
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0] if text else "present"


def _checks() -> list[tuple[str, str | None, str]]:
    from dossier_station.ocr.engine import available_engines
    from dossier_station.ocr.engines.tesseract import check_tesseract

    rows: list[tuple[str, str | None, str]] = []
    try:
        rows.append(("tesseract + chi_sim", check_tesseract(), ""))
    except DossierError as exc:
        rows.append(("tesseract + chi_sim", None, exc.hint or ""))
    rows.append(("OCR engines", ", ".join(sorted(available_engines())), ""))
    from dossier_station.assemble.fonts import find_font
    from dossier_station.assemble.pdfa import find_srgb_profile

    try:
        rows.append(("CJK font", str(find_font()[0]), ""))
    except DossierError as exc:
        rows.append(("CJK font", None, exc.hint or "apt-get install fonts-arphic-uming"))
    icc = find_srgb_profile()
    icc = str(icc) if icc else None
    rows.append(("sRGB ICC profile (PDF/A)", icc, "apt-get install icc-profiles-free"))
    rows.append(("qpdf", _version(["qpdf", "--version"]), "apt-get install qpdf"))
    rows.append(("poppler (pdftotext)", _version(["pdftotext", "-v"]), "apt-get install poppler-utils"))
    rows.append(("SANE (scanimage)", _version(["scanimage", "--version"]), "apt-get install sane-utils libsane1"))
    rows.append(("Java (PDFBox checks)", _version(["java", "-version"]), "apt-get install default-jre-headless libpdfbox2-java"))
    return rows


@click.command("doctor")
def doctor() -> None:
    """Check the programs and data this station needs; say what to install."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("component")
    table.add_column("found")
    table.add_column("to install")
    missing = 0
    for name, found, fix in _checks():
        missing += found is None
        table.add_row(name, found or "[red]missing[/]", "" if found else fix)
    console.print(table)
    if missing:
        raise SystemExit(3)


COMMANDS = [doctor]
