"""The officer's signing screen in a real browser: transcript → emulated pads → retry → confirm →
signed file verified. Real components: the DEMO PKI served over HTTP on loopback (TSA, CRL), the
ISDV4 pen and ZFM fingerprint emulators on pseudo-terminals, chromium. The event key is a software
key (the UI's test-station setting), as in tests/test_sign_ceremony.py's software-key case."""

from __future__ import annotations

from signing_fixtures import *  # noqa: F403
from signing_fixtures import PIN

from dossier_station.core.files import sha256_file
from tests.ui_server import browser, serve


def test_officer_signs_a_transcript_with_retry_and_confirm_and_sees_it_verified(pki_server, station_profile, transcript, tmp_path):
    from tests.test_ui_browser import SHOTS

    assert PIN
    with serve(tmp_path / "ui", profile=str(station_profile), emulated_pads=True, software_key=True, local_operator="徐平") as url, \
            browser() as b:
        page = b.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/sign")
        page.set_input_files("#transcript-form input[type=file]", str(transcript))
        page.click("#transcript-form button")
        page.wait_for_url("**/sign/*")
        assert sha256_file(transcript) in page.inner_text(".sha")
        page.fill('#sign-form input[name="signer"]', "王小明")
        page.fill('#sign-form input[name="id_number"]', "110101199003051234")
        page.click("#start-sign")
        page.wait_for_selector("#captured:not([hidden]) #sig-img[src^='data:image/png']")
        drawn = page.evaluate("window.__inkPoints")
        assert drawn > 50  # the strokes were drawn live, point by point, before the capture ended
        page.screenshot(path=str(SHOTS / "sign-live.png"))
        page.click("#retry-sign")  # the officer asks for the signature again
        page.wait_for_selector("#sign-log >> text=retry")
        page.wait_for_selector("#captured:not([hidden])")
        page.screenshot(path=str(SHOTS / "sign-captured.png"))
        page.click("#confirm")
        page.wait_for_selector("#signed:not([hidden])", timeout=180_000)
        assert page.locator('#signed-checks li.ok[data-label="signature"]').count() == 1, page.inner_text("#signed")
        assert page.locator('#signed-checks li.ok[data-label="custody"]').count() == 1, page.inner_text("#signed")
        page.screenshot(path=str(SHOTS / "sign.png"))
        signed = next((tmp_path / "ui" / "sign").glob("*/signed.pdf"))
        assert signed.read_bytes()[:5] == b"%PDF-" and sha256_file(signed) in page.inner_text("#signed")
