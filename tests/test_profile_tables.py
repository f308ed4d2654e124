"""The station profile: one strict model per table, the whole file checked when it is loaded,
every mistake named with its table, key and the nearest known name."""

from __future__ import annotations

import pytest

from dossier_station.core.errors import ExitCode, ProfileError
from dossier_station.core.profile import Profile, load_profile
from dossier_station.core.profile_tables import TABLES, BuildTable, ProfileTable, profile_table


def _profile(tmp_path, text: str | bytes):
    p = tmp_path / "station.toml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def _refused(tmp_path, text: str | bytes) -> str:
    with pytest.raises(ProfileError) as err:
        load_profile(_profile(tmp_path, text))
    assert err.value.exit_code == ExitCode.invalid_config
    return str(err.value)


def test_a_good_profile_gives_typed_tables_and_defaults_for_the_rest(tmp_path):
    prof = load_profile(_profile(tmp_path, '[build]\njobs = 2\nmax_pages = 150\n[scanner]\ndpi = 300\ntimeout = 30\n'))
    build = prof.table("build")
    assert isinstance(build, BuildTable) and (build.jobs, build.max_pages, build.engine) == (2, 150, "rapidocr")
    assert prof.table("scanner").timeout == 30.0  # an integer is a fine float
    assert prof.section("build") == {"jobs": 2, "max_pages": 150}  # what was written, for callers that care
    assert prof.table("pads").pen_port == ""  # a table not written: its defaults


def test_no_profile_at_all_works_on_defaults(monkeypatch):
    monkeypatch.delenv("DOSSIER_PROFILE", raising=False)
    prof = load_profile(None)
    assert prof.table("build").max_pages == 200 and prof.section("build") == {}


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ('[build]\njobs = "two"\n', ["[build]", "jobs", "'two'", "expected int"]),
        ("[build]\njobs = true\n", ["jobs", "True", "expected int"]),
        ("[build]\nmax_pages = 2.5\n", ["max_pages", "2.5"]),
        ("[build]\nmax_pages = 0\n", ["max_pages", "greater than or equal to 1"]),
        ('[build]\npdfa = "2a"\n', ["pdfa", "'2a'"]),
        ('[build]\nattach = "yes"\n', ["attach", "expected bool"]),
        ("[build]\njbos = 2\n", ["unknown key 'jbos'", "did you mean 'jobs'"]),
        ("[biuld]\njobs = 2\n", ["unknown table [biuld]", "did you mean [build]?"]),
        ("jobs = 2\n[build]\n", ["'jobs' is outside any table", "[build]"]),
        ("build = 3\n", ["build must be a table"]),
        ("[pads]\npen_baud = 19200.0\n", ["[pads]", "pen_baud"]),
        ('[scanner]\nsource_names = {fi = {adf = 1}}\n', ["source_names", "expected str"]),
        ("[build\n", ["not valid TOML"]),
        ('[scanner]\npage = "A5"\n', ["[scanner]", "page", "expected A4, A3"]),
    ],
)
def test_wrong_profiles_are_refused_at_load_naming_table_and_key(tmp_path, text, needles):
    message = _refused(tmp_path, text)
    for needle in needles:
        assert needle in message, message
    assert "--max-pages" not in message  # the profile's key, not a command-line option


def test_several_mistakes_in_one_table_are_all_listed(tmp_path):
    message = _refused(tmp_path, '[build]\njobs = "two"\nmax_pages = 2.5\nengnie = "x"\n')
    assert "jobs" in message and "max_pages" in message and "did you mean 'engine'" in message


def test_profile_that_is_not_utf8_a_folder_or_missing_is_a_profile_error(tmp_path):
    assert "not UTF-8" in _refused(tmp_path, b"[build]\nengine = \"\xff\xfe\"\n")
    with pytest.raises(ProfileError, match="is a folder"):
        load_profile(tmp_path)
    with pytest.raises(ProfileError, match="not found"):
        load_profile(tmp_path / "nowhere.toml")


def test_tables_of_areas_without_a_model_are_kept_as_written():
    untyped = sorted({"watch", "custody", "ui", "signing", "station"} - set(TABLES))
    if not untyped:
        pytest.skip("every area has registered its table model")
    prof = Profile(data={untyped[0]: {"anything": 1}})
    assert prof.section(untyped[0]) == {"anything": 1}


def test_adding_a_table_is_a_few_lines_and_it_is_checked_like_the_others():
    @profile_table("zz_test_only")
    class ZzTable(ProfileTable):
        size: int = 3

    try:
        assert Profile(data={"zz_test_only": {"size": 4}}).table("zz_test_only").size == 4
        with pytest.raises(ProfileError, match="did you mean 'size'"):
            Profile(data={"zz_test_only": {"szie": 4}})
    finally:
        del TABLES["zz_test_only"]


def test_a_bad_profile_fails_the_build_command_before_any_page_is_read(tmp_path):
    import subprocess
    import sys

    prof = _profile(tmp_path, '[build]\njobs = "two"\n')
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "0001.png").write_bytes(b"not read: the profile is refused first")
    result = subprocess.run([sys.executable, "-m", "dossier_station.station", "build", str(pages), "-o", str(tmp_path / "out"), "--profile", str(prof)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == ExitCode.invalid_config, result.stderr
    assert "jobs" in result.stderr and "Traceback" not in result.stderr
    assert "0001.png" not in result.stderr and not (tmp_path / "out").exists()
