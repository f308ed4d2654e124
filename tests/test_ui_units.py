"""The UI's own logic without a browser: the case-file writer, the edit rules, ids and paths."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier_station.assemble.case import load_case
from dossier_station.capture.batch import BatchFolder
from dossier_station.core.errors import BadArgsError, CaseFileError
from dossier_station.devices.scanner import ScanSettings
from dossier_station.ui import catalogue as cat
from dossier_station.ui.edits import apply_action, documents
from dossier_station.ui.store import NotFound, Store


def _batch(tmp_path, n: int = 5) -> BatchFolder:
    b = BatchFolder.create(tmp_path / "b", ScanSettings(device="test:0", dpi=300, mode="gray", source="adf"))
    for s in range(1, n + 1):
        b.pages.append({"seq": s, "file": f"pages/{s:04d}.png", "sha256": f"{s:064x}", "role": "page", "flags": []})
    b.save()
    return b


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.fixed_dictionaries({k: text for k in cat.FIELD_ORDER}), titles=st.lists(text, min_size=1, max_size=4))
def test_any_text_the_clerk_types_gives_a_valid_case_file_or_a_clear_error(tmp_path, fields, titles):
    form = {"fields": fields, "rows": [{"title": t} for t in titles], "documents": [[i + 1] for i in range(len(titles))]}
    text_ = cat.case_toml(form)
    tomllib.loads(text_)  # always TOML, whatever the quotes, backslashes or control characters
    path = tmp_path / "case.toml"
    path.write_text(text_, "utf-8")
    try:
        case = load_case(path)
    except CaseFileError as exc:
        assert "case.toml" in str(exc)
        return
    assert [r.title for r in case.rows] == [t.strip() for t in titles]
    assert case.fields.case_name == fields["case_name"].strip()


def test_field_errors_sit_beside_their_fields():
    form = {"fields": dict.fromkeys(cat.FIELD_ORDER, "") | {"filing_date": "2024-02-30"},
            "rows": [{"title": "", "date": "明天"}], "documents": [[1]]}
    errs = cat.field_errors(form)
    assert set(errs) == {"fields.filing_date", "rows.0.title", "rows.0.date"}


def test_page_numbers_skip_blank_pages_and_a_blank_only_row_gets_none():
    assert cat.page_numbers([[1, 2], [3, 4, 5], [6]], blank={4, 6}) == [(1, 2), (3, 4), None]


def test_moving_a_documents_first_page_aside_passes_the_start_and_the_row_text_on(tmp_path):
    b = _batch(tmp_path)
    apply_action(b, "split", "op", 3)
    b.data["catalogue"] = {"fields": {}, "rows": [{"title": "A", "start": 1}, {"title": "B", "start": 3}]}
    apply_action(b, "aside", "op", 3)
    assert documents(b) == [[1, 2], [4, 5]]
    assert cat.load_form(b)["rows"][1]["title"] == "B"
    apply_action(b, "restore", "op", 3)  # back in place, inside the document before it
    assert documents(b) == [[1, 2, 3], [4, 5]]


def test_split_join_and_reorder_rules(tmp_path):
    b = _batch(tmp_path)
    apply_action(b, "split", "op", 4)
    apply_action(b, "reorder", "op", order=[5, 4, 3, 2, 1])
    assert documents(b) == [[5], [4, 3, 2], [1]]  # a document start stays with its page
    with pytest.raises(BadArgsError):
        apply_action(b, "join", "op", 5)  # the first document has nothing before it
    with pytest.raises(BadArgsError, match="exactly once"):
        apply_action(b, "reorder", "op", order=[1, 2, 3])
    with pytest.raises(BadArgsError, match="quarter"):
        apply_action(b, "rotate", "op", 1, degrees=45)
    apply_action(b, "join", "op", 4)
    assert documents(b) == [[5, 4, 3, 2], [1]]
    assert [e["action"] for e in b.data["edits"]] == ["split", "reorder", "join"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=80))
def test_any_batch_id_names_a_folder_inside_the_store_or_nothing(tmp_path, name):
    store = Store(tmp_path / "data")
    try:
        path = store.batch_path(name)
    except NotFound:
        return
    assert path.parent == store.batches_dir and "/" not in name and not name.startswith(".")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette: "use httpx2" (a notice about the client, not about us)
        from fastapi.testclient import TestClient

    from dossier_station.ui.app import UiConfig, create_app

    c = TestClient(create_app(UiConfig(data_dir=tmp_path_factory.mktemp("ui-prop"))), base_url="http://127.0.0.1:8750")
    token = c.get("/batches").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    c.headers["X-CSRF-Token"] = token
    return c


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=2000), st.sampled_from([b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00"]).flatmap(
    lambda head: st.binary(max_size=500).map(lambda tail: head + tail))),
       suffix=st.sampled_from([".png", ".jpg", ".tif", ".pdf", ".pnm", ".exe", ""]))
def test_any_uploaded_bytes_give_a_batch_or_a_clear_refusal_never_a_crash(client, data, suffix):
    r = client.post("/api/upload", files=[("files", (f"scan{suffix}", data, "application/octet-stream"))])
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"].startswith("upload 1 (scan")
    v = client.post("/api/verify", files=[("file", (f"x{suffix}", data, "application/octet-stream"))])
    assert v.status_code in (200, 400), v.text
