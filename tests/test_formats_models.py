"""One typed model per user file: strict types, both key languages, unknown keys refused with
the nearest known name, and errors that name file, row and field."""

from __future__ import annotations

import hashlib
import json

import pytest

from dossier_station.assemble.case import load_case
from dossier_station.core.errors import CaseFileError, InputFileError
from dossier_station.core.formats.batch import parse_batch_bytes
from dossier_station.core.formats.capture_package import (
    parse_capture_manifest,
    read_capture_package,
)
from dossier_station.core.formats.case_file import parse_case_bytes, parse_rows_csv
from dossier_station.devices.emulators.trajectory import load_trajectory, parse_trajectory


def _case(text: str, name: str = "case.toml"):
    return parse_case_bytes(text.encode("utf-8"), name)[0]


def _case_error(text: str, name: str = "case.toml") -> str:
    with pytest.raises(CaseFileError) as err:
        parse_case_bytes(text.encode("utf-8"), name)
    return str(err.value)


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ('[[rows]]\n"顺序号" = 2\n"题名" = "起诉书"\n"页数" = 2.5\n', ["catalogue row 2 (起诉书)", "页数", "2.5", "expected int"]),
        ('[[rows]]\n"题名" = "起诉书"\n"页数" = true\n', ["catalogue row 1 (起诉书)", "页数", "True"]),
        ('[[rows]]\n"题名" = ["a", "b"]\n"页数" = 1\n', ["catalogue row 1", "题名", "expected str"]),
        ('[[rows]]\n"顺序号" = -3\n"题名" = "a"\n', ["顺序号", "-3", "from 1 up"]),
        ('[[rows]]\n"题名" = "a"\n"页码" = 1\n', ["unknown key '页码'", "did you mean '页数'"]),
        ('[cases]\ncase_name = "x"\n', ["unknown key 'cases'", "did you mean 'case'"]),
        ('[case]\n"案件名称" = 3\n[[rows]]\ntitle = "a"\n', ["[case]", "案件名称", "expected str"]),
        ('[[rows]]\ntitle = "a"\ndate = 2024-13-01\n', ["not valid TOML"]),
    ],
)
def test_case_file_types_are_strict_and_errors_name_row_and_field(body, needles):
    message = _case_error(body)
    for needle in needles:
        assert needle in message, message


def test_json_case_file_numbers_beyond_float_and_lists_are_refused():
    assert "页数" in _case_error('{"rows": [{"题名": "a", "页数": 1e400}]}', "case.json")
    assert "is a list, not an object" in _case_error('[{"题名": "a"}]', "case.json")
    assert "not valid JSON" in _case_error('{"rows": [', "case.json")


def test_case_file_numbers_written_as_numbers_are_kept_as_written(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text('[case]\n"全宗号" = 1\n"案卷号" = 256\n[[rows]]\n"题名" = "a"\n"文号" = 7\n"页数" = 1\n', "utf-8")
    case = load_case(p)
    assert (case.fields.fonds_no, case.fields.file_no, case.rows[0].doc_no) == ("1", "256", "7")


def test_toml_dates_and_text_dates_give_the_same_row():
    a = _case('[[rows]]\ntitle = "a"\ndate = 2024-03-02\n')
    b = _case('[[rows]]\n"题名" = "a"\n"日期" = "2024年3月2日"\n')
    assert a.rows[0].title == b.rows[0].title


def test_case_file_that_is_not_utf8_or_a_folder_is_refused(tmp_path):
    with pytest.raises(CaseFileError, match="not UTF-8"):
        parse_case_bytes(b'[[rows]]\ntitle = "\xc4\xe3"\n\xff', "case.toml")
    with pytest.raises(CaseFileError, match="is a folder"):
        load_case(tmp_path)


def test_csv_rows_go_through_the_same_model():
    rows = parse_rows_csv("顺序号,题名,页数\n1,立案决定书,2\n2,讯问笔录,3\n".encode(), "rows.csv")
    assert [(r.seq, r.title, r.pages) for r in rows] == [(1, "立案决定书", 2), (2, "讯问笔录", 3)]
    with pytest.raises(CaseFileError, match=r"line 2.*页数.*'2\.5'"):
        parse_rows_csv("题名,页数\n立案决定书,2.5\n".encode(), "rows.csv")
    with pytest.raises(CaseFileError, match="unknown key '页码'"):
        parse_rows_csv("题名,页码\n立案决定书,2\n".encode(), "rows.csv")


GOOD_BATCH = {
    "format": "dossier-batch/1", "created": "2026-01-01T00:00:00+0000", "device": None, "settings": {"dpi": 300},
    "pages": [{"seq": 1, "file": "pages/0001.png", "sha256": "a" * 64, "dpi": 300, "side": "front", "role": "page", "flags": []}],
    "state": "complete", "sessions": [], "warnings": [],
}


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (lambda d: d.pop("pages"), ["pages is required but missing"]),
        (lambda d: d.pop("state"), ["state is required"]),
        (lambda d: d["pages"][0].pop("file"), ["page 1", "file is required"]),
        (lambda d: d["pages"][0].update(seq="1"), ["seq", "expected int"]),
        (lambda d: d["pages"][0].update(file="../../etc/passwd"), ["page 1", "inside the batch folder"]),
        (lambda d: d["pages"][0].update(sha256="xyz"), ["not a SHA-256"]),
        (lambda d: d["pages"][0].update(rol="page"), ["unknown key 'rol'", "did you mean 'role'"]),
        (lambda d: d["pages"].append(dict(d["pages"][0])), ["seq 1 is listed twice"]),
        (lambda d: d.update(state="done"), ["state", "'done'"]),
        (lambda d: d.update(format="dossier-batch/9"), ["dossier-batch/9"]),
    ],
)
def test_batch_manifest_errors_name_batch_json_and_the_page(change, needles):
    doc = json.loads(json.dumps(GOOD_BATCH))
    change(doc)
    with pytest.raises(InputFileError) as err:
        parse_batch_bytes(json.dumps(doc).encode(), "b/batch.json")
    assert "b/batch.json" in str(err.value)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_batch_manifest_cut_short_is_an_input_error():
    with pytest.raises(InputFileError, match="not valid JSON"):
        parse_batch_bytes(json.dumps(GOOD_BATCH).encode()[:-20], "batch.json")


def _package(tmp_path):
    parts = []
    for role, name, media in (("signature-samples", "signature.json", "application/json"), ("signature-raw-stream", "signature.isdv4", "application/octet-stream"),
                              ("signature-image", "signature.png", "image/png"), ("fingerprint-image", "fingerprint.png", "image/png")):
        data = f"{role} bytes".encode()
        (tmp_path / name).write_bytes(data)
        parts.append({"role": role, "media_type": media, "file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"format": "dossier-signature-capture/1", "created": "2026-11-22T16:05:12+08:00", "station": "审讯室-3", "operator": "张警官",
                "signer": "王小明", "attempts": {"signature": 1, "fingerprint": 2},
                "signature": {"start_utc": "t", "samples": 513, "ink_samples": 319, "strokes": 15, "ink_length_mm": 118.58, "flags": []},
                "fingerprint": {"time_utc": "t"}, "devices": {"pen": {"baud": 19200}, "fingerprint": {"baud": 57600}}, "parts": parts,
                "future_optional_key": "kept: additive keys are allowed within /1"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return manifest


def test_capture_package_is_read_with_every_part_checked(tmp_path):
    _package(tmp_path)
    assert read_capture_package(tmp_path).signer == "王小明"
    (tmp_path / "signature.png").write_bytes(b"changed")
    with pytest.raises(InputFileError, match="differs from its manifest"):
        read_capture_package(tmp_path)


def test_capture_manifest_refuses_wrong_types_a_later_major_version_and_missing_parts(tmp_path):
    manifest = _package(tmp_path)
    bad = dict(manifest, attempts={"signature": True, "fingerprint": 1})
    with pytest.raises(InputFileError, match="attempts.signature"):
        parse_capture_manifest(json.dumps(bad).encode())
    with pytest.raises(InputFileError, match="newer than this station reads"):
        parse_capture_manifest(json.dumps(dict(manifest, format="dossier-signature-capture/2")).encode())
    with pytest.raises(InputFileError, match="no fingerprint-image part"):
        parse_capture_manifest(json.dumps(dict(manifest, parts=manifest["parts"][:3])).encode())
    escape = [dict(manifest["parts"][0], file="../x")] + manifest["parts"][1:]
    with pytest.raises(InputFileError, match="file name inside the package"):
        parse_capture_manifest(json.dumps(dict(manifest, parts=escape)).encode())


def test_shipped_trajectory_loads_and_bad_ones_name_the_point():
    assert len(load_trajectory().points) > 100
    with pytest.raises(InputFileError, match="not valid JSON"):
        parse_trajectory(b'{"format": ', "t.json")
    with pytest.raises(InputFileError, match=r"point 2 x"):
        parse_trajectory(b'{"format": "dossier-pen-trajectory/1", "points": [[0,1,1,0,0,1],[5,1.5,1,0,0,1]]}', "t.json")
    with pytest.raises(InputFileError, match="back in time"):
        parse_trajectory(b'{"format": "dossier-pen-trajectory/1", "points": [[5,1,1,0,0,1],[1,1,1,0,0,1]]}', "t.json")


def test_one_field_written_under_two_names_is_refused():
    assert "title and 题名 name the same field" in _case_error('[[rows]]\ntitle = "a"\n"题名" = "b"\n')
    assert "[case]: 案件名称 and 案由" in _case_error('[case]\n"案由" = "x"\n"案件名称" = "y"\n[[rows]]\ntitle = "a"\n')
