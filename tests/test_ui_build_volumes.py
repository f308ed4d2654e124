"""Build progress per volume: ``build_dossier(on_volume=…)`` and "卷 n / N" on the build screen.

Real components: tesseract on two quarter pages of a sample, a real uvicorn app on a loopback
port, Debian's chromium driven by playwright. ``max_pages=1`` makes two pages two volumes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui_server import browser, serve


@pytest.fixture
def two_pages(sample_dir, tmp_path) -> list[Path]:
    from PIL import Image

    out = []
    with Image.open(sample_dir / "dev_001.png") as im:
        for i, box in enumerate(((200, 150, 1440, 1904), (200, 1754, 1440, 3508))):
            path = tmp_path / f"part{i + 1}.png"
            im.crop(box).save(path, dpi=(300, 300))
            out.append(path)
    return out


def test_on_volume_is_called_once_per_volume_with_its_number_count_and_path(two_pages, tmp_path):
    from dossier_station.station.pipeline import BuildOptions, build_dossier

    pages = tmp_path / "pages"
    pages.mkdir()
    for p in two_pages:
        p.rename(pages / p.name)
    calls: list[tuple[int, int, Path]] = []
    result = build_dossier(pages, None, tmp_path / "out", options=BuildOptions(engine="tesseract", jobs=1, max_pages=1),
                           on_volume=lambda n, count, path: calls.append((n, count, path)))
    assert [(n, count) for n, count, _ in calls] == [(1, 2), (2, 2)]
    assert [path.resolve() for _, _, path in calls] == [p.resolve() for p in result.volumes]
    assert all(p.is_file() and "第" in p.name for p in result.volumes)


def test_build_screen_counts_the_volumes_as_they_are_written(two_pages, tmp_path):
    data = tmp_path / "ui-data"
    with serve(data, build_overrides={"engine": "tesseract", "jobs": 1, "max_pages": 1}, local_operator="孙洋") as url, browser() as b:
        ctx = b.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        try:
            page.goto(f"{url}/batches")
            page.set_input_files("#upload-form input[type=file]", [str(f) for f in two_pages])
            page.click("#upload-form button")
            page.wait_for_url("**/batch/*/check")
            batch = page.url.rsplit("/", 2)[-2]
            page.goto(f"{url}/batch/{batch}/build")
            # every text the counter takes is kept in sessionStorage (survives the reload at the end)
            page.evaluate("""() => { sessionStorage.setItem('seen', '[]');
                const el = document.querySelector('#build-count');
                new MutationObserver(() => { const s = JSON.parse(sessionStorage.getItem('seen'));
                    s.push(el.textContent); sessionStorage.setItem('seen', JSON.stringify(s)); })
                    .observe(el, {childList: true, characterData: true, subtree: true}); }""")
            page.select_option("#engine", "tesseract")
            page.click("#start-build")
            page.wait_for_function("() => document.querySelectorAll('a.volume').length === 2", timeout=180_000)
            seen = page.evaluate("() => JSON.parse(sessionStorage.getItem('seen'))")
            assert "2/2 · 卷 1 / 2" in seen and "2/2 · 卷 2 / 2" in seen, seen
            assert seen.index("2/2 · 卷 1 / 2") < seen.index("2/2 · 卷 2 / 2")
            assert page.inner_text("#build-count") == "2/2 · 卷 2 / 2"  # the finished job, as rendered after the reload
        finally:
            ctx.close()
