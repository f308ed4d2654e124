"""End to end: scan on the virtual scanner (SANE pnm backend) → build → seal → export a 调卷
package → import it on a second station (its own data folder and journal) — the custody
history complete and verified at every step; tampering on the way refused with the reason.

Real components throughout: libsane's pnm backend, tesseract, the signing area's `dossier pki
serve` (certomancer over HTTP on 127.0.0.1) as TSA and for the seal, SQLite journals, the CLI
in subprocesses. Where this checkout has no `dossier seal`/`pki` yet, only the seal step is
skipped and a certomancer TSA of our own anchors the journal.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from custody_tsa.server import free_port, start_tsa

from dossier_station.core.files import sha256_file
from dossier_station.core.journal import Journal, set_station_identity

DOSSIER = [sys.executable, "-m", "dossier_station.station"]
SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pages"
REQUEST = "（2024）沪一中调字第17号"


def _run(args, env, ok=True, timeout=600):
    r = subprocess.run([*DOSSIER, *args], capture_output=True, text=True, timeout=timeout, env=env)
    if ok:
        assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    return r


def _wait_port(port, proc, what):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start")


def _signing_pki(folder: Path, env):
    """The signing area's DEMO PKI served over HTTP, or None when this checkout lacks it."""
    try:
        import dossier_station.station.cli_pki  # noqa: F401
        import dossier_station.station.signing_seal  # noqa: F401
    except ImportError:
        return None
    port = free_port()
    if subprocess.run([*DOSSIER, "pki", "init", str(folder), "--port", str(port)], capture_output=True, timeout=300, env=env).returncode:
        return None
    proc = subprocess.Popen([*DOSSIER, "pki", "serve", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if not _wait_port(port, proc, "pki serve"):
        return None
    info = json.loads((folder / "pki.json").read_text("utf-8"))
    return SimpleNamespace(url=info["tsa_url"], root_pem=folder / "root.pem", seal=folder / "seal.p12", pin=info.get("p12_password", "1234"),
                           stop=lambda: (proc.terminate(), proc.wait(timeout=20)))


def _scan(batch: Path, tmp: Path, journal_path: Path, who: dict) -> None:
    """The sample pages through SANE's pnm backend, each capture journaled as `dossier scan` does."""
    from PIL import Image

    from dossier_station.capture.batch import run_scan
    from dossier_station.devices.scanner import ScanSettings

    sane = tmp / "sane.d"
    sane.mkdir()
    (sane / "dll.conf").write_text("pnm\n")
    feed = []
    for name in ("dev_001.png", "dev_002.jpg"):
        with Image.open(SAMPLES / name) as im:
            path = tmp / f"{Path(name).stem}.pgm"
            im.convert("L").save(path)
            feed.append(path)
    old = os.environ.get("SANE_CONFIG_DIR")
    os.environ["SANE_CONFIG_DIR"] = str(sane)
    set_station_identity(who)
    try:
        with Journal(journal_path) as j:
            run_scan(batch, ScanSettings(device="pnm:0", dpi=300, mode="gray", source="flatbed"),
                     schedule={i + 1: {"filename": str(p)} for i, p in enumerate(feed)}, max_pages=len(feed),
                     on_page=lambda page: j.record("captured", str((batch / page["file"]).resolve()), page["sha256"], device="pnm:0", dpi=page.get("dpi")))
    finally:
        set_station_identity(None)
        if old is None:
            os.environ.pop("SANE_CONFIG_DIR", None)
        else:
            os.environ["SANE_CONFIG_DIR"] = old


def _profile(path: Path, station: str, operator: str, tsa, mirrors=()) -> Path:
    lines = [f'[station]\nid = "{station}"\noperator = "{operator}"\n', "[custody]\n",
             f'tsa = "{tsa.url}"\n', f'tsa_trust = "{tsa.root_pem}"\n', f"mirrors = {json.dumps([str(m) for m in mirrors])}\n",
             f'[signing]\ntrust = ["{tsa.root_pem}"]\n']
    path.write_text("".join(lines), "utf-8")
    return path


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    base = tmp_path_factory.mktemp("flow")
    a, b = base / "station-a", base / "station-b"
    a.mkdir()
    b.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DOSSIER_PROFILE", "DOSSIER_OPERATOR", "DOSSIER_STATION_ID")}
    env_a = dict(env, DOSSIER_JOURNAL=str(a / "journal.sqlite3"))
    env_b = dict(env, DOSSIER_JOURNAL=str(b / "journal.sqlite3"))
    pki = _signing_pki(base / "pki", env_a)
    tsa = pki or start_tsa(base / "tsa")
    try:
        (a / "mirror").mkdir()
        prof_a = _profile(a / "station.toml", "沪一中院-扫描站-01", "孙洋", tsa, [a / "mirror"])
        prof_b = _profile(b / "station.toml", "沪高院-档案室", "徐平", tsa)
        _scan(a / "batch", base, a / "journal.sqlite3", {"station": "沪一中院-扫描站-01", "operator": "孙洋"})
        _run(["build", str(a / "batch"), "-o", str(a / "out"), "--engine", "tesseract", "-j", "1", "--profile", str(prof_a)], env_a)
        volume = a / "out" / "batch.pdf"
        dossier = volume
        if pki:
            _run(["seal", str(volume), "-o", str(a / "sealed"), "--pkcs12", str(pki.seal), "--tsa", pki.url, "--trust", str(pki.root_pem),
                  "--level", "B-T", "-j", "1", "--profile", str(prof_a)], dict(env_a, DOSSIER_PIN=pki.pin))
            dossier = a / "sealed" / "batch.pdf"
        _run(["export", str(dossier), "--request", REQUEST, "--requester", "上海市高级人民法院 刑二庭", "--approver", "档案室 王主任",
              "-o", str(a / "pkg"), "--profile", str(prof_a)], env_a)
        yield SimpleNamespace(a=a, b=b, env_a=env_a, env_b=env_b, prof_a=prof_a, prof_b=prof_b, volume=volume, dossier=dossier,
                              sealed=bool(pki), pkg=a / "pkg", tsa=tsa)
    finally:
        tsa.stop()


def _events(journal: Path) -> list[dict]:
    with Journal(journal, create=False) as j:
        return j.events()


def test_the_build_embeds_a_custody_manifest_anchors_and_mirrors(flow):
    from dossier_station.station.custody import read_manifest

    manifest = read_manifest(flow.volume)
    events = _events(flow.a / "journal.sqlite3")
    captured = {e["sha256"] for e in events if e["kind"] == "captured"}
    assert len(manifest["pages"]) == 2 and {p["raw_sha256"] for p in manifest["pages"]} == captured
    assert all(p["captured_event"] and p["processed_event"] for p in manifest["pages"])
    assert manifest["station"] == {"station": "沪一中院-扫描站-01", "operator": "孙洋"}
    assert {e["kind"] for e in manifest["events"]} == {"captured", "processed"}
    kinds = [e["kind"] for e in events]
    assert "anchored" in kinds[kinds.index("build"):]  # the build was a milestone
    mirror = flow.a / "mirror" / "out" / flow.volume.name
    assert sha256_file(mirror) == sha256_file(flow.volume)
    if flow.sealed:
        assert read_manifest(flow.dossier) == manifest  # the seal covers the manifest embedded before it


def test_custody_verify_and_show_trace_the_dossier_from_raw_pages_to_the_seal(flow):
    verify = _run(["custody", "verify", "--dossier", str(flow.dossier), "--profile", str(flow.prof_a), "--json"], flow.env_a)
    report = json.loads(verify.stdout)
    assert report["ok"] and [p["status"] for p in report["dossier"]["pages"]] == ["captured", "captured"]
    show = json.loads(_run(["custody", "show", str(flow.dossier), "--profile", str(flow.prof_a), "--json"], flow.env_a).stdout)
    kinds = [e["kind"] for e in show["events"]]
    expected = ["captured", "processed", "build"] + (["seal"] if flow.sealed else [])
    assert [k for k in kinds if k in expected] == sorted((k for k in kinds if k in expected), key=expected.index)
    assert set(expected) <= set(kinds)
    if flow.sealed:  # the signing area's `dossier verify` records the access too
        _run(["verify", str(flow.dossier), "--trust", str(flow.tsa.root_pem), "--profile", str(flow.prof_a)], flow.env_a)
    accesses = [e for e in _events(flow.a / "journal.sqlite3") if e["kind"] in ("verified", "viewed")]
    assert {e["kind"] for e in accesses} >= {"verified", "viewed"}  # opening a dossier is recorded
    assert ("dossier verify" in {e["detail"].get("by") for e in accesses}) == flow.sealed
    assert all(e["operator"] == "孙洋" for e in accesses)


def test_one_changed_byte_in_the_dossier_is_detected(flow, tmp_path):
    changed = tmp_path / flow.dossier.name
    data = bytearray(flow.dossier.read_bytes())
    data[len(data) // 2] ^= 0x01
    changed.write_bytes(bytes(data))
    r = _run(["custody", "verify", "--dossier", str(changed), "--profile", str(flow.prof_a)], flow.env_a, ok=False)
    assert r.returncode == 4 and "no journal entry has this file's SHA-256" in r.stdout
    shutil.copy(flow.volume, tmp_path / "saved.pdf")
    try:  # the same file changed in place: the report says what it was
        flow.volume.write_bytes(bytes(data) if flow.dossier == flow.volume else flow.volume.read_bytes() + b"\n%x")
        r = _run(["custody", "verify", "--dossier", str(flow.volume), "--profile", str(flow.prof_a)], flow.env_a, ok=False)
        assert r.returncode == 4 and "changed — the journal recorded this file as assembled" in r.stdout
    finally:
        shutil.copy(tmp_path / "saved.pdf", flow.volume)


def test_the_package_is_imported_on_a_second_station_with_its_history(flow):
    pkg = json.loads((flow.pkg / "package.json").read_text("utf-8"))
    assert pkg["request"]["number"] == REQUEST and {f["name"] for f in pkg["files"]} >= {flow.dossier.name, "custody.json", "verification.json"}
    verification = json.loads((flow.pkg / "verification.json").read_text("utf-8"))
    assert verification["custody"]["ok"]
    assert verification["signatures"]["status"] == ("valid" if flow.sealed else "unsigned")
    received = flow.b / "received"
    r = _run(["import", str(flow.pkg), "--into", str(received), "--profile", str(flow.prof_b)], flow.env_b)
    assert "accepted" in r.stdout
    assert sha256_file(received / flow.dossier.name) == sha256_file(flow.dossier)
    verify = json.loads(_run(["custody", "verify", "--dossier", str(received / flow.dossier.name), "--profile", str(flow.prof_b), "--json"], flow.env_b).stdout)
    assert verify["ok"] and verify["dossier"]["matches"][0]["kind"] == "imported"
    show = json.loads(_run(["custody", "show", str(received / flow.dossier.name), "--profile", str(flow.prof_b), "--json"], flow.env_b).stdout)
    theirs = [e["kind"] for e in show["sending_station"]]
    assert {"captured", "processed", "build"} <= set(theirs) and ("seal" in theirs) == flow.sealed
    assert all(e["station"] == "沪一中院-扫描站-01" for e in show["sending_station"])
    ours = [e for e in show["events"] if e["kind"] == "imported"]
    assert ours and ours[0]["station"] == "沪高院-档案室" and ours[0]["detail"]["request"] == REQUEST
    sender = [e["kind"] for e in _events(flow.a / "journal.sqlite3")]
    assert "exported" in sender


def _tampered(flow, tmp_path, change) -> Path:
    copy = tmp_path / "pkg"
    shutil.copytree(flow.pkg, copy)
    change(copy)
    return copy


def _relist(pkg: Path, name: str) -> None:
    """What a careful forger does: fix the package listing after changing a file."""
    listing = json.loads((pkg / "package.json").read_text("utf-8"))
    for f in listing["files"]:
        if f["name"] == name:
            f["sha256"] = sha256_file(pkg / name)
    (pkg / "package.json").write_text(json.dumps(listing, ensure_ascii=False), "utf-8")


def test_a_package_changed_in_transit_is_refused_with_the_reason(flow, tmp_path):
    def flip(pkg):
        p = pkg / flow.dossier.name
        data = bytearray(p.read_bytes())
        data[1000] ^= 0x01
        p.write_bytes(bytes(data))

    def forge_history(pkg):
        h = json.loads((pkg / "custody.json").read_text("utf-8"))
        ev = next(e for e in h["events"] if not e.get("redacted") and e["kind"] == "captured")
        ev["detail_text"] = ev["detail_text"].replace("pnm:0", "another scanner")
        (pkg / "custody.json").write_text(json.dumps(h, ensure_ascii=False), "utf-8")
        _relist(pkg, "custody.json")

    def add_file(pkg):
        (pkg / "extra.pdf").write_bytes(b"%PDF-1.4 slipped in")

    cases = [(flip, "was changed in transit"), (forge_history, "was edited"), (add_file, "not in its listing")]
    for n, (change, reason) in enumerate(cases):
        pkg = _tampered(flow, tmp_path / str(n), change)
        into = tmp_path / f"into-{n}"
        r = _run(["import", str(pkg), "--into", str(into), "--profile", str(flow.prof_b)], flow.env_b, ok=False)
        assert r.returncode == 4 and "package refused" in r.stderr and reason in r.stderr, r.stderr
        assert not into.exists() or not any(into.iterdir())


def test_a_zip_package_round_trips_and_a_path_in_it_is_refused(flow, tmp_path):
    import zipfile

    z = tmp_path / "pkg.zip"
    _run(["export", str(flow.dossier), "--request", REQUEST + "-2", "--requester", "区法院", "--approver", "王主任", "-o", str(z),
          "--profile", str(flow.prof_a)], flow.env_a)
    _run(["import", str(z), "--into", str(tmp_path / "in"), "--profile", str(flow.prof_b)], flow.env_b)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(z) as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("../../outside.txt", b"x")
    r = _run(["import", str(evil), "--into", str(tmp_path / "in2"), "--profile", str(flow.prof_b)], flow.env_b, ok=False)
    assert r.returncode == 4 and "unexpected entry" in r.stderr
    assert not (tmp_path / "outside.txt").exists()
