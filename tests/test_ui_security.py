"""The UI's security rules, pinned against a real server on a loopback port (httpx, no mocks)."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from dossier_station.core.errors import BadArgsError
from dossier_station.ui.accounts import Accounts
from dossier_station.ui.app import UiConfig, create_app
from tests.ui_server import serve


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("ui-sec")) as url:
        yield url


def _csrf(client: httpx.Client, url: str) -> str:
    html = client.get(f"{url}/batches").text
    return html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_a_non_loopback_address_without_accounts_is_refused(tmp_path):
    with pytest.raises(BadArgsError, match="refusing to listen on 0.0.0.0"):
        create_app(UiConfig(data_dir=tmp_path, host="0.0.0.0"))
    run = subprocess.run([sys.executable, "-m", "dossier_station.station", "ui", "--host", "192.0.2.10", "--data", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "--add-user" in run.stderr


def test_a_desktop_session_from_before_accounts_existed_is_not_a_login(tmp_path):
    with serve(tmp_path) as url, httpx.Client(follow_redirects=False) as c:
        assert c.get(f"{url}/batches").status_code == 200  # no accounts: the desktop user, a session cookie
        Accounts(tmp_path).add("li.na", "clerk", "long enough pw")
        r = c.get(f"{url}/batches")  # same cookie, but accounts exist now
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_with_accounts_a_non_loopback_address_starts_and_asks_for_login(tmp_path, monkeypatch):
    monkeypatch.setenv("DOSSIER_UI_PASSWORD", "correct horse battery")
    run = subprocess.run([sys.executable, "-m", "dossier_station.station", "ui", "--data", str(tmp_path), "--add-user", "li.na", "--role", "clerk"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    stored = json.loads((tmp_path / "users.json").read_text("utf-8"))["users"]["li.na"]
    assert stored["role"] == "clerk" and stored["hash"].startswith("$argon2id$") and "correct" not in stored["hash"]
    create_app(UiConfig(data_dir=tmp_path, host="0.0.0.0"))  # no refusal now
    with serve(tmp_path) as url, httpx.Client(follow_redirects=False) as c:
        r = c.get(f"{url}/batches")
        assert r.status_code == 303 and r.headers["location"] == "/login"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        form = c.get(f"{url}/login").text
        token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        bad = c.post(f"{url}/login", data={"csrf": token, "name": "li.na", "password": "wrong"})
        assert bad.status_code == 200 and "login-error" in bad.text
        ok = c.post(f"{url}/login", data={"csrf": token, "name": "li.na", "password": "correct horse battery"})
        assert ok.status_code == 303
        page = c.get(f"{url}/batches")
        assert page.status_code == 200 and "li.na" in page.text and "clerk" in page.text


def test_a_change_without_the_csrf_token_is_refused(server):
    with httpx.Client() as c:
        token = _csrf(c, server)
        assert c.post(f"{server}/api/scan", json={"device": "test:0"}).status_code == 403
        assert c.post(f"{server}/api/scan", json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert c.post(f"{server}/api/scan", json={}, headers={"X-CSRF-Token": token, "Origin": "http://evil.example"}).status_code == 403
    with httpx.Client() as other:  # another browser's token is not ours
        assert other.post(f"{server}/api/upload", headers={"X-CSRF-Token": token}).status_code == 403


def test_forged_paths_name_nothing(server, tmp_path):
    with httpx.Client() as c:
        token = _csrf(c, server)
        for path in ("/batch/..%2F..%2Fetc/thumb/1", "/batch/%2e%2e/thumb/1", "/batch/..%5c..%5cwindows/check",
                     "/batch/.hidden/check", "/batch/a%00b/check", "/batch/%2Fetc%2Fpasswd/preview/1", "/batch/x/volume/1"):
            r = c.get(server + path)
            assert r.status_code == 404, path
            assert "root:" not in r.text
        r = c.post(f"{server}/api/batch/..%2F..%2Fetc/edit", json={"action": "aside", "seq": 1}, headers={"X-CSRF-Token": token})
        assert r.status_code == 404
        r = c.post(f"{server}/api/batch/x/edit", json={"action": "aside", "seq": "../../etc/passwd"}, headers={"X-CSRF-Token": token})
        assert r.status_code in (400, 404)


def test_a_foreign_host_header_is_refused(server):
    port = server.rsplit(":", 1)[1]
    with httpx.Client() as c:
        r = c.get(f"{server}/batches", headers={"Host": f"rebind.example:{port}"})
        assert r.status_code == 421


def test_uploads_are_checked_by_the_build_loader_and_kept_under_our_names(server, sample_dir):
    with httpx.Client() as c:
        token = _csrf(c, server)
        r = c.post(f"{server}/api/upload", headers={"X-CSRF-Token": token},
                   files=[("files", ("../../etc/evil.png", b"\x89PNG\r\n\x1a\n truncated", "image/png"))])
        assert r.status_code == 400 and "evil.png" in r.json()["error"] and "truncated" in r.json()["error"]
        r = c.post(f"{server}/api/upload", headers={"X-CSRF-Token": token}, files=[("files", ("x.exe", b"MZ", "application/octet-stream"))])
        assert r.status_code == 400 and "unsupported" in r.json()["error"]
        r = c.post(f"{server}/api/upload", headers={"X-CSRF-Token": token},
                   files=[("files", ("../p.png", (sample_dir / "dev_001.png").read_bytes(), "image/png"))])
        assert r.status_code == 200
        pages = c.get(f"{server}/batch/{r.json()['batch']}/thumb/1")
        assert pages.status_code == 200 and pages.headers["content-type"] == "image/jpeg"


def test_accounts_refuse_bad_names_roles_and_short_passwords(tmp_path):
    acc = Accounts(tmp_path)
    for name, role, pw in (("../x", "clerk", "longenough"), ("ok", "admin", "longenough"), ("ok", "clerk", "short")):
        with pytest.raises(BadArgsError):
            acc.add(name, role, pw)
    acc.add("zhang", "officer", "longenough")
    assert acc.check("zhang", "longenough") == "officer" and acc.check("zhang", "wrong") is None and acc.check("nobody", "x") is None


def test_roles_limit_what_each_operator_may_do(tmp_path):
    accounts = Accounts(tmp_path)
    accounts.add("clerk1", "clerk", "clerk-password")
    accounts.add("officer1", "officer", "officer-password")
    with serve(tmp_path) as url:
        for name, pw, allowed, refused in (("clerk1", "clerk-password", ["/scan", "/verify"], ["/sign", "/queues"]),
                                           ("officer1", "officer-password", ["/sign", "/verify"], ["/scan", "/queues"])):
            with httpx.Client(follow_redirects=False) as c:
                form = c.get(f"{url}/login").text
                token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                assert c.post(f"{url}/login", data={"csrf": token, "name": name, "password": pw}).status_code == 303
                for path in allowed:
                    assert c.get(url + path).status_code == 200, (name, path)
                for path in refused:
                    assert c.get(url + path).status_code == 403, (name, path)
                csrf = _csrf(c, url)
                if name == "officer1":  # the refusal holds for changes too, not only for pages
                    assert c.post(f"{url}/api/scan", json={"device": "test:0"}, headers={"X-CSRF-Token": csrf}).status_code == 403
