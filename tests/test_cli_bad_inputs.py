"""The CLI over a folder of bad inputs of every kind: each gives its documented exit code
(docs/schemas/README.md), a message naming the file and field, no traceback, nothing written,
the inputs untouched — and fast, because each fails before any OCR."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from dossier_station.core.errors import ExitCode

CLI = [sys.executable, "-m", "dossier_station.station"]
GOOD_CASE = '[case]\ncase_number = "案1"\n[[rows]]\n"题名" = "起诉书"\n"页数" = 1\n'
CASE_FILES = {
    "malformed.toml": b'[[rows]]\n"\xe9\xa2\x98\xe5\x90\x8d" = "a\n',
    "malformed.json": b'{"rows": [{"title": "a"',
    "latin1.toml": '[[rows]]\ntitle = "起诉书"\n'.encode()[:-1] + b"\xff\n",
    "list.json": b'[{"title": "a", "pages": 1}]',
    "huge.json": '{"rows": [{"题名": "起诉书", "页数": 1e400}]}'.encode(),
    "title_list.toml": '[[rows]]\n"题名" = ["a", "b"]\n"页数" = 1\n'.encode(),
    "half_page.toml": '[[rows]]\n"题名" = "起诉书"\n"页数" = 2.5\n'.encode(),
    "true_page.toml": '[[rows]]\n"题名" = "起诉书"\n"页数" = true\n'.encode(),
    "negative_seq.toml": '[[rows]]\n"顺序号" = -1\n"题名" = "起诉书"\n"页数" = 1\n'.encode(),
    "typo.toml": '[[rows]]\n"题名" = "起诉书"\n"页码" = 1\n'.encode(),
}
PROFILES = {
    "jobs_two.toml": b'[build]\njobs = "two"\n',
    "latin1_profile.toml": b'[build]\nengine = "\xe9"\n',
    "biuld.toml": b"[biuld]\njobs = 2\n",
    "top_level.toml": b"jobs = 2\n[build]\n",
    "max_pages.toml": b"[build]\nmax_pages = 0\n",
    "page.toml": b'[scanner]\npage = "A5"\n',
}


def _png(path: Path) -> None:
    Image.new("L", (300, 420), 255).save(path, dpi=(300, 300))


def _tree_hash(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _batch(folder: Path, pages: list[dict], documents: list[dict] | None = None, state: str = "complete") -> Path:
    (folder / "pages").mkdir(parents=True)
    for p in pages:
        _png(folder / p["file"])
        p.setdefault("sha256", hashlib.sha256((folder / p["file"]).read_bytes()).hexdigest())
    doc = {"format": "dossier-batch/1", "pages": pages, "state": state, "settings": {}, "sessions": [], "warnings": []}
    if documents is not None:
        doc["documents"] = documents
    (folder / "batch.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return folder


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "pages").mkdir()
    _png(root / "pages" / "0001.png")
    (root / "good.toml").write_text(GOOD_CASE, "utf-8")
    for name, data in {**CASE_FILES, **PROFILES}.items():
        (root / name).write_bytes(data)
    (root / "bad_trajectory.json").write_text('{"format": "dossier-pen-trajectory/1", "points": [[0, 1, 2]]', "utf-8")
    (root / "cut_batch").mkdir()
    (root / "cut_batch" / "batch.json").write_text('{"format": "dossier-batch/1", "pages": [{"seq": 1, "fi', "utf-8")
    (root / "keyless_batch").mkdir()
    (root / "keyless_batch" / "batch.json").write_text('{"format": "dossier-batch/1", "pages": [{"seq": 1}]}', "utf-8")
    _batch(root / "empty_batch", [], state="failed")
    _batch(root / "foreign_batch", [{"seq": 1, "file": "pages/0001.png", "role": "separator", "separator_case": "案9", "separator_row": 1},
                                    {"seq": 2, "file": "pages/0002.png"}], documents=[{"row": 1, "pages": [2]}])
    (root / "sane.d").mkdir()
    (root / "sane.d" / "dll.conf").write_text("test\n")
    return root


def _cases(b: Path) -> list[tuple[str, list[str], ExitCode, list[str]]]:
    out = str(b / "out")
    build = [*CLI, "build"]
    cases = [(f"case as INPUTS: {n}", [*build, str(b / n), "-o", out], ExitCode.invalid_config, [n]) for n in CASE_FILES]
    cases += [(f"--case {n}", [*build, str(b / "pages"), "--case", str(b / n), "-o", out], ExitCode.invalid_config, [n])
              for n in ("list.json", "latin1.toml", "malformed.json", "half_page.toml")]
    cases += [
        ("--case naming a folder", [*build, str(b / "pages"), "--case", str(b / "pages"), "-o", out], ExitCode.invalid_config, ["is a folder"]),
        ("--profile naming a folder", [*build, str(b / "pages"), "--profile", str(b / "pages"), "-o", out], ExitCode.invalid_config, ["is a folder"]),
        ("-j -1", [*build, str(b / "pages"), "-j", "-1", "-o", out], ExitCode.bad_args, ["--jobs"]),
        ("malformed batch.json", [*build, str(b / "cut_batch"), "-o", out], ExitCode.input_file, ["batch.json", "not valid JSON"]),
        ("batch.json missing keys", [*build, str(b / "keyless_batch"), "-o", out], ExitCode.input_file, ["batch.json", "page 1", "file"]),
        ("batch with no pages", [*build, str(b / "empty_batch"), "-o", out], ExitCode.input_file, ["nothing to build"]),
        ("separator of another case", [*build, str(b / "foreign_batch"), "--case", str(b / "good.toml"), "-o", out], ExitCode.invalid_config, ["案9"]),
        ("trajectory bad JSON", [*CLI, "pads", "emulate", "pen", "--trajectory", str(b / "bad_trajectory.json")], ExitCode.input_file, ["bad_trajectory.json"]),
        ("pads emulate --baud 0", [*CLI, "pads", "emulate", "pen", "--baud", "0"], ExitCode.bad_args, ["--baud"]),
        ("one port for pen and finger", [*CLI, "capture-signature", "--pen", "/dev/null", "--finger", "/dev/null", "--signer", "王小明", "-o", out],
         ExitCode.bad_args, ["both on /dev/null"]),
        ("pads list, no given port works", [*CLI, "pads", "list", "--no-scan", "--port", str(b / "nope"), "--port", "/dev/null"],
         ExitCode.device_not_found, ["no port given with --port works"]),
        ("scan --device nosuch:0", [*CLI, "scan", "--batch", str(b / "scan_batch"), "--device", "nosuch:0"], ExitCode.device_not_found, ["nosuch:0"]),
        ("scan --batch naming a file", [*CLI, "scan", "--batch", str(b / "good.toml"), "--device", "test:0"], ExitCode.file_access_error, ["is a file"]),
        ("profile [scanner] page", [*CLI, "scan", "--batch", str(b / "never"), "--profile", str(b / "page.toml")], ExitCode.invalid_config,
         ["[scanner]", "page", "'A5'"]),
    ]
    profile_needles = {"jobs_two.toml": ["jobs", "'two'"], "latin1_profile.toml": ["not UTF-8"], "biuld.toml": ["did you mean [build]"],
                       "top_level.toml": ["outside any table"], "max_pages.toml": ["max_pages"]}
    cases += [(f"profile {n}", [*build, str(b / "pages"), "--profile", str(b / n), "-o", out], ExitCode.invalid_config, [n, *needles])
              for n, needles in profile_needles.items()]
    return cases


def test_every_bad_input_gets_its_documented_exit_code_and_no_traceback(bad):
    before = _tree_hash(bad)
    env = dict(os.environ, SANE_CONFIG_DIR=str(bad / "sane.d"), COLUMNS="400")
    cases = _cases(bad)

    def run(case: tuple[str, list[str], ExitCode, list[str]]) -> tuple[str, subprocess.CompletedProcess[str], ExitCode, list[str]]:
        label, argv, code, needles = case
        return label, subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=bad), code, needles

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, cases))
    problems = []
    for label, result, code, needles in results:
        output = result.stdout + result.stderr
        flat = " ".join(output.split())
        if "Traceback" in output or "internal error" in output:
            problems.append(f"{label}: traceback\n{output}")
        elif result.returncode != int(code):
            problems.append(f"{label}: exit {result.returncode}, documented {int(code)}\n{output}")
        else:
            problems += [f"{label}: {needle!r} not in: {flat}" for needle in needles if needle not in flat]
        if "--max-pages" in flat and "max_pages.toml" in label:
            problems.append(f"{label}: names the command-line option, not the profile key: {flat}")
    assert not problems, "\n\n".join(problems)
    assert not (bad / "out").exists() and not (bad / "never").exists()  # nothing written for any of them
    after = _tree_hash(bad)
    assert {k: v for k, v in after.items() if not k.startswith("scan_batch")} == before  # inputs untouched
    assert json.loads((bad / "scan_batch" / "batch.json").read_text("utf-8"))["state"] == "failed"
