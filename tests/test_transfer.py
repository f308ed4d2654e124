"""Transfer packages without a build: a small real PDF journaled as a volume on station A, no TSA
(the sender had none: the package says so and is still accepted), and the refusals."""

from __future__ import annotations

import json

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier_station.core.custody import CustodyError, CustodySettings
from dossier_station.core.errors import FileAccessError
from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Journal, set_station_identity
from dossier_station.station.transfer import export_package
from dossier_station.station.transfer_import import check_package, import_package

A = CustodySettings("station-a", "孙洋")
B = CustodySettings("station-b", "徐平")


@pytest.fixture
def volume(tmp_path, monkeypatch):
    monkeypatch.delenv("DOSSIER_PROFILE", raising=False)
    monkeypatch.setattr("dossier_station.core.profile.LOADED", [])
    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "a.sqlite3"))
    set_station_identity(A.identity)
    pdf = pikepdf.new()
    pdf.add_blank_page()
    path = tmp_path / "out" / "（2024）沪0101刑初256号.pdf"
    path.parent.mkdir()
    pdf.save(path)
    with Journal() as j:
        j.record("captured", "/elsewhere/other-case/0001.png", "1" * 64)  # another case: must not leak
        j.record("assembled", str(path.resolve()), sha256_file(path), pages=[])
        j.record("captured", "/elsewhere/other-case/0002.png", "2" * 64)
    yield path
    set_station_identity(None)


def _export(volume, out):
    return export_package(volume, out, request="（2024）沪调字第3号", requester="区法院", approver="王主任", settings=A)


def _as_b(monkeypatch, tmp_path):
    monkeypatch.setenv("DOSSIER_JOURNAL", str(tmp_path / "b.sqlite3"))
    set_station_identity(B.identity)


def test_export_then_import_without_a_tsa_is_accepted_with_a_note(volume, tmp_path, monkeypatch):
    r = _export(volume, tmp_path / "pkg")
    assert r["anchors"] == 0 and r["signatures"] in ("unsigned", "not checked")
    history = json.loads((tmp_path / "pkg" / "custody.json").read_text("utf-8"))
    assert "/elsewhere/other-case/0002.png" not in json.dumps(history, ensure_ascii=False)  # unrelated: redacted
    _as_b(monkeypatch, tmp_path)
    got = import_package(tmp_path / "pkg", tmp_path / "in", B)
    assert "not covered by an anchor" in got["note"]
    with Journal() as j:
        imported = [e for e in j.events() if e["kind"] == "imported"]
    assert imported[0]["station"] == "station-b" and imported[0]["detail"]["from_station"] == "station-a"


def test_export_refuses_a_changed_dossier_and_an_existing_target(volume, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(FileAccessError, match="already exists"):
        _export(volume, tmp_path / "taken")
    volume.write_bytes(volume.read_bytes() + b"\n% appended")
    with pytest.raises(CustodyError, match="custody does not hold"):
        _export(volume, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_import_never_replaces_a_different_file(volume, tmp_path, monkeypatch):
    _export(volume, tmp_path / "pkg")
    _as_b(monkeypatch, tmp_path)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / volume.name).write_bytes(b"someone else's file")
    with pytest.raises(FileAccessError, match="already here"):
        import_package(tmp_path / "pkg", tmp_path / "in", B)
    assert (tmp_path / "in" / volume.name).read_bytes() == b"someone else's file"


def test_a_refused_import_is_recorded(volume, tmp_path, monkeypatch):
    _export(volume, tmp_path / "pkg")
    (tmp_path / "pkg" / volume.name).write_bytes(b"%PDF-1.7 swapped")
    _as_b(monkeypatch, tmp_path)
    with pytest.raises(CustodyError, match="changed in transit"):
        import_package(tmp_path / "pkg", tmp_path / "in", B)
    with Journal() as j:
        refused = [e for e in j.events() if e["kind"] == "verified" and e["detail"].get("accepted") is False]
    assert refused and "changed in transit" in " ".join(refused[0]["detail"]["reasons"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(st.sampled_from(
    ["format", "files", "dossier", "request"]), st.none() | st.integers() | st.text(max_size=5) | st.lists(st.text(max_size=3), max_size=2))))
def test_any_package_json_is_refused_clearly(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("pkg")
    (folder / "package.json").write_bytes(data)
    with pytest.raises(CustodyError) as err:
        check_package(folder, folder, B, None)
    assert "package refused" in str(err.value)


@pytest.mark.filterwarnings("ignore:Duplicate name")  # making the bad zip is the point
def test_a_zip_with_a_file_twice_is_refused(volume, tmp_path, monkeypatch):
    import zipfile

    _export(volume, tmp_path / "pkg.zip")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(tmp_path / "pkg.zip") as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(volume.name, b"%PDF-1.7 a second, different copy")  # which one would a reader open?
    _as_b(monkeypatch, tmp_path)
    with pytest.raises(CustodyError, match="unexpected entry"):
        import_package(evil, tmp_path / "in", B)
    assert import_package(tmp_path / "pkg.zip", tmp_path / "in", B)["sha256"] == sha256_file(volume)
