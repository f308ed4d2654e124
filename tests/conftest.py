"""Shared fixtures: the sample pages with ground truth, and one OCR pass over them.

The OCR pass is session-scoped: several tests check different properties (orientation,
skew, blank flags, CER) of the same real run instead of re-running the engine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "data" / "pages"

os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    assert SAMPLES.is_dir(), f"sample pages not found at {SAMPLES}: the checkout needs ../shared beside it"
    return SAMPLES


@pytest.fixture(scope="session")
def ground_truth(sample_dir: Path) -> dict[str, dict]:
    manifest = json.loads((sample_dir / "manifest.json").read_text("utf-8"))
    return {p["image"]: json.loads((sample_dir / p["gt"]).read_text("utf-8")) for p in manifest["pages"]}


@pytest.fixture(scope="session")
def ocr_outcomes(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Every sample page through the real page stage (PP-OCR engine, two workers)."""
    from ocr.loader import list_input_files, scan_inputs
    from station.pages import process_pages

    sources = scan_inputs(list_input_files(sample_dir))
    work = tmp_path_factory.mktemp("ocr-work")
    return {o.key: o for o in process_pages(sources, work, engine="rapidocr", jobs=2)}
