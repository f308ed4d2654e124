"""The jobs the station hands to its hot folders: the dossier build, and a checksum-only job.

``watch_folders`` claims and files jobs; what a job *is* lives here, where the pipeline is
known. :func:`make_build_job` builds one dossier per job exactly as ``dossier build`` would —
a single dropped file (with the folder's case template, if any), or a folder holding
``case.toml``/``case.json`` and its pages. Before any page work it refuses what a hot folder
must never act on: a case file naming paths outside its own folder (``pages = "/etc"``,
``文件 = ["../other/x.jpg"]``), a lone case file, and more pages than the folder allows.

:func:`checksum_job` does no OCR: it files the inputs with their SHA-256. It exists so the
watcher's own cost — discovery, claim, move, state, journal — can be measured and soaked
without the minutes of OCR a real build takes (``dossier watch --job checksum``).
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from dossier_station.core.errors import CaseFileError, InputFileError
from dossier_station.core.files import sha256_file, write_json_atomic
from dossier_station.core.profile import Profile, load_profile
from dossier_station.watch_folders.discover import CASE_NAMES
from dossier_station.watch_folders.job import JobInput, JobResult, input_files

CHECKSUM_DELAY_ENV = "DOSSIER_WATCH_CHECKSUM_DELAY"  # seconds per job, for soak tests of the kill window


def read_case(case_path: Path) -> dict[str, Any]:
    """Parse a case file just far enough to check its paths (the full check is load_case's)."""
    try:
        text = case_path.read_text("utf-8")
        raw = json.loads(text) if case_path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise CaseFileError(f"{case_path.name}: not a readable case file ({exc})", hint="fix the case file; see docs/case-file.md") from None
    if not isinstance(raw, dict):
        raise CaseFileError(f"{case_path.name}: a case file must be a table/object at the top", hint="see docs/case-file.md")
    return raw


def named_paths(raw: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every (field, value) of a case file that names a file or folder."""
    found: list[tuple[str, Any]] = []
    if "pages" in raw:
        found.append(("pages", raw["pages"]))
    source = raw.get("source")
    if isinstance(source, dict) and "dir" in source:
        found.append(("source.dir", source["dir"]))
    catalogue = raw.get("catalogue")
    if isinstance(catalogue, dict) and "csv" in catalogue:
        found.append(("catalogue.csv", catalogue["csv"]))
    rows = raw.get("rows", [])
    if isinstance(catalogue, dict) and isinstance(catalogue.get("rows"), list):
        rows = [*rows, *catalogue["rows"]] if isinstance(rows, list) else catalogue["rows"]
    for i, row in enumerate(rows if isinstance(rows, list) else [], start=1):
        if isinstance(row, dict):
            for key in ("files", "文件"):
                value = row.get(key, [])
                for v in value if isinstance(value, list) else [value]:
                    found.append((f"row {i} {key}", v))
    return found


def check_case_paths(case_path: Path, folder: Path) -> dict[str, Any]:
    """Refuse a case file that names anything outside ``folder`` (or not a plain relative path)."""
    raw = read_case(case_path)
    root = folder.resolve()
    for where, value in named_paths(raw):
        if not isinstance(value, str) or not value.strip():
            raise CaseFileError(f"{case_path.name}: {where} must be a file name (text), not {value!r}", hint="name a file inside the job folder")
        if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() or PureWindowsPath(value).drive or "\0" in value:
            raise CaseFileError(
                f"{case_path.name}: {where} = {value!r} is an absolute path — a hot-folder job may only name files inside its own folder",
                hint="write paths relative to the case file, e.g. pages = \"scans\"",
            )
        target = (case_path.parent / value).resolve()
        if target != root and root not in target.parents:
            raise CaseFileError(
                f"{case_path.name}: {where} = {value!r} points outside the job folder — refused",
                hint="put the pages inside the job folder and name them relative to the case file",
            )
    return raw


def _count_pages(files: list[Path], limit: int, name: str) -> int:
    from dossier_station.ocr.loader import scan_inputs

    pages = len(scan_inputs(files))  # also refuses corrupt, empty, encrypted and bomb inputs by name
    if pages > limit:
        raise InputFileError(f"{name}: {pages} pages is over this hot folder's limit of {limit}", hint="split the job, or raise max_pages in the profile's [watch] table")
    return pages


def make_build_job(station_profile: Profile) -> Callable[[JobInput], JobResult]:
    """The dossier-build job, with the station's profile for folders that name none of their own."""

    def build_job(job: JobInput) -> JobResult:
        from dossier_station.ocr.loader import list_input_files
        from dossier_station.station.pipeline import BuildOptions, build_dossier

        folder = job.folder
        profile = load_profile(folder.profile) if folder.profile else station_profile
        template = folder.case_template
        if job.kind == "file":
            if job.path.suffix.lower() in (".toml", ".json"):
                raise CaseFileError(
                    f"{job.name}: a case file on its own is not a job",
                    hint="drop a folder holding the case file and its pages (add .ready when it is complete)",
                )
            inputs, case, files = job.path, template, [job.path]
        else:
            case = next((job.path / n for n in CASE_NAMES if (job.path / n).is_file()), None)
            if case is not None:
                named = named_paths(check_case_paths(case, job.path))
                names_pages = any(w in ("pages", "source.dir") or w.startswith("row ") for w, _ in named)
                pages_dir = job.path / next((str(v) for w, v in named if w in ("pages", "source.dir")), ".")
                inputs = case if names_pages else job.path
                case = None if names_pages else case
                files = [p for p in list_input_files(pages_dir) if p.name not in CASE_NAMES] if pages_dir.is_dir() else []
            else:
                inputs, case = job.path, template
                files = list_input_files(job.path)
            if not files:
                raise InputFileError(f"{job.name}: the job folder holds no pages", hint="put the scanned pages beside the case file")
        pages = _count_pages(files, folder.max_pages, job.name)
        result = build_dossier(inputs, case, job.work, profile, options=BuildOptions.from_profile(profile))
        return JobResult([*result.volumes, result.report_path], note=f"{pages} pages → {', '.join(v.name for v in result.volumes)}")

    return build_job


def checksum_job(job: JobInput) -> JobResult:
    """File the inputs with their SHA-256, no OCR (benchmarks and soak tests of the watcher)."""
    delay = float(os.environ.get(CHECKSUM_DELAY_ENV) or 0)
    if delay:
        time.sleep(delay)
    listing = {rel: sha256_file(full) for rel, full in input_files(job.path)}
    out = job.work / "checksums.json"
    write_json_atomic(out, {"job": job.id, "name": job.name, "files": listing})
    return JobResult([out], note=f"{len(listing)} file(s) checksummed")
