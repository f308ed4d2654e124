"""The JSON Schemas in docs/schemas/ are generated from the models and kept current, and they
accept what the station accepts (checked with an independent validator, jsonschema)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from dossier_station.station.cli_schema import SCHEMAS, schema_text

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_is_the_one_the_models_generate(name):
    committed = DOCS / f"{name}.schema.json"
    assert committed.exists(), f"{committed} missing: run  dossier schema -o docs/schemas"
    assert committed.read_text("utf-8") == schema_text(name), f"{committed} is out of date: run  dossier schema -o docs/schemas"


def _validator(name: str):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DOCS / f"{name}.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_example_case_file_is_valid_and_strictness_is_in_the_schema():
    v = _validator("case-file")
    example = tomllib.loads((REPO / "examples" / "case.toml").read_text("utf-8"))
    assert not list(v.iter_errors(example))
    assert not list(v.iter_errors({"rows": [{"title": "a", "pages": 2}]}))  # English keys too
    assert list(v.iter_errors({"rows": [{"题名": "a", "页数": 2.5}]}))
    assert list(v.iter_errors({"rows": [{"题名": "a", "页码": 2}]}))
    assert list(v.iter_errors({"rows": [{"页数": 2}]}))  # 题名 / title required under either name


def test_shipped_trajectory_and_a_scanner_batch_are_valid():
    traj = json.loads((REPO / "devices" / "emulators" / "signature_wang_xiaoming.json").read_text("utf-8"))
    assert not list(_validator("trajectory").iter_errors(traj))
    batch = {"format": "dossier-batch/1", "pages": [{"seq": 1, "file": "pages/0001.png", "sha256": "0" * 64}], "state": "complete"}
    v = _validator("batch")
    assert not list(v.iter_errors(batch))
    assert list(v.iter_errors({**batch, "state": "done"}))


def test_profile_schema_refuses_unknown_tables():
    v = _validator("profile")
    assert not list(v.iter_errors({"build": {"jobs": 2}}))
    assert list(v.iter_errors({"biuld": {"jobs": 2}}))
    assert list(v.iter_errors({"build": {"jobs": "two"}}))
