"""``dossier schema``: the JSON Schemas of the files the station reads, from the models themselves.

Other agencies' systems produce case files and batches for us; the schemas in docs/schemas/ are
generated here from the same pydantic models every reader uses, so what the schema allows is
what the station accepts (a test checks the committed files are current).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

BASE_ID = "https://dossier-station.example/schemas/"


def _case() -> dict[str, Any]:
    from dossier_station.core.formats.case_file import CaseFileModel
    from dossier_station.core.formats.schema import model_schema

    return model_schema(CaseFileModel, title="dossier-station case file (案件描述), TOML or JSON", schema_id=BASE_ID + "case-file.schema.json",
                        description="Cover fields and catalogue rows; keys in English or in the Chinese of the paper forms. See docs/case-file.md.")


def _profile() -> dict[str, Any]:
    from dossier_station.core.profile import profile_schema

    schema = profile_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": BASE_ID + "profile.schema.json", **schema}


def _batch() -> dict[str, Any]:
    from dossier_station.core.formats.batch import BatchManifest
    from dossier_station.core.formats.schema import model_schema

    return model_schema(BatchManifest, title="dossier-station batch manifest (batch.json, dossier-batch/1)", schema_id=BASE_ID + "batch.schema.json",
                        description="A scanned batch: raw pages with their SHA-256, roles, and the separator split.")


def _package() -> dict[str, Any]:
    from dossier_station.core.formats.capture_package import CaptureManifest
    from dossier_station.core.formats.schema import model_schema

    return model_schema(CaptureManifest, title="signature capture package manifest (dossier-signature-capture/1)", schema_id=BASE_ID + "capture-package.schema.json",
                        description="manifest.json of a capture package; see docs/capture-package.md. Additive keys are allowed within /1.")


def _trajectory() -> dict[str, Any]:
    from dossier_station.core.formats.schema import model_schema
    from dossier_station.devices.emulators.trajectory import TrajectoryFile

    return model_schema(TrajectoryFile, title="pen trajectory (dossier-pen-trajectory/1)", schema_id=BASE_ID + "trajectory.schema.json",
                        description="Rows of t_ms, x, y, pressure, tip, proximity in device units, for the pen emulator.")


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "case-file": _case,
    "profile": _profile,
    "batch": _batch,
    "capture-package": _package,
    "trajectory": _trajectory,
}


def schema_text(name: str) -> str:
    return json.dumps(SCHEMAS[name](), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


@click.command("schema")
@click.argument("name", required=False, type=click.Choice(sorted(SCHEMAS)))
@click.option("-o", "--output", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write every schema as NAME.schema.json into this folder (docs/schemas/).")
def schema(name: str | None, out: Path | None) -> None:
    """Print the JSON Schema of a file format (or write them all with -o)."""
    if out is not None:
        from dossier_station.core.files import write_bytes_atomic

        out.mkdir(parents=True, exist_ok=True)
        for key in sorted(SCHEMAS) if name is None else [name]:
            write_bytes_atomic(out / f"{key}.schema.json", schema_text(key).encode("utf-8"))
            click.echo(str(out / f"{key}.schema.json"))
        return
    if name is None:
        raise click.UsageError(f"name a format ({', '.join(sorted(SCHEMAS))}) or give -o DIR")
    click.echo(schema_text(name), nl=False)


COMMANDS = [schema]
