"""The cluster's gates without workers: task/result validation, signatures, the redacted
broker URL, and an unreachable broker said at once (or built around with --fallback local)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cluster_helpers import DOSSIER, free_port, small_pages

from dossier_station.station.cluster.config import ClusterError, ping_broker, redact, secret_words
from dossier_station.station.cluster.payload import (
    RESULT_FORMAT,
    PayloadRefused,
    check_result,
    check_task,
    make_task,
    sign,
)

SHA = "ab" * 32
KEY = b"centre-key-0123456789abcdef"


def _task(secret: bytes | None = None, **over):  # type: ignore[no-untyped-def]
    args = dict(build="b1", seq=1, name="p1.png", index=0, count=1, kind="image", sha256=SHA, size=10,
                engine="tesseract", images="archival", via="redis", ref=f"dossier:page:{SHA}", secret=secret)
    args.update(over)
    return make_task(**args)


def test_a_well_formed_task_passes_and_a_changed_one_is_refused():
    assert check_task(_task(), None)["name"] == "p1.png"
    for change in ({"format": "dossier-page-task/0"}, {"name": "../../etc/passwd"}, {"via": "ftp"}, {"index": 3},
                   {"sha256": "00" * 32}, {"ref": "/etc/passwd", "via": "shared"}, {"seq": "1"}):
        task = {**_task(), **change}
        with pytest.raises(PayloadRefused):
            check_task(task, None)


def test_with_a_centre_key_unsigned_or_altered_tasks_are_refused():
    signed = _task(KEY)
    assert check_task(signed, KEY)
    with pytest.raises(PayloadRefused, match="signature"):
        check_task(_task(None), KEY)
    with pytest.raises(PayloadRefused, match="signature"):
        check_task({**signed, "seq": 2}, KEY)
    with pytest.raises(PayloadRefused, match="signature"):
        check_task(signed, b"another-centre-key-0000")


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=6), max_leaves=20))
def test_any_json_as_a_task_is_accepted_or_refused_never_a_crash(value):
    with contextlib.suppress(PayloadRefused):
        check_task(value, None)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["format", "build", "seq", "name", "index", "count", "kind", "sha256", "bytes", "engine",
                                        "images", "result_key", "via", "ref", "sig"]),
                       st.none() | st.integers(-2, 5) | st.text(max_size=70), max_size=15))
def test_any_mix_of_task_fields_is_accepted_or_refused_never_a_crash(fields):
    with contextlib.suppress(PayloadRefused):
        check_task({**_task(), **fields}, KEY)


def _result(task, **over):  # type: ignore[no-untyped-def]
    r = {"format": RESULT_FORMAT, "result_key": task["result_key"], "input_sha256": task["sha256"], "index": 0,
         "engine": task["engine"], "images": task["images"], "worker": "w@x", "outcome": {"key": "p1.png"}, "spec": None, "image": None}
    r.update(over)
    return r


def test_the_station_refuses_a_result_for_other_bytes_or_settings():
    task = _task()
    assert check_result(_result(task), task, None)
    with pytest.raises(PayloadRefused, match="not the page's"):
        check_result(_result(task, input_sha256="cd" * 32), task, None)
    with pytest.raises(PayloadRefused, match="engine"):
        check_result(_result(task, engine="rapidocr"), task, None)
    with pytest.raises(PayloadRefused, match="signature"):
        check_result(_result(task), task, KEY)
    assert check_result(sign(_result(task), KEY), task, KEY)


def test_the_broker_password_is_redacted_everywhere_it_could_show():
    url = "rediss://clerk:pa55-word@redis.centre.local:6380/2?ssl_cert_reqs=required"
    assert redact(url) == "rediss://clerk:***@redis.centre.local:6380/2?ssl_cert_reqs=required"
    assert redact("redis://:only-pw@h:6379/0") == "redis://:***@h:6379/0"
    assert redact("redis://h:6379/0?password=qwerty") == "redis://h:6379/0?password=***"
    assert secret_words(url) == ["pa55-word"]


def test_an_unreachable_broker_is_said_at_once_without_its_password():
    url = f"redis://:hunter2-pw@127.0.0.1:{free_port()}/0"
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="unreachable") as err:
        ping_broker(url)
    assert time.monotonic() - t0 < 5
    assert "hunter2-pw" not in str(err.value) and "fallback local" in str(err.value)


def test_build_with_an_unreachable_broker_stops_before_ocr_or_falls_back_to_local(tmp_path):
    pages = small_pages(tmp_path / "pages", 1)
    url = f"redis://:hunter2-pw@127.0.0.1:{free_port()}/0"
    t0 = time.monotonic()
    run = subprocess.run([*DOSSIER, "build", str(pages), "-o", str(tmp_path / "a"), "--engine", "tesseract", "--broker", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 15 and "unreachable" in run.stderr and time.monotonic() - t0 < 30
    assert "hunter2-pw" not in run.stdout + run.stderr
    assert not list((tmp_path / "a").glob("*.pdf"))
    run = subprocess.run([*DOSSIER, "build", str(pages), "-o", str(tmp_path / "b"), "--engine", "tesseract", "--broker", url,
                          "--fallback", "local"], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    assert "building on this machine instead" in run.stderr and "hunter2-pw" not in run.stdout + run.stderr
    report = json.loads((tmp_path / "b" / "pages.report.json").read_text("utf-8"))
    assert [p["key"] for p in report["pages"]] == ["p01.png"] and "hunter2-pw" not in json.dumps(report)


def test_a_broker_url_that_is_not_redis_is_a_bad_argument(tmp_path):
    run = subprocess.run([*DOSSIER, "workers", "status", "--broker", "amqp://u:pw-secret@h//"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "only Redis brokers" in run.stderr and "pw-secret" not in run.stderr


def test_profile_cluster_table_is_validated_strictly():
    from dossier_station.core.errors import ProfileError
    from dossier_station.core.profile import Profile

    assert Profile(data={"cluster": {"broker": "redis://h/0", "fallback": "local"}}).table("cluster").fallback == "local"
    with pytest.raises(ProfileError, match="fallback"):
        Profile(data={"cluster": {"fallback": "sometimes"}})
    with pytest.raises(ProfileError):
        Profile(data={"cluster": {"brokre": "redis://h/0"}})
