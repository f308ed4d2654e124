"""The verify screen takes a transfer package (.zip from ``dossier export``), check by check.

Real components throughout: ``dossier build`` (tesseract, one quarter of a sample page) and
``dossier export … -o PKG.zip`` as subprocesses on the tests' own journal, the real app on a
loopback port, Debian's chromium driven by playwright. The tampered package is the same zip
with one byte of the dossier changed inside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.ui_server import browser, serve

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "docs" / "screenshots"
DOSSIER = str(Path(sys.executable).with_name("dossier"))


@pytest.fixture
def package(sample_dir, tmp_path) -> Path:
    from PIL import Image

    pages = tmp_path / "pages"
    pages.mkdir()
    with Image.open(sample_dir / "dev_001.png") as im:
        im.crop((200, 150, 1440, 1904)).save(pages / "p1.png", dpi=(300, 300))
    env = os.environ | {"DOSSIER_PROFILE": ""}
    subprocess.run([DOSSIER, "build", str(pages), "-o", str(tmp_path / "out"), "--engine", "tesseract", "-j", "1"],
                   check=True, env=env, capture_output=True, timeout=300)
    (volume,) = (tmp_path / "out").glob("*.pdf")
    pkg = tmp_path / "调卷包.zip"
    subprocess.run([DOSSIER, "export", str(volume), "--request", "（2024）沪调字第3号", "--requester", "区法院",
                    "--approver", "王主任", "-o", str(pkg)], check=True, env=env, capture_output=True, timeout=120)
    return pkg


def _tamper(pkg: Path, out: Path) -> None:
    """The same zip, the dossier's bytes with one byte changed (in its middle)."""
    with zipfile.ZipFile(pkg) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".pdf"):
                i = len(data) // 2
                data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
            dst.writestr(info, data)


def _verify(page, url: str, file: Path) -> None:
    page.goto(f"{url}/verify")
    page.set_input_files('#verify-form input[name="file"]', str(file))
    page.click("#verify-form button")
    page.wait_for_selector('#verify-report[data-ok="yes"] li, #verify-report[data-ok="no"] li')


def test_a_transfer_package_verifies_green_and_one_changed_byte_turns_it_red_with_the_reason(package, tmp_path):
    tampered = tmp_path / "tampered.zip"
    _tamper(package, tampered)
    data = tmp_path / "ui-data"
    with serve(data, local_operator="孙洋") as url, browser() as b:
        ctx = b.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        try:
            _verify(page, url, package)
            assert page.get_attribute("#verify-report", "data-ok") == "yes", page.inner_text("#verify-report")
            for label in ("package", "chain", "anchors", "manifest", "signatures"):
                assert page.locator(f'#verify-report li.ok[data-label="{label}"]').count() == 1, label
            assert "调卷包.zip" in page.inner_text("#verify-report h2")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "verify-package.png"))

            _verify(page, url, tampered)
            assert page.get_attribute("#verify-report", "data-ok") == "no"
            bad = page.inner_text('#verify-report li.bad[data-label="package"]')
            assert "changed in transit" in bad and ".pdf" in bad, bad
            text = page.inner_text("#verify-report")
            assert str(data) not in text and "/tmp" not in text  # no server path shown to the browser
            page.screenshot(path=str(SHOTS / "verify-package-tampered.png"))
        finally:
            ctx.close()
    assert not any((data / "verify").iterdir())  # the uploads were removed after the check
    from dossier_station.core.journal import Journal

    with Journal() as j:
        seen = [e["detail"]["accepted"] for e in j.recent(1000) if e["kind"] == "verified" and e["detail"].get("action") == "verify-package"]
    assert seen[-2:] == [True, False]  # each check is a custody event


def test_a_file_neither_pdf_nor_zip_is_refused_and_a_damaged_zip_is_red_with_the_reason(tmp_path):
    import httpx

    with serve(tmp_path / "ui-data", local_operator="孙洋") as url, httpx.Client(base_url=url) as c:
        token = c.get("/verify").text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        r = c.post("/api/verify", files={"file": ("notes.txt", b"hello")}, headers={"X-CSRF-Token": token})
        assert r.status_code >= 400
        assert "neither a PDF nor a transfer package" in r.text
        r = c.post("/api/verify", files={"file": ("junk.zip", b"not a zip at all")}, headers={"X-CSRF-Token": token})
        assert r.status_code == 200 and r.json()["ok"] is False  # a damaged package: red, with the reason
        assert "not a readable zip" in r.json()["checks"][0]["detail"] and "junk.zip" in r.json()["checks"][0]["detail"]


def test_any_bytes_uploaded_as_a_package_give_a_red_report_never_a_traceback(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from dossier_station.ui.verifying_package import verify_package

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.binary(max_size=2000), st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)))
    def check(data: bytes) -> None:
        path = tmp_path_factory.mktemp("pkg") / "upload.zip"
        path.write_bytes(data)
        report = verify_package(path, "x.zip", None, None, "孙洋")
        assert report["ok"] is False and report["checks"][0]["label"] == "package" and not report["checks"][0]["ok"]
        assert str(path) not in str(report)

    check()
