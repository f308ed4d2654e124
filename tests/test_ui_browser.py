"""The station UI end to end in a real browser: Debian's chromium driven by playwright.

The server is the real app (uvicorn on a free loopback port); the scanner is SANE's virtual
``test`` device through a private SANE_CONFIG_DIR (as tests/test_scan.py); OCR is tesseract on
three sample pages. Screenshots of each screen go to docs/screenshots/ (linked from docs/ui.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.ui_server import browser, serve

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "docs" / "screenshots"
JAM_AT_4 = {4: {"read-return-value": "SANE_STATUS_JAMMED"}}


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("sane.d")
    (cfg / "dll.conf").write_text("test\npnm\n")
    old = os.environ.get("SANE_CONFIG_DIR")
    os.environ["SANE_CONFIG_DIR"] = str(cfg)
    data = tmp_path_factory.mktemp("ui-data")
    try:
        with serve(data, scan_schedule=JAM_AT_4, build_overrides={"engine": "tesseract", "jobs": 1}, local_operator="孙洋") as url:
            yield url, data
    finally:
        if old is None:
            os.environ.pop("SANE_CONFIG_DIR", None)
        else:
            os.environ["SANE_CONFIG_DIR"] = old


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture
def page(chromium):
    ctx = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    p = ctx.new_page()
    p.set_default_timeout(20_000)
    yield p
    ctx.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _manifest(data: Path, batch: str) -> dict:
    return json.loads((data / "batches" / batch / "batch.json").read_text("utf-8"))


def _journal(kind: str) -> list[dict]:
    from dossier_station.core.journal import Journal

    with Journal() as j:
        return [e for e in j.recent(1000) if e["kind"] == kind]


def test_scan_shows_thumbnails_as_pages_arrive_and_a_jam_offers_resume(station, page):
    url, data = station
    page.goto(f"{url}/scan")
    assert page.locator("text=扫描仪").count() == 1  # zh-CN by default, decoded as UTF-8
    page.fill("#device", "test:0")
    page.select_option("#preset", "text-grey")
    page.fill("#dpi", "75")
    page.click("#start-scan")
    page.wait_for_url("**/batch/*/scan")
    batch = page.url.rsplit("/", 2)[-2]
    page.wait_for_selector("#fault:not([hidden])")  # the virtual feeder jams before page 4
    assert page.locator("#thumbs .thumb").count() == 3
    assert "jam" in page.inner_text("#fault-message").lower() or "卡纸" in page.inner_text("#fault-message")
    assert page.get_attribute("#feeder-state", "data-state") == "fault"
    _shot(page, "scan-fault")
    page.click("#resume")
    page.wait_for_selector('#feeder-state[data-state="done"]', timeout=60_000)
    n = page.locator("#thumbs .thumb").count()
    assert n > 3 and page.inner_text("#page-count") == str(n)
    shown = page.evaluate("window.__thumbShown")
    assert len(shown) >= n - 3  # every page after the jam (at least) arrived through the event stream
    manifest = _manifest(data, batch)
    assert [p["seq"] for p in manifest["pages"]] == list(range(1, n + 1)) and manifest["state"] == "complete"
    assert len(manifest["sessions"]) == 2 and manifest["sessions"][0]["reason"] == "fault:JAMMED"
    assert {e["detail"].get("operator") for e in _journal("capture") if batch in e["subject"]} == {"孙洋"}

    # re-scan page 2 into its place: a new capture, the old one moved aside (never overwritten)
    page.goto(f"{url}/batch/{batch}/check")
    page.click('#grid .thumb[data-seq="2"]')
    page.click("button[data-act=rescan]")
    page.wait_for_selector(f'#grid .thumb[data-seq="{n + 1}"]', timeout=60_000)
    seqs = [int(s) for s in page.locator("#grid .thumb").evaluate_all("els => els.map(e => e.dataset.seq)")]
    assert seqs[:4] == [1, 2, n + 1, 3]
    pages = {p["seq"]: p for p in _manifest(data, batch)["pages"]}
    assert pages[2]["role"] == "aside" and f"rescanned-as:{n + 1}" in pages[2]["flags"] and "rescan-of:2" in pages[n + 1]["flags"]


def _upload(page, url: str, files: list[Path]) -> str:
    page.goto(f"{url}/batches")
    page.set_input_files("#upload-form input[type=file]", [str(f) for f in files])
    page.click("#upload-form button")
    page.wait_for_url("**/batch/*/check")
    return page.url.rsplit("/", 2)[-2]


def _rotation(page, seq: int) -> str:
    return page.get_attribute(f'#grid .thumb[data-seq="{seq}"] img', "style") or ""


def test_check_rotate_move_a_blank_aside_mark_and_reorder_by_keys_and_drag(station, page, sample_dir):
    url, data = station
    files = [sample_dir / n for n in ("dev_001.png", "dev_007.jpg", "dev_002.jpg", "dev_006.jpg")]
    batch = _upload(page, url, files)
    assert page.locator("#grid .thumb").count() == 4
    page.click('#grid .thumb[data-seq="1"]')
    page.keyboard.press("r")
    page.wait_for_selector('#grid .thumb[data-seq="1"] img[style*="rotate(90deg)"]')
    page.keyboard.press("ArrowRight")  # page 2 is the blank sheet
    page.keyboard.press("Delete")
    page.wait_for_selector('#grid .thumb.role-aside[data-seq="2"]')
    page.click('#grid .thumb[data-seq="4"]')
    page.keyboard.press("b")
    page.wait_for_selector('#grid .thumb.role-blank[data-seq="4"]')
    page.keyboard.press("b")  # changed its mind: not blank after all
    page.wait_for_selector('#grid .thumb.role-page[data-seq="4"]')
    with page.expect_response(lambda r: r.url.endswith("/edit") and r.request.method == "POST"):
        page.drag_and_drop('#grid .thumb[data-seq="4"]', '#grid .thumb[data-seq="3"]')
    page.wait_for_selector('#grid .thumb:nth-child(3)[data-seq="4"]')
    m = _manifest(data, batch)
    pages = {p["seq"]: p for p in m["pages"]}
    assert pages[1]["rotate"] == 90 and pages[2]["role"] == "aside" and pages[4]["role"] == "page"
    assert [p["seq"] for p in sorted(m["pages"], key=lambda p: p["order"])] == [1, 2, 4, 3]
    assert m["documents"] == [{"row": 1, "pages": [1, 4, 3]}]  # what `dossier build BATCH` will bind
    for p in m["pages"]:  # raw captures untouched
        assert hashlib.sha256((data / "batches" / batch / p["file"]).read_bytes()).hexdigest() == p["sha256"]
    edits = [e for e in _journal("ui-edit") if e["detail"].get("batch") == batch]
    assert [e["detail"]["action"] for e in edits] == ["rotate", "aside", "blank", "notblank", "reorder"]
    assert {e["detail"]["operator"] for e in edits} == {"孙洋"} and {e["operator"] for e in edits} == {"孙洋"}
    page.check("#flagged-only")
    assert page.locator("#grid .thumb:visible").count() == 1
    page.uncheck("#flagged-only")
    page.click('#grid .thumb[data-seq="1"]')
    _shot(page, "check")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/batch/{batch}/page/1")
    assert page.locator("#large-img").count() == 1


@pytest.fixture
def small_pages(sample_dir, tmp_path):
    """Two quarters of a real sample page and a blank sheet: enough for OCR to find text, small
    enough that tesseract reads them in seconds on a busy 2-core machine."""
    from PIL import Image

    out = []
    with Image.open(sample_dir / "dev_001.png") as im:
        for i, box in enumerate(((200, 150, 1440, 1904), (200, 1754, 1440, 3508))):  # upright quarter pages
            path = tmp_path / f"part{i + 1}.png"
            im.crop(box).save(path, dpi=(300, 300))
            out.append(path)
    blank = tmp_path / "blank.png"
    Image.new("L", (1240, 1754), 255).save(blank, dpi=(300, 300))
    return out + [blank]


def test_catalogue_assigns_pages_to_rows_recomputes_page_numbers_and_builds_the_same_dossier(station, page, small_pages, tmp_path):
    url, data = station
    batch = _upload(page, url, small_pages)
    page.click('#grid .thumb[data-seq="3"]')
    page.click("button[data-act=split]")
    page.wait_for_selector('#grid .thumb.doc-start[data-seq="3"]')
    page.goto(f"{url}/batch/{batch}/catalogue")
    rows = page.locator("tr.catrow")
    assert rows.count() == 2
    assert [rows.nth(i).locator(".pageno").inner_text() for i in range(2)] == ["1–2", "3"]
    with page.expect_response(lambda r: r.url.endswith("/assign")):
        page.drag_and_drop('#strip .thumb[data-seq="2"]', 'tr.catrow[data-row="1"]')  # row 2 now starts at image 2
    page.wait_for_selector('tr.catrow[data-row="1"] .pageno:text-is("2–3")')
    assert rows.nth(0).locator(".pageno").inner_text() == "1" and rows.nth(1).locator(".count").inner_text() == "2"
    page.fill('input[name="fields.case_name"]', "许某寻衅滋事案")
    page.fill('input[name="fields.case_number"]', "（2024）沪0101刑初256号")
    page.fill('input[name="rows.0.title"]', "起诉书")
    page.fill('input[name="rows.0.date"]', "2024-13-01")
    page.fill('input[name="rows.1.title"]', "讯问笔录")
    page.click("#save-catalogue")
    page.wait_for_selector('#save-state[data-ok="no"]')
    assert "2024-13-01" in page.inner_text('[data-err="rows.0.date"]')
    assert not (data / "batches" / batch / "case.toml").exists()
    _shot(page, "catalogue-invalid")
    page.fill('input[name="rows.0.date"]', "2024-03-12")
    page.click("#save-catalogue")
    page.wait_for_selector('#save-state[data-ok="yes"]')
    for which in ("cover", "catalogue", "back"):  # the printed sheets, drawn by the writer's own code
        page.wait_for_function(f"() => document.querySelector('img[data-which={which}]').naturalWidth > 0")
    _shot(page, "catalogue")
    from dossier_station.assemble.case import load_case

    case = load_case(data / "batches" / batch / "case.toml")
    assert [(r.title, r.pages, r.date) for r in case.rows] == [("起诉书", 1, "20240312"), ("讯问笔录", 2, "")]

    page.goto(f"{url}/batch/{batch}/build")
    page.select_option("#engine", "tesseract")
    page.click("#start-build")
    page.wait_for_selector("a.volume", timeout=120_000)
    assert "blank 1" in page.inner_text("#qc")  # the blank sheet was found and set aside
    assert "build" in page.inner_text("#custody")
    _shot(page, "build")
    href = page.get_attribute("a.volume", "href")
    pdf = page.request.get(url + href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body()[:5] == b"%PDF-"
    viewed = [e for e in _journal("viewed") if e["detail"].get("by") == "dossier ui"]
    assert viewed and viewed[-1]["operator"] == "孙洋"  # opening a dossier is a custody event
    out = data / "batches" / batch / "out"
    report = json.loads(next(out.glob("*.report.json")).read_text("utf-8"))
    assert [(r["seq"], r["first"], r["last"]) for r in report["volumes"][0]["rows"]] == [(1, 1, 1), (2, 2, 2)]  # blank not numbered

    # `dossier build BATCH/case.toml` resolves the same pages into the same rows (no second OCR run)
    from dossier_station.assemble.case import load_case as load
    from dossier_station.station.pipeline import _resolve_inputs, _row_indices

    inputs = _resolve_inputs(data / "batches" / batch / "case.toml", None)
    mapping = _row_indices(load(data / "batches" / batch / "case.toml"), inputs)
    assert [(row.seq, [inputs.sources[i].path.name for i in idx]) for row, idx in mapping] == [(1, ["0001.png"]), (2, ["0002.png", "0003.png"])]
    assert [s.sha256 for s in inputs.sources] == [p["sha256"] for p in report["pages"]]

    # verify: the volume as built is in the custody journal; the same file with one byte changed is not
    page.goto(f"{url}/batch/{batch}/build")
    page.click("a.verify-volume")
    page.wait_for_selector("#verify-report li")
    assert page.locator('#verify-report li.ok[data-label="custody"]').count() == 1
    assert page.locator("#verify-report li.bad >> text=carries no signature").count() == 1  # not signed yet: red
    body = bytearray(pdf.body())
    body[len(body) // 2] ^= 0x01
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(body))
    page.goto(f"{url}/verify")
    page.set_input_files('#verify-form input[name="file"]', str(tampered))
    page.click("#verify-form button")
    page.wait_for_selector('#verify-report[data-ok="no"] li')
    assert page.locator('#verify-report li.bad[data-label="custody"]').count() == 1
    assert "tampered.pdf" in page.inner_text("#verify-report") and str(data) not in page.inner_text("#verify-report")
    _shot(page, "verify")
    assert any(e["detail"].get("by") == "dossier ui" for e in _journal("verified"))

    page.goto(f"{url}/batch/{batch}/check")  # the build's findings are now flags on the thumbnails
    assert "blank-found" in page.inner_text('#grid .thumb[data-seq="3"]')
    page.check("#flagged-only")
    _shot(page, "check-after-build")
    page.goto(f"{url}/batch/{batch}/catalogue")  # after the build: the blank page is not numbered
    assert page.locator('tr.catrow[data-row="1"] .pageno').inner_text() == "2"
    page.goto(f"{url}/batch/{batch}/page/1")
    page.wait_for_selector("#textlayer span")
    assert page.locator("#textlayer span").count() > 3
    page.locator("#textlayer span").nth(2).hover()
    assert page.inner_text("#hovered").strip()
    _shot(page, "page-text")


def test_demo_mode_feeds_the_sample_pages_through_the_virtual_pnm_scanner(chromium, tmp_path):
    with serve(tmp_path / "demo-data", demo=True, local_operator="demo") as url:
        ctx = chromium.new_context(viewport={"width": 1366, "height": 768})
        page = ctx.new_page()
        page.goto(f"{url}/scan")
        assert page.input_value("#device") == "pnm:0" and page.input_value("#source") == "flatbed"
        page.click("#start-scan")
        page.wait_for_url("**/batch/*/scan")
        page.wait_for_selector('#feeder-state[data-state="done"]', timeout=120_000)
        assert page.locator("#thumbs .thumb").count() == 12
        _shot(page, "scan")
        page.click("text=EN")  # English is one click away
        page.wait_for_selector("text=Scanned")
        assert page.locator("nav >> text=Check").count() == 1
        ctx.close()


def test_queues_show_a_failed_watch_job_with_its_reason_and_retry_puts_it_back(chromium, tmp_path):
    import subprocess
    import sys

    hot, out = tmp_path / "hot", tmp_path / "out"
    hot.mkdir()
    profile = tmp_path / "station.toml"
    profile.write_text(f'[[watch.folders]]\nname = "前台扫描"\nhot = "{hot}"\noutput = "{out}"\nstable = 0.2\n', "utf-8")
    bad = b"\x89PNG\r\n\x1a\n but the rest is missing"
    (hot / "scan-0001.png").write_bytes(bad)
    run = subprocess.run([sys.executable, "-m", "dossier_station.station", "watch", "run", "--profile", str(profile), "--once"],
                         capture_output=True, text=True, timeout=120)
    assert "failed 1" in run.stderr, run.stderr
    with serve(tmp_path / "ui-data", profile=str(profile), local_operator="徐平") as url:
        ctx = chromium.new_context(viewport={"width": 1366, "height": 768})
        page = ctx.new_page()
        page.goto(f"{url}/queues")
        assert page.inner_text(".queue .failed") == "1" and page.inner_text(".queue .queued") == "0"
        assert "scan-0001.png" in page.inner_text(".failed-job") and "truncated" in page.inner_text(".failed-job")
        _shot(page, "queues")
        page.click("button.retry")
        page.wait_for_selector('.queue .queued:text-is("1")')
        assert (hot / "scan-0001.png").read_bytes() == bad  # the original, byte for byte
        assert any(e["detail"].get("operator") == "徐平" for e in _journal("ui-retry"))
        ctx.close()


def test_a_batch_left_stopped_by_a_restart_offers_resume(station, page):
    """The server restarted after a jam: the batch says 'stopped', the scan screen still offers Resume."""
    from dossier_station.capture.batch import run_scan
    from dossier_station.devices.scanner import ScanSettings

    url, data = station
    run_scan(data / "batches" / "left-stopped", ScanSettings(device="test:0", dpi=75, mode="gray", source="adf"), schedule=JAM_AT_4)
    page.goto(f"{url}/batch/left-stopped/scan")
    assert page.locator("#fault:not([hidden]) #resume").count() == 1 and page.locator("#thumbs .thumb").count() == 3
    page.click("#resume")
    page.wait_for_selector('#feeder-state[data-state="done"]', timeout=60_000)
    assert _manifest(data, "left-stopped")["state"] == "complete"
