"""Hot-folder rules that need no daemon: what is a candidate, when it is ready, which settings
are refused, how leases and duplicates behave, and which case files a job may not act on."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier_station.core.errors import BadArgsError, CaseFileError, ProfileError
from dossier_station.core.profile import Profile
from dossier_station.station.watch_jobs import check_case_paths
from dossier_station.watch_folders.config import HotFolder, check_folder, settings_from_profile
from dossier_station.watch_folders.discover import Readiness, ignored_name, list_candidates
from dossier_station.watch_folders.job import content_hash
from dossier_station.watch_folders.lease import JobLeases, new_owner
from dossier_station.watch_folders.state import StateStore


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("name", [".hidden.pdf", "~$report.docx", "scan.pdf.part", "a.tmp", "b.crdownload", "c.pdf~", "Thumbs.db", "x.partial"])
def test_hidden_and_temporary_names_are_never_jobs(name):
    assert ignored_name(name)


@pytest.mark.parametrize("name", ["scan001.pdf", "案卷 256.tif", "case-folder", "p.JPG"])
def test_ordinary_names_are_candidates(name):
    assert not ignored_name(name)


def test_symlinks_and_fifos_are_ignored_and_named(tmp_path):
    (tmp_path / "real.pdf").write_bytes(b"x")
    (tmp_path / "link.pdf").symlink_to(tmp_path / "real.pdf")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "job").mkdir()
    ignored: list[tuple[str, str]] = []
    assert list_candidates(tmp_path, ignored) == ["job", "real.pdf"]
    assert {n for n, _ in ignored} == {"link.pdf", "pipe"}


def test_a_file_is_ready_only_after_the_stability_window_without_change(tmp_path):
    clock = Clock()
    r = Readiness(5.0, clock=clock)
    f = tmp_path / "scan.pdf"
    f.write_bytes(b"a" * 10)
    assert r.observe(tmp_path, ["scan.pdf"])[0] == []
    clock.t += 4
    with f.open("ab") as fh:
        fh.write(b"more")  # still being written: the window starts again
    assert r.observe(tmp_path, ["scan.pdf"])[0] == []
    clock.t += 4.9
    assert r.observe(tmp_path, ["scan.pdf"])[0] == []
    clock.t += 0.2
    ready, _ = r.observe(tmp_path, ["scan.pdf"])
    assert [n for n, _ in ready] == ["scan.pdf"]


def test_a_file_replaced_or_deleted_while_waiting_is_retimed_or_forgotten(tmp_path):
    clock = Clock()
    r = Readiness(2.0, clock=clock)
    f = tmp_path / "scan.pdf"
    f.write_bytes(b"first")
    r.observe(tmp_path, ["scan.pdf"])
    clock.t += 1.5
    tmp = tmp_path / "other"
    tmp.write_bytes(b"secnd")
    os.replace(tmp, f)  # same size, new inode
    ready, notes = r.observe(tmp_path, ["scan.pdf"])
    assert ready == [] and any("replaced" in what for _, what in notes)
    f.unlink()
    ready, notes = r.observe(tmp_path, [])
    assert ready == [] and notes == [("scan.pdf", "vanished before it was taken")] and r.pending() == 0


def test_a_job_folder_waits_for_its_case_file_or_ready_marker(tmp_path):
    clock = Clock()
    r = Readiness(1.0, clock=clock)
    job = tmp_path / "case-7"
    job.mkdir()
    (job / "p1.png").write_bytes(b"x")
    r.observe(tmp_path, ["case-7"])
    clock.t += 5
    ready, notes = r.observe(tmp_path, ["case-7"])
    assert ready == [] and "case.toml" in notes[0][1]
    (job / ".ready").write_bytes(b"")
    ready, _ = r.observe(tmp_path, ["case-7"])  # the marker is explicit: no window needed
    assert [n for n, _ in ready] == ["case-7"]


def test_output_inside_hot_or_hot_inside_output_is_refused(tmp_path):
    hot = tmp_path / "hot"
    hot.mkdir()
    with pytest.raises(BadArgsError, match="inside the hot folder"):
        check_folder(HotFolder(hot, hot / "out"))
    with pytest.raises(BadArgsError, match="inside the output folder"):
        check_folder(HotFolder(hot, tmp_path))
    with pytest.raises(BadArgsError, match="inside the hot folder"):
        check_folder(HotFolder(hot, hot))
    assert check_folder(HotFolder(hot, tmp_path / "out")).out == (tmp_path / "out").resolve()


def test_profile_watch_table_gives_several_folders_their_own_settings(tmp_path):
    for d in ("in-a", "in-b"):
        (tmp_path / d).mkdir()
    data = {"watch": {"stable": 7, "workers": 3, "folders": [
        {"hot": "in-a", "output": "out-a", "poll": 10, "mirrors": ["m"], "case_template": "t.toml"},
        {"hot": "in-b", "output": "out-b", "stable": 2},
    ]}}
    s = settings_from_profile(Profile(tmp_path / "station.toml", data))
    a, b = s.folders
    assert s.workers == 3
    assert (a.poll, a.stable, a.mirrors, a.case_template) == (10, 7, ((tmp_path / "m").resolve(),), tmp_path / "t.toml")
    assert (b.poll, b.stable) == (0, 2)
    with pytest.raises(ProfileError, match="stabel"):
        settings_from_profile(Profile(None, {"watch": {"stabel": 3}}), hot=tmp_path / "in-a", out=tmp_path / "o")


def test_a_lease_is_exclusive_until_released_or_expired(tmp_path):
    store = StateStore(tmp_path / "s.sqlite3")
    assert isinstance(store, JobLeases)
    me, other = new_owner(), "elsewhere.example:1:abcd"
    assert store.claim("job1", other, ttl=30)
    assert not store.claim("job1", me, ttl=30)
    assert not store.renew("job1", me, ttl=30)
    store.release("job1", other)
    assert store.claim("job1", me, ttl=30)
    assert store.claim("job2", other, ttl=0.05)
    time.sleep(0.1)
    assert store.claim("job2", me, ttl=30)  # the other machine stopped renewing


def test_a_lease_of_a_dead_daemon_on_this_machine_is_taken_at_once(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    host = new_owner().split(":")[0]
    store = StateStore(tmp_path / "s.sqlite3")
    assert store.claim("job", f"{host}:{proc.pid}:dead", ttl=3600)
    assert store.claim("job", new_owner(), ttl=30)


def test_identical_content_claimed_twice_is_one_original_and_one_duplicate(tmp_path):
    store = StateStore(tmp_path / "s.sqlite3")
    for job in ("a", "b"):
        store.add(job, "/hot", f"{job}.pdf", "file", time.time())
    assert store.mark_claimed("a", "f" * 64, 10) is None
    dup = store.mark_claimed("b", "f" * 64, 10)
    assert dup is not None and dup.id == "a"
    assert store.get("b").duplicate_of == "a"


def test_a_folders_content_hash_ignores_its_name_and_ready_marker(tmp_path):
    for name in ("one", "two"):
        d = tmp_path / name
        (d / "sub").mkdir(parents=True)
        (d / "case.toml").write_text("x = 1")
        (d / "sub" / "p.png").write_bytes(b"png")
    (tmp_path / "two" / ".ready").write_bytes(b"")
    assert content_hash(tmp_path / "one") == content_hash(tmp_path / "two")


@pytest.mark.parametrize("line", [
    'pages = "/etc"',
    'pages = "../elsewhere"',
    'pages = "C:\\\\scans"',
    '[source]\ndir = "../../x"',
    '[catalogue]\ncsv = "/tmp/rows.csv"',
    '[[rows]]\n"题名" = "t"\n"文件" = ["../../secret.png"]',
    '[[rows]]\ntitle = "t"\nfiles = ["ok.png", "/abs.png"]',
])
def test_a_case_file_naming_paths_outside_its_job_folder_is_refused(tmp_path, line):
    case = tmp_path / "job" / "case.toml"
    case.parent.mkdir()
    case.write_text(line + "\n", "utf-8")
    with pytest.raises(CaseFileError, match="outside the job folder|absolute path"):
        check_case_paths(case, case.parent)


def test_a_case_file_naming_its_own_pages_folder_is_accepted(tmp_path):
    case = tmp_path / "job" / "case.toml"
    (case.parent / "scans").mkdir(parents=True)
    case.write_text('pages = "scans"\n[[rows]]\n"题名" = "t"\n"文件" = ["scans/p1.png"]\n', "utf-8")
    assert check_case_paths(case, case.parent)["pages"] == "scans"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".toml", ".json"]))
def test_any_bytes_as_a_job_case_file_give_a_result_or_a_clear_error(tmp_path, data, suffix):
    case = tmp_path / f"case{suffix}"
    case.write_bytes(data)
    try:
        assert isinstance(check_case_paths(case, tmp_path), dict)
    except CaseFileError as exc:
        assert case.name in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(["..", ".", "scans", "p1.png", "sub", ""]), min_size=1, max_size=6), absolute=st.booleans())
def test_a_case_file_path_is_accepted_exactly_when_it_stays_inside_the_job_folder(tmp_path, parts, absolute):
    import json
    import posixpath

    job = tmp_path / "job"
    job.mkdir(exist_ok=True)
    value = ("/" if absolute else "") + "/".join(parts)
    case = job / "case.json"
    case.write_text(json.dumps({"pages": value}), "utf-8")
    inside = bool(value.strip()) and not value.startswith("/") and not posixpath.normpath(value).startswith("..")
    try:
        check_case_paths(case, job)
        accepted = True
    except CaseFileError:
        accepted = False
    assert accepted == inside, value


_OPEN_MANY = """
import sys, time
from dossier_station.watch_folders.state import StateStore
start = float(sys.argv[2])
while time.time() < start:
    pass
store = StateStore(sys.argv[1])
store.set_meta(f"opened:{sys.argv[3]}", "yes")
"""


@pytest.mark.parametrize("trial", range(3))
def test_daemons_opening_a_new_state_file_together_all_start(tmp_path, trial):
    """Several daemons started at once on a new output folder each create the schema; none may
    lose the race and exit (it did once on CI: the schema's read-then-write failed at once)."""
    db = tmp_path / "out" / ".dossier-watch" / "state.sqlite3"
    start = time.time() + 1.5  # every interpreter is up before the starting gun
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_MANY, str(db), str(start), str(i)], stderr=subprocess.PIPE, text=True)
             for i in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert {k: v for k, v in StateStore(db).meta().items() if k.startswith("opened:")} == {f"opened:{i}": "yes" for i in range(6)}
