"""What strict validation costs: reading user files through the typed models vs the raw parse.

Ours: ``parse_batch_bytes`` (JSON + the batch model), ``parse_case_bytes`` (TOML + the case
model), ``load_profile``-style ``parse_profile_text``. Peer in the same run: ``json.loads`` /
``tomllib.loads`` alone — what the readers did before, with no checks at all. Median of N.

    .venv/bin/python bench/bench_formats.py [--pages 2000] [--rows 500] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tomllib
from collections.abc import Callable

from dossier_station.core.formats.batch import parse_batch_bytes
from dossier_station.core.formats.case_file import parse_case_bytes
from dossier_station.core.profile import parse_profile_text


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    pages = [{"seq": i, "file": f"pages/{i:04d}.png", "sha256": "a" * 64, "bytes": 1000, "width": 2480, "height": 3508, "dpi": 300,
              "mode": "L", "side": "front", "time": "2026-01-01T00:00:00+0000", "thumb": f"thumbs/{i:04d}.jpg",
              "fingerprint": list(range(64)), "role": "page", "flags": []} for i in range(1, a.pages + 1)]
    batch = json.dumps({"format": "dossier-batch/1", "pages": pages, "state": "complete"}).encode()
    case = "".join(f'[[rows]]\n"顺序号" = {i}\n"题名" = "文书{i}"\n"日期" = "2024-01-02"\n"页数" = 3\n' for i in range(1, a.rows + 1)).encode()
    profile = '[build]\njobs = 2\nmax_pages = 150\n[scanner]\ndpi = 300\nmode = "gray"\n[pads]\npen_port = "/dev/ttyUSB0"\n'
    rows = [
        (f"batch.json, {a.pages} pages", lambda: parse_batch_bytes(batch, "batch.json"), lambda: json.loads(batch)),
        (f"case file, {a.rows} rows (TOML)", lambda: parse_case_bytes(case, "case.toml"), lambda: tomllib.loads(case.decode())),
        ("station profile, 3 tables", lambda: parse_profile_text(profile), lambda: tomllib.loads(profile)),
    ]
    print("| file | typed model (ours) | raw parse (peer) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, ours, peer in rows:
        o, p = _median_ms(ours, a.repeat), _median_ms(peer, a.repeat)
        print(f"| {label} | {o:.2f} ms | {p:.2f} ms | {o / p:.2f}× |")


if __name__ == "__main__":
    main()
