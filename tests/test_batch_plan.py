"""Batches: a failed or empty scan is never complete, and at build time every captured page is
in the dossier or set aside with its reason, whatever batch.json says."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from dossier_station.assemble.case import Case, CaseFields, CatalogueRow
from dossier_station.capture.batch import BatchFolder, batch_state, plan_build, run_scan
from dossier_station.capture.separators import (
    Separator,
    rows_for_documents,
    split_documents,
    unassigned_pages,
)
from dossier_station.core.errors import CaseFileError, DeviceNotFoundError, ExitCode, InputFileError
from dossier_station.devices.scanner import ScanSettings

SETTINGS = ScanSettings(device="x", dpi=150, mode="gray", source="adf")


@pytest.fixture(autouse=True)
def sane_config(tmp_path_factory, monkeypatch):
    cfg = tmp_path_factory.getbasetemp() / "sane.d"
    cfg.mkdir(exist_ok=True)
    (cfg / "dll.conf").write_text("test\npnm\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(cfg))


def _batch(tmp_path, roles: list[str], seps: dict[int, tuple[str, int]] | None = None) -> BatchFolder:
    """A batch of small pages written like the scanner writes them; roles per page."""
    b = BatchFolder.create(tmp_path / "b", SETTINGS)
    for seq, role in enumerate(roles, start=1):
        path = tmp_path / "b" / "pages" / f"{seq:04d}.png"
        Image.new("L", (40, 60), 255 - seq).save(path)
        rec = {"seq": seq, "file": f"pages/{path.name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "side": "front", "dpi": 150, "role": role}
        if seps and seq in seps:
            rec["separator_case"], rec["separator_row"] = seps[seq]
        b.add(rec)
    b.data["state"] = "complete"
    b.save()
    return b


def test_a_scanner_that_does_not_exist_leaves_a_failed_batch_not_a_complete_one(tmp_path):
    with pytest.raises(DeviceNotFoundError):
        run_scan(tmp_path / "b", ScanSettings(device="nosuch:0", dpi=75, mode="gray", source="adf"))
    data = json.loads((tmp_path / "b" / "batch.json").read_text("utf-8"))
    assert data["state"] == "failed" and data["sessions"][-1]["reason"] == "failed"
    with pytest.raises(InputFileError, match="nothing to build — it holds no pages.*failed"):
        plan_build(tmp_path / "b")


def test_an_empty_or_failed_batch_is_never_complete():
    assert batch_state("end", 3) == "complete"
    assert batch_state("end", 0) == "stopped"
    assert batch_state("failed", 5) == "failed"
    assert batch_state("fault:JAMMED", 5) == "stopped"


def test_cli_scan_of_a_missing_device_then_build_both_fail_with_their_codes(tmp_path):
    env_py = [sys.executable, "-m", "dossier_station.station"]
    scan = subprocess.run([*env_py, "scan", "--batch", str(tmp_path / "b"), "--device", "nosuch:0"], capture_output=True, text=True, timeout=120)
    assert scan.returncode == ExitCode.device_not_found, scan.stderr
    build = subprocess.run([*env_py, "build", str(tmp_path / "b"), "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert build.returncode == ExitCode.input_file, build.stderr
    assert "nothing to build" in " ".join(build.stderr.split()) and "Traceback" not in build.stderr + scan.stderr
    assert not (tmp_path / "out").exists()


def test_pages_before_the_first_separator_are_kept_and_set_aside_with_their_reason(tmp_path):
    b = _batch(tmp_path, ["page", "separator", "page", "separator", "page", "blank"], {2: ("案1", 1), 4: ("案1", 2)})
    docs = split_documents(b.pages, {2: Separator("案1", 1), 4: Separator("案1", 2)})
    assert unassigned_pages(b.pages, docs) == [1]
    b.data["documents"] = [{"row": 1, "pages": [3]}, {"row": 2, "pages": [5]}]
    b.save()
    plan = plan_build(b.path)
    assert [p["seq"] for p in plan.pages] == [3, 5]
    reasons = {a["seq"]: a["reason"] for a in plan.set_aside}
    assert "before the first separator" in reasons[1]
    assert reasons[2].startswith("separator sheet") and reasons[6].startswith("blank")
    assert sorted([*(p["seq"] for p in plan.pages), *reasons]) == [1, 2, 3, 4, 5, 6]  # every page accounted for
    assert plan.documents == [{"row": 1, "pages": [0]}, {"row": 2, "pages": [1]}]


def test_a_page_file_batch_json_does_not_list_stops_the_build(tmp_path):
    b = _batch(tmp_path, ["page", "page"])
    Image.new("L", (40, 60), 0).save(b.path / "pages" / "0003.png")
    with pytest.raises(InputFileError, match=r"(?s)not in batch.json: pages/0003.png.*--resume"):
        plan_build(b.path)


@pytest.mark.parametrize(
    ("documents", "needle"),
    [
        ([{"row": 1, "pages": [1, 9]}], "names page 9, which the batch does not have"),
        ([{"row": 1, "pages": [1]}, {"row": 2, "pages": [1]}], "page 1 is in documents #1 and #2"),
        ([{"row": 1, "pages": [2]}], "a separator sheet"),
    ],
)
def test_a_split_that_disagrees_with_the_pages_is_refused(tmp_path, documents, needle):
    b = _batch(tmp_path, ["page", "separator"])
    b.data["documents"] = documents
    b.save()
    with pytest.raises(InputFileError, match=needle):
        plan_build(b.path)


def test_at_build_every_catalogue_row_must_be_present_and_no_sheet_of_another_case(tmp_path):
    case = Case(CaseFields(case_number="案1"), [CatalogueRow(1, "立案决定书", pages=1), CatalogueRow(2, "起诉意见书", pages=1)])
    mapping = rows_for_documents([{"row": 1, "pages": [0]}, {"row": 2, "pages": [1]}], case, "batch.json", ["案1"])
    assert [(r.seq, idx) for r, idx in mapping] == [(1, [0]), (2, [1])]
    with pytest.raises(CaseFileError, match="no separator was scanned for catalogue row 2"):
        rows_for_documents([{"row": 1, "pages": [0]}], case, "batch.json")
    with pytest.raises(CaseFileError, match="carries case '案9', but this is case '案1'"):
        rows_for_documents([{"row": 1, "pages": [0]}, {"row": 2, "pages": [1]}], case, "batch.json", ["案1", "案9"])
    with pytest.raises(CaseFileError, match="row 7"):
        rows_for_documents([{"row": 7, "pages": [0]}], case, "batch.json")


def test_a_regular_file_is_neither_a_new_nor_an_existing_batch(tmp_path):
    from dossier_station.core.errors import BadArgsError

    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(BadArgsError, match="is a file"):
        BatchFolder.create(f, SETTINGS)
    with pytest.raises(InputFileError, match="is a file"):
        BatchFolder.open(f)


def test_a_build_binds_the_separated_pages_and_names_those_before_the_first_separator(tmp_path, sample_dir):
    """End to end through `dossier build`: the page scanned before the first separator sheet is
    not bound, not dropped silently — the console and the report name it with its reason."""
    b = BatchFolder.create(tmp_path / "b", SETTINGS)
    text = Image.open(sample_dir / "dev_002.jpg").reduce(2).convert("L")
    for seq, role in enumerate(["page", "separator", "page"], start=1):
        path = tmp_path / "b" / "pages" / f"{seq:04d}.png"
        (text if role == "page" else Image.new("L", (400, 560), 255)).save(path, dpi=(150, 150))
        rec = {"seq": seq, "file": f"pages/{path.name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "dpi": 150, "role": role}
        if role == "separator":
            rec.update(separator_case="案1", separator_row=1, classified=True)
        b.add(rec)
    b.data.update(state="complete", documents=[{"row": 1, "pages": [3]}], unassigned=[1])
    b.save()
    case = tmp_path / "case.toml"
    case.write_text('[case]\ncase_number = "案1"\n[[rows]]\n"题名" = "起诉意见书"\n"页数" = 1\n', "utf-8")
    result = subprocess.run([sys.executable, "-m", "dossier_station.station", "build", str(b.path), "--case", str(case), "-o", str(tmp_path / "out"),
                             "--engine", "tesseract", "-j", "1", "--no-attach"], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    assert "1 captured pages are not in the dossier" in result.stdout and "pages/0001.png" in result.stdout
    report = json.loads(next((tmp_path / "out").glob("*.report.json")).read_text("utf-8"))
    assert [p["key"] for p in report["pages"]] == ["0003.png"]
    aside = {a["seq"]: a["reason"] for a in report["set_aside_at_capture"]}
    assert set(aside) == {1, 2} and "before the first separator" in aside[1]


def test_separator_sheets_without_a_chinese_font_name_the_package_to_install(monkeypatch):
    """A station without the font (no Debian path, no fontconfig on PATH) gets a clear error,
    not a traceback from Pillow. The font cannot be uninstalled in a test: its path is pointed
    elsewhere and PATH emptied, which is what such a station looks like to the code."""
    from dossier_station.capture import separators
    from dossier_station.core.errors import MissingDependencyError

    monkeypatch.setattr(separators, "FONT", "/nonexistent/uming.ttc")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("DOSSIER_FONT", raising=False)
    separators._font_file.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match="fonts-arphic-uming"):
            separators.sheet_image("案1", 1, "起诉书")
    finally:
        separators._font_file.cache_clear()
