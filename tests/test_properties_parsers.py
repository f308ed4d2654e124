"""Every parser of a user file, fed any bytes or any mutation of a valid file, gives a result or
a clear DossierError — never another exception (property-based, hypothesis).

Mutations are of two kinds: byte-level (cut, insert, replace, duplicate — a file cut short by a
full disk, a bad copy, a stray edit) and structural for JSON (any value at any place replaced by
any JSON value — what another system's exporter gets wrong).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier_station.assemble.case import case_from_model
from dossier_station.core.errors import DossierError
from dossier_station.core.formats.batch import parse_batch_bytes
from dossier_station.core.formats.capture_package import parse_capture_manifest
from dossier_station.core.formats.case_file import parse_case_bytes, parse_rows_csv
from dossier_station.core.profile import parse_profile_text
from dossier_station.devices.emulators.trajectory import parse_trajectory

REPO = Path(__file__).resolve().parent.parent
CASE_TOML = (REPO / "examples" / "case.toml").read_bytes()
CASE_JSON = json.dumps({"case": {"案件名称": "甲案", "犯罪嫌疑人": ["许某"], "立案时间": "2024-03-12"},
                        "rows": [{"顺序号": 1, "题名": "起诉书", "日期": "2024-01-02", "页数": 2}, {"title": "判决书", "files": ["a.png"]}]},
                       ensure_ascii=False).encode()
CSV = "顺序号,文号,责任者,题名,日期,页数,备注\n1,公刑字1号,某公安局,立案决定书,2024-01-05,2,\n2,,某公安局,讯问笔录,2024-01-06,3,复印件\n".encode()
PROFILE = b'[build]\nengine = "tesseract"\njobs = 2\nmax_pages = 150\nattach = true\n[scanner]\ndpi = 300\nmode = "gray"\nsource_names = {fi = {adf = "ADF Front"}}\n[pads]\npen_port = "/dev/ttyUSB0"\npen_baud = 19200\n'
BATCH = json.dumps({
    "format": "dossier-batch/1", "created": "2026-01-01T00:00:00+0000", "device": {"name": "test:0"}, "settings": {"dpi": 300},
    "pages": [{"seq": 1, "file": "pages/0001.png", "sha256": "a" * 64, "bytes": 10, "dpi": 300, "side": "front", "role": "separator",
               "separator_row": 1, "separator_case": "案1", "flags": []},
              {"seq": 2, "file": "pages/0002.png", "sha256": "b" * 64, "bytes": 10, "dpi": 300, "side": "front", "role": "page", "flags": []}],
    "state": "complete", "sessions": [{"started": "t", "first_seq": 1, "ended": "t", "reason": "end", "pages": 2}], "warnings": [],
    "documents": [{"row": 1, "pages": [2]}],
}).encode()
MANIFEST = json.dumps({
    "format": "dossier-signature-capture/1", "created": "t", "station": "s", "operator": "o", "signer": "王小明",
    "attempts": {"signature": 1, "fingerprint": 1},
    "signature": {"start_utc": "t", "samples": 5, "ink_samples": 3, "strokes": 1, "ink_length_mm": 1.5, "flags": []},
    "fingerprint": {"time_utc": "t"}, "devices": {"pen": {}, "fingerprint": {}},
    "parts": [{"role": r, "media_type": "x/y", "file": f"{r}.bin", "bytes": 1, "sha256": "c" * 64}
              for r in ("signature-samples", "signature-raw-stream", "signature-image", "fingerprint-image")],
}, ensure_ascii=False).encode()
TRAJECTORY = json.dumps({"format": "dossier-pen-trajectory/1", "name": "t", "units_per_mm": 100,
                         "columns": ["t_ms", "x", "y", "pressure", "tip", "proximity"],
                         "points": [[0, 100, 100, 0, 0, 1], [7.5, 120, 110, 80, 1, 1], [15, 140, 120, 0, 0, 0]]}).encode()


def _case_toml(data: bytes) -> Any:
    model, _ = parse_case_bytes(data, "case.toml")
    return case_from_model(model) if model.all_rows() else model


def _case_json(data: bytes) -> Any:
    model, _ = parse_case_bytes(data, "case.json")
    return case_from_model(model) if model.all_rows() else model


def _profile(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None  # load_profile turns this into a ProfileError before parsing (tested elsewhere)
    prof = parse_profile_text(text)
    return [prof.table(name) for name in ("build", "scanner", "pads")]


PARSERS = {
    "case-toml": (_case_toml, CASE_TOML),
    "case-json": (_case_json, CASE_JSON),
    "rows-csv": (lambda d: parse_rows_csv(d, "rows.csv"), CSV),
    "profile": (_profile, PROFILE),
    "batch": (lambda d: parse_batch_bytes(d, "batch.json"), BATCH),
    "capture-manifest": (lambda d: parse_capture_manifest(d, "manifest.json"), MANIFEST),
    "trajectory": (lambda d: parse_trajectory(d, "t.json"), TRAJECTORY),
}
JSON_FORMATS = ("case-json", "batch", "capture-manifest", "trajectory")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _result_or_clear_error(name: str, data: bytes) -> None:
    parser, _ = PARSERS[name]
    try:
        parser(data)
    except DossierError as exc:
        assert str(exc).strip() and "Traceback" not in str(exc)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_the_valid_sample_of_each_format_parses(name):
    parser, good = PARSERS[name]
    assert parser(good) is not None or name == "profile"


@pytest.mark.parametrize("name", sorted(PARSERS))
@FAST
@given(data=st.binary(max_size=400))
def test_any_bytes_give_a_result_or_a_clear_error(name, data):
    _result_or_clear_error(name, data)


@st.composite
def byte_mutations(draw: st.DrawFn, good: bytes) -> bytes:
    data = bytearray(good)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["cut", "insert", "replace", "truncate", "duplicate"]))
        if kind == "cut":
            del data[i : i + draw(st.integers(1, 20))]
        elif kind == "insert":
            data[i:i] = draw(st.sampled_from([b"2.5", b"true", b"1e400", b"-1", b'"', b"[", b"]", b"{", b"}", b"=", b"\n", b"\xff", b"\x00",
                                              b'["a","b"]', b'"\xe9\xa1\xb5\xe6\x95\xb0"', b"nan", b"9" * 30, b","]))
        elif kind == "replace":
            data[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[i:]
        else:
            j = draw(st.integers(i, min(len(data), i + 80)))
            data[j:j] = data[i:j]
    return bytes(data)


@pytest.mark.parametrize("name", sorted(PARSERS))
@FAST
@given(st.data())
def test_any_byte_mutation_of_a_valid_file_gives_a_result_or_a_clear_error(name, data):
    _result_or_clear_error(name, data.draw(byte_mutations(PARSERS[name][1])))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def json_mutations(draw: st.DrawFn, good: bytes) -> bytes:
    doc = json.loads(good)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            doc = draw(JSON_VALUES) if action == "replace" else doc
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if action == "replace":
            parent[path[-1]] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON_VALUES)
    return json.dumps(doc, ensure_ascii=False, allow_nan=True).encode()


@pytest.mark.parametrize("name", JSON_FORMATS)
@FAST
@given(st.data())
def test_any_structural_change_of_a_valid_json_file_gives_a_result_or_a_clear_error(name, data):
    _result_or_clear_error(name, data.draw(json_mutations(PARSERS[name][1])))


@FAST
@given(st.dictionaries(st.text(max_size=10), st.dictionaries(st.text(max_size=10), JSON_VALUES.filter(lambda v: v is not None), max_size=4), max_size=4))
def test_any_profile_tables_give_a_profile_or_a_clear_error(tables):
    from dossier_station.core.profile import Profile

    try:
        prof = Profile(data=tables)
        for name in tables:
            prof.section(name)
    except DossierError as exc:
        assert str(exc).strip()
