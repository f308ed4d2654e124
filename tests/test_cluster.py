"""The worker pool on a real Redis with real `dossier worker` processes (tesseract, small pages).

What is pinned: a 2-worker build is the dossier a local build makes; a worker SIGKILLed mid-build
or a Redis restart mid-build costs a resend, not a page; each page appears exactly once; an
unreachable broker is said at once (or falls back); the broker password is never printed; a
tampered page and a pickle message are refused; `dossier workers status` tells who does what.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pikepdf
import pytest
from test_cluster_helpers import DOSSIER, PASSWORD, RedisServer, Worker, needs_redis, small_pages

from dossier_station.station.cluster.config import SECRET_ENV

pytestmark = needs_redis
SECRET = b"centre-hmac-key-for-the-tests-0001"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """One password-protected Redis and two workers (concurrency 1 each: equal to 2 local cores).

    Station and workers share an HMAC key ($DOSSIER_CLUSTER_SECRET): every task of these tests
    is signed, and the workers refuse an unsigned one.
    """
    folder = tmp_path_factory.mktemp("pool")
    server = RedisServer(folder / "redis", password=PASSWORD)
    server.start()
    workers: list[Worker] = []
    env = pytest.MonkeyPatch()
    env.setenv(SECRET_ENV, SECRET.decode())
    try:
        (folder / "share").mkdir()
        workers = [Worker(server.url, name, folder, "--shared", str(folder / "share")) for name in ("wa", "wb")]
        client = server.client()
        for w in workers:
            w.wait_ready(client)
        yield server, workers, folder
    finally:
        for w in workers:
            w.stop()
        server.stop()
        env.undo()


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DOSSIER, *args], capture_output=True, text=True, timeout=timeout)


def _page_streams(pdf_path: Path) -> list[tuple[bytes, list[bytes]]]:
    """Per page: the content stream (image placement + invisible text) and its image bytes."""
    pages = []
    with pikepdf.open(pdf_path) as pdf:
        for page in pdf.pages:
            images = [bytes(im.read_raw_bytes()) for im in page.get_images().values()]
            pages.append((page.Contents.read_bytes() if isinstance(page.Contents, pikepdf.Stream) else b"".join(c.read_bytes() for c in page.Contents), images))
    return pages


def _comparable(report: dict) -> list[dict]:
    return [{k: v for k, v in p.items() if k not in ("seconds", "source")} for p in report["pages"]]


def test_two_worker_build_gives_the_dossier_a_local_build_gives(pool, tmp_path):
    from dossier_station.core.journal import Journal
    from dossier_station.station.pipeline import BuildOptions, build_dossier

    server, workers, _ = pool
    pages = small_pages(tmp_path / "pages", 4)
    local = build_dossier(pages, None, tmp_path / "local", options=BuildOptions(engine="tesseract", jobs=2))
    run = _cli("build", str(pages), "-o", str(tmp_path / "pool"), "--engine", "tesseract", "--broker", server.url)
    assert run.returncode == 0, run.stderr
    pooled_pdf = tmp_path / "pool" / local.volumes[0].name
    report = json.loads((tmp_path / "pool" / local.report_path.name).read_text("utf-8"))
    # same pages, same order, same OCR text, same placement, same catalogue
    assert _comparable(report) == _comparable(local.report)
    assert [v["rows"] for v in report["volumes"]] == [v["rows"] for v in local.report["volumes"]]
    assert _page_streams(pooled_pdf) == _page_streams(local.volumes[0])
    text = subprocess.run(["pdftotext", "-layout", str(pooled_pdf), "-"], capture_output=True, text=True).stdout
    assert text == subprocess.run(["pdftotext", "-layout", str(local.volumes[0]), "-"], capture_output=True, text=True).stdout
    # the work was done by the pool, and the custody log has the build as for a local one
    done = [e for w in workers for e in w.events() if e.get("event") == "done"]
    assert {e["page"] for e in done} >= {p.name for p in pages.iterdir()}
    with Journal() as journal:
        assert any(e["kind"] == "build" for e in journal.find(report["volumes"][0]["sha256"]))
    # the broker password appears nowhere a person or a court would read
    for w in workers:
        assert PASSWORD not in w.log.read_text("utf-8") + w.out.read_text("utf-8")
    assert PASSWORD not in run.stdout + run.stderr + json.dumps(report)


def test_pages_travel_through_the_shared_folder_named_in_the_profile(pool, tmp_path):
    """[cluster] broker + shared in the profile, no --broker: the centre set-up."""
    server, workers, folder = pool
    share = folder / "share"
    pages = small_pages(tmp_path / "pages", 2)
    profile = tmp_path / "station.toml"
    profile.write_text(f'[build]\nengine = "tesseract"\n\n[cluster]\nbroker = "{server.url}"\nshared = "{share}"\n', "utf-8")
    run = _cli("build", str(pages), "-o", str(tmp_path / "out"), "--profile", str(profile))
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "out" / "pages.report.json").read_text("utf-8"))
    assert [p["key"] for p in report["pages"]] == ["p01.png", "p02.png"] and all(p["chars"] > 0 for p in report["pages"])
    shared_pages = {p.name for p in (share / "pages").iterdir()}
    assert shared_pages >= {f"{p['sha256']}.png" for p in report["pages"]}  # content-addressed copies
    assert len(list((share / "results").iterdir())) >= 2  # the encoded images came back through the share
    assert PASSWORD not in run.stdout + run.stderr


def _unique(page: Path) -> Path:
    """The page with a text chunk of its own: bytes no earlier test has sent (results are cached by hash)."""
    import uuid

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("test", uuid.uuid4().hex)
    with Image.open(page) as im:
        im.save(page, pnginfo=info, dpi=(150, 150))
    return page


def test_a_page_sent_twice_is_ocrd_once_and_the_second_delivery_says_so(pool, tmp_path):
    from dossier_station.station.cluster.app import make_app
    from dossier_station.station.cluster.config import build_key, done_list, page_key
    from dossier_station.station.cluster.payload import make_task

    server, workers, _ = pool
    page = _unique(small_pages(tmp_path / "pages", 1) / "p01.png")
    client = server.client()
    from dossier_station.core.files import sha256_file

    sha = sha256_file(page)
    client.set(build_key("twice"), "1", ex=60)
    client.set(page_key(sha), page.read_bytes(), ex=60)
    task = make_task(build="twice", seq=1, name=page.name, index=0, count=1, kind="image", sha256=sha, size=page.stat().st_size,
                     engine="tesseract", images="archival", via="redis", ref=page_key(sha), secret=SECRET)
    app = make_app(server.url)
    app.send_task("dossier.ocr_page", args=[task], queue="ocr")
    first = json.loads(client.blpop([done_list("twice")], timeout=60)[1])
    app.send_task("dossier.ocr_page", args=[task], queue="ocr")
    second = json.loads(client.blpop([done_list("twice")], timeout=60)[1])
    assert first["status"] == second["status"] == "done"
    assert second.get("cached") is True and not first.get("cached")
    client.delete(build_key("twice"))


def _send_tampered(server: RedisServer, tmp_path: Path, name: str, *, secret: bytes | None = SECRET, tamper: bool = True) -> dict:
    """A task whose page bytes in Redis were changed after hashing; returns the worker's record."""
    from dossier_station.core.files import sha256_file
    from dossier_station.station.cluster.app import make_app
    from dossier_station.station.cluster.config import build_key, done_list, page_key
    from dossier_station.station.cluster.payload import make_task

    page = _unique(small_pages(tmp_path / name, 1) / "p01.png")
    sha = sha256_file(page)
    client = server.client()
    client.set(build_key(name), "1", ex=60)
    data = page.read_bytes()
    client.set(page_key(sha), data[:-10] + b"0123456789" if tamper else data, ex=60)  # bytes changed in transit
    task = make_task(build=name, seq=1, name=f"{name}.png", index=0, count=1, kind="image", sha256=sha, size=page.stat().st_size,
                     engine="tesseract", images="archival", via="redis", ref=page_key(sha), secret=secret)
    make_app(server.url).send_task("dossier.ocr_page", args=[task], queue="ocr")
    record = json.loads(client.blpop([done_list(name)], timeout=60)[1])
    client.delete(build_key(name))
    return record


def test_a_tampered_page_is_refused_not_ocrd(pool, tmp_path):
    server, workers, _ = pool
    record = _send_tampered(server, tmp_path, "evidence")
    assert record["status"] == "refused"
    assert "not the task's" in record["error"] and "not OCR'd" in record["error"]
    events = [e for w in workers for e in w.events() if e.get("page") == "evidence.png"]
    assert [e["event"] for e in events if e["event"] != "started"] == ["refused"]


def test_an_unsigned_or_wrongly_signed_task_is_refused_before_anything_is_fetched(pool, tmp_path):
    server, workers, _ = pool
    for name, secret in (("unsigned", None), ("other-key", b"another-centre-key-000000")):
        record = _send_tampered(server, tmp_path, name, secret=secret, tamper=False)
        assert record["status"] == "refused" and "signature" in record["error"]
        assert not [e for w in workers for e in w.events() if e.get("page") == f"{name}.png" and e.get("event") == "started"]


def test_a_pickle_message_is_refused_by_the_worker(pool):
    """Sent with kombu directly, as an attacker with access to Redis would: never unpickled."""
    from kombu import Connection, Exchange, Producer, Queue

    server, workers, _ = pool
    marker = "pickled-payload-marker"
    with Connection(server.url) as conn:
        producer = Producer(conn.default_channel)
        producer.publish(
            [[{"format": "dossier-page-task/1", "name": marker}], {}, {}], serializer="pickle",
            exchange=Exchange("ocr", type="direct"), routing_key="ocr", declare=[Queue("ocr", Exchange("ocr", type="direct"), "ocr")],
            headers={"task": "dossier.ocr_page", "id": "pickle-1", "lang": "py", "argsrepr": "", "kwargsrepr": ""},
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = [e for w in workers for e in w.events()]
        refused = [e for e in logs if "pickle" in e["message"].lower() and e["level"] in ("error", "critical")]
        if refused:
            break
        time.sleep(0.2)
    assert refused, "no worker logged the refusal of the pickle message"
    assert not any(marker in json.dumps(e) and e.get("event") == "started" for e in logs)


def test_workers_status_lists_workers_queues_and_recent_failures(pool, tmp_path):
    server, workers, _ = pool
    assert _send_tampered(server, tmp_path, "status-probe")["status"] == "refused"
    run = _cli("workers", "status", "--broker", server.url, "--json", timeout=60)
    assert run.returncode == 0, run.stderr
    st = json.loads(run.stdout)
    names = {w["name"]: w for w in st["workers"]}
    assert set(names) >= {w.name for w in workers}
    assert all(names[w.name]["alive"] and set(names[w.name]["queues"]) == {"ocr", "assemble"} for w in workers)
    assert all(isinstance(w["pages_done"], int) and w["in_progress"] == [] for w in st["workers"])
    assert any(f["status"] == "refused" and "status-probe" in f["error"] for f in st["failures_last_hour"])
    assert PASSWORD not in run.stdout and "***" in st["broker"]
    from click.testing import CliRunner

    from dossier_station.station.cli_worker import workers as workers_group

    human = CliRunner().invoke(workers_group, ["status", "--broker", server.url])
    assert human.exit_code == 0, human.output
    assert "failures in the last hour: " in human.output and "status-probe" in human.output and PASSWORD not in human.output


def _build_in_thread(url: str, pages: Path, out: Path) -> tuple[threading.Thread, dict]:
    from dossier_station.station.pipeline import BuildOptions, build_dossier

    box: dict = {}

    def run() -> None:
        try:
            box["result"] = build_dossier(pages, None, out, options=BuildOptions(engine="tesseract", broker=url))
        except BaseException as exc:  # noqa: BLE001 — handed to the test thread
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    return t, box


def _assert_every_page_once(box: dict, pages: Path) -> None:
    assert "error" not in box, box.get("error")
    keys = [p["key"] for p in box["result"].report["pages"]]
    assert keys == sorted(p.name for p in pages.iterdir())  # each page, once, in order
    assert all(p["chars"] > 0 for p in box["result"].report["pages"])
    assert box["result"].report["volumes"][0]["numbered_pages"] == len(keys)


def test_redis_restart_mid_build_costs_a_resend_not_a_page(pool, tmp_path):
    server, workers, _ = pool
    pages = small_pages(tmp_path / "pages", 4)
    t, box = _build_in_thread(server.url, pages, tmp_path / "out")
    deadline = time.monotonic() + 60
    while not any(e.get("event") == "done" and e.get("page", "").startswith("p0") and e["time"] > "" for w in workers for e in w.events()[-5:]):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    server.restart(down_for=1.0)
    t.join(240)
    assert not t.is_alive()
    _assert_every_page_once(box, pages)


def test_sigkill_one_worker_mid_build_every_page_exactly_once(pool, tmp_path):
    server, workers, _ = pool
    victim, survivor = workers[1], workers[0]
    pages = small_pages(tmp_path / "pages", 4)
    before = len(victim.events())
    t, box = _build_in_thread(server.url, pages, tmp_path / "out")
    deadline = time.monotonic() + 60
    while not any(e.get("event") == "started" for e in victim.events()[before:]):
        assert time.monotonic() < deadline, "the victim never started a page"
        time.sleep(0.05)
    victim.kill()  # mid-page: its task is unacknowledged
    started = time.monotonic()
    t.join(240)
    assert not t.is_alive()
    _assert_every_page_once(box, pages)
    killed_page = [e for e in victim.events()[before:] if e.get("event") == "started"][-1]["page"]
    assert any(e.get("event") == "done" and e.get("page") == killed_page for e in survivor.events())
    assert time.monotonic() - started < 120


def test_scan_build_sends_pages_to_the_pool_as_they_are_scanned(pool, tmp_path, monkeypatch):
    """SANE's pnm backend feeds pages; each goes to the pool as it lands; the build after the
    scan finds every page already read (the workers say "cached") and OCRs none again."""
    from PIL import Image

    from dossier_station.capture.batch import run_scan
    from dossier_station.core.profile import Profile
    from dossier_station.devices.scanner import ScanSettings
    from dossier_station.station.cluster.early import ClusterEarlyOcr, early_ocr
    from dossier_station.station.pipeline import BuildOptions, build_dossier

    server, workers, _ = pool
    cfg = tmp_path / "sane.d"
    cfg.mkdir()
    (cfg / "dll.conf").write_text("pnm\n")
    monkeypatch.setenv("SANE_CONFIG_DIR", str(cfg))
    schedule = {}
    for i, page in enumerate(sorted(small_pages(tmp_path / "src", 3).iterdir()), start=1):
        pgm = tmp_path / f"{i}.pgm"
        Image.open(_unique(page)).convert("L").save(pgm)
        schedule[i] = {"filename": str(pgm)}
    batch = tmp_path / "batch"
    early = early_ocr(Profile(), batch, engine="tesseract", images="auto", broker=server.url)
    assert isinstance(early, ClusterEarlyOcr)
    run_scan(batch, ScanSettings(device="pnm:0", dpi=150, mode="gray", source="flatbed"), schedule=schedule, max_pages=3, on_page=early.page)
    assert early.finish() == 3
    mark = [len(w.events()) for w in workers]
    result = build_dossier(batch, None, tmp_path / "out", options=BuildOptions(engine="tesseract", broker=server.url, attach=False))
    assert len(result.report["pages"]) == 3 and all(p["chars"] > 0 for p in result.report["pages"])
    during_build = [e for w, m in zip(workers, mark, strict=True) for e in w.events()[m:] if e.get("page") and e.get("build") != early.bid]
    assert sorted(e["event"] for e in during_build) == ["cached"] * 3
