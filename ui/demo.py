"""``dossier ui --demo``: the virtual SANE scanner (``pnm``) loaded with the sample pages.

Same arrangement as ``dossier demo``: a private SANE_CONFIG_DIR naming the ``test`` and ``pnm``
backends, and one scheduled ``filename`` per page so the pnm device "feeds" the samples.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def prepare_demo_scanner(data_dir: Path) -> dict[int, dict[str, Any]]:
    from PIL import Image

    from dossier_station.ocr.loader import list_input_files
    from dossier_station.station.cli_demo import demo_pages

    sane = data_dir / ".sane"
    sane.mkdir(parents=True, exist_ok=True)
    (sane / "dll.conf").write_text("test\npnm\n")
    os.environ.setdefault("SANE_CONFIG_DIR", str(sane))
    feed = data_dir / ".demo-feed"
    feed.mkdir(exist_ok=True)
    schedule = {}
    for i, src in enumerate(list_input_files(demo_pages()), start=1):
        with Image.open(src) as im:
            mode = "RGB" if im.mode == "RGB" else "L"
            path = feed / f"{src.stem}.{'ppm' if mode == 'RGB' else 'pgm'}"
            if not path.exists():
                im.convert(mode).save(path)
        schedule[i] = {"filename": str(path)}
    return schedule
