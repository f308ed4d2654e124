"""Custody commands: ``dossier custody verify/show/anchor``, ``dossier mirror check``,
``dossier export`` and ``dossier import`` (调卷 transfer packages).

Every check prints a summary for the clerk (``--json`` for machines) and exits non-zero (4,
the "output is not what it claims" code) when custody does not hold; every command that opens
a dossier records it in the journal (全程留痕).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from dossier_station.core.custody import VERIFIED, VIEWED
from dossier_station.core.errors import ExitCode, ProfileError
from dossier_station.core.journal import Journal
from dossier_station.core.profile import load_profile

console = Console(highlight=False, soft_wrap=True)  # a report line is never cut
FAILED = int(ExitCode.invalid_output_pdf)

profile_option = click.option("--profile", "profile_path", default=None, help="Station profile (TOML); default $DOSSIER_PROFILE.")
trust_option = click.option("--trust", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                            help="Root certificate (PEM) of the TSA; default [custody] tsa_trust.")


def _settings(profile_path: str | None):  # type: ignore[no-untyped-def]
    from dossier_station.station.custody import settings_for

    return settings_for(load_profile(profile_path))


def _print(text: str) -> None:
    console.print(escape(text))


def run_verify(path: Path | None, dossier: Path | None, trust: Path | None, files: bool, as_json: bool, profile_path: str | None) -> None:
    """``custody verify`` (and ``journal --verify``): print the report, exit 4 when it fails."""
    from dossier_station.station.custody import record_access
    from dossier_station.station.custody_verify import verify_custody

    settings = _settings(profile_path)
    with Journal(path, create=False) as journal:
        report = verify_custody(journal, settings, trust=trust, dossier=dossier, files=files)
        if dossier is not None and dossier.is_file():
            record_access(dossier, VERIFIED, journal=journal, ok=report.ok, problems=len(report.problems), by="custody verify")
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    else:
        _print(report.summary())
    if not report.ok:
        raise SystemExit(FAILED)


@click.group("custody")
def custody() -> None:
    """Chain of custody: verify the journal and a dossier, show a dossier's history, anchor."""


@custody.command("verify")
@click.option("--dossier", type=click.Path(path_type=Path), default=None, help="Also check this dossier against the journal.")
@click.option("--path", type=click.Path(path_type=Path), default=None, help="Journal file (default: $DOSSIER_JOURNAL or ~/.local/share).")
@click.option("--files", is_flag=True, help="Also check that every dossier file the journal names is still there, unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@trust_option
@profile_option
def verify(dossier: Path | None, path: Path | None, files: bool, as_json: bool, trust: Path | None, profile_path: str | None) -> None:
    """Recompute the hash chain, check every anchor's timestamp, and (--dossier) a dossier file."""
    run_verify(path, dossier, trust, files, as_json, profile_path)


@custody.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--path", type=click.Path(path_type=Path), default=None, help="Journal file.")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@profile_option
def show(file: Path, path: Path | None, as_json: bool, profile_path: str | None) -> None:
    """The history of one dossier: raw pages, processing, volume, signatures, copies, transfers."""
    from dossier_station.station.custody import record_access
    from dossier_station.station.custody_show import format_history, history

    _settings(profile_path)
    with Journal(path, create=False) as journal:
        h = history(journal, file)
        record_access(file, VIEWED, journal=journal, by="custody show")
    if as_json:
        click.echo(json.dumps(h, ensure_ascii=False, indent=1, default=str))
    else:
        for line in format_history(h):
            _print(line)


@custody.command("anchor")
@click.option("--if-due", is_flag=True, help="Only when the last anchor is older than [custody] anchor_hours (for cron).")
@profile_option
def anchor(if_due: bool, profile_path: str | None) -> None:
    """Timestamp the journal's head at the profile's TSA now."""
    from dossier_station.station.custody import anchor_due, anchor_now

    settings = _settings(profile_path)
    if not settings.tsa_url:
        raise ProfileError("no TSA configured to anchor the journal", hint='add  tsa = "http://…"  to the profile\'s [custody] table (or [signing] tsa_url)')
    with Journal() as journal:
        if if_due and not anchor_due(journal, settings):
            _print("anchor not due yet")
            return
        a = anchor_now(journal, settings, "manual")
    _print(f"anchored entry {a.event_id} (head {a.head_hash[:16]}…) at {a.gen_time} by {a.tsa_url}" if a else "nothing new to anchor")


@click.group("mirror")
def mirror() -> None:
    """Mirrored storage: the copies in the profile's [custody] mirrors."""


@mirror.command("check")
@click.option("--repair", is_flag=True, help="Restore missing or diverging copies from a copy whose hash matches the journal; retry queued copies.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@profile_option
def mirror_check(repair: bool, as_json: bool, profile_path: str | None) -> None:
    """Find missing, diverging and pending mirror copies (exit 4 while any is left)."""
    from dossier_station.station.mirror import check_mirrors

    settings = _settings(profile_path)
    with Journal() as journal:
        report = check_mirrors(journal, settings, repair=repair)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    else:
        if not settings.mirrors:
            _print("no mirrors configured ([custody] mirrors); checking the copies the journal records")
        _print(f"mirrors {'OK' if report.ok else 'NOT OK'}: {report.checked} copies checked, {len(report.problems)} problems, "
               f"{len(report.repaired)} repaired, {len(report.pending)} pending")
        for p in report.problems:
            _print(f"  {'✓ repaired' if p.get('repaired') else '✗'} {p['message']}")
        for p in report.pending:
            _print(f"  … pending: {p['target']} ({p['attempts']} attempts; {p['last_error']})")
    if not report.ok:
        raise SystemExit(FAILED)


@click.command("export")
@click.argument("dossier", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--request", required=True, help="The 调卷函 number this package answers.")
@click.option("--requester", required=True, help="Who asked for the dossier (unit, person).")
@click.option("--approver", required=True, help="Who approved the transfer.")
@click.option("-o", "--output", "out", required=True, type=click.Path(path_type=Path), help="Package folder, or a .zip file.")
@trust_option
@profile_option
def export(dossier: Path, request: str, requester: str, approver: str, out: Path, trust: Path | None, profile_path: str | None) -> None:
    """Write a transfer package (调卷): the dossier, its custody history, verification, hashes."""
    from dossier_station.station.transfer import export_package

    settings = _settings(profile_path)
    r = export_package(dossier, out, request=request, requester=requester, approver=approver, settings=settings, trust=trust)
    _print(f"package {r['package']}: {dossier.name}, {r['events']} custody events ({r['redacted']} unrelated redacted), "
           f"{r['anchors']} anchors, signatures {r['signatures']}; recorded as exported")


@click.command("import")
@click.argument("package", type=click.Path(exists=True, path_type=Path))
@click.option("--into", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to place the dossier in.")
@trust_option
@profile_option
def import_(package: Path, into: Path, trust: Path | None, profile_path: str | None) -> None:
    """Verify a transfer package (hashes, custody, anchors, signatures) and accept it, or refuse it."""
    from dossier_station.station.transfer_import import import_package

    settings = _settings(profile_path)
    r = import_package(package, into, settings, trust=trust)
    _print(f"accepted {r['file']} from {r['from'].get('station')} (request {r['request'].get('number')}): "
           f"{r['events']} custody events, {len(r['anchors'])} anchors verified, signatures {r['signatures']}")
    if r["note"]:
        _print(f"  note: {r['note']}")


COMMANDS = [custody, mirror, export, import_]
