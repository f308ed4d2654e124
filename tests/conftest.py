"""Shared fixtures: the sample pages with ground truth, and one OCR pass over them.

The OCR pass is session-scoped: several tests check different properties (orientation,
skew, blank flags, CER) of the same real run instead of re-running the engine.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "data" / "pages"

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
# The tests' custody log, never the station's (subprocesses inherit it).
# Assigned, not setdefault: on a station where DOSSIER_JOURNAL is set, the tests must still
# never write into its real journal.
os.environ["DOSSIER_JOURNAL"] = os.path.join(tempfile.mkdtemp(prefix="dossier-tests-"), "journal.sqlite3")


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    assert SAMPLES.is_dir(), f"sample pages not found at {SAMPLES}: the checkout needs ../shared beside it"
    return SAMPLES


@pytest.fixture(scope="session")
def ground_truth(sample_dir: Path) -> dict[str, dict]:
    manifest = json.loads((sample_dir / "manifest.json").read_text("utf-8"))
    return {p["image"]: json.loads((sample_dir / p["gt"]).read_text("utf-8")) for p in manifest["pages"]}


@pytest.fixture(scope="session")
def built_dossier(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One real build of every sample page with the example case file (PP-OCR, two workers).

    Session-scoped: the page-stage tests and the dossier tests check different properties of
    this same run, so the suite pays for the OCR once.
    """
    from dossier_station.station.pipeline import BuildOptions, build_dossier

    out = tmp_path_factory.mktemp("dossier")
    # The case file names its pages folder: this is `dossier build case.toml -o out/`.
    return build_dossier(REPO / "examples" / "case.toml", None, out, options=BuildOptions(jobs=2))


@pytest.fixture(scope="session")
def ocr_outcomes(built_dossier):
    return {o.key: o for o in built_dossier.pages}
