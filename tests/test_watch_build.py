"""``dossier watch`` with the real build job: good files and case folders become dossiers while
corrupt, empty, encrypted, decompression-bomb, too-long and path-escaping inputs in the same
burst go to failed/ with their reason — and every job is in the custody journal."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys

import pikepdf
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def page(text: str) -> Image.Image:
    im = Image.new("L", (827, 1169), 255)  # A4 at 100 dpi: OCR is not the point here
    draw = ImageDraw.Draw(im)
    font = ImageFont.truetype(FONT, 28) if os.path.exists(FONT) else ImageFont.load_default()
    for i in range(4):
        draw.text((60, 100 + 60 * i), f"{text} line {i} of the hot folder test", fill=0, font=font)
    return im


def png(text: str) -> bytes:
    buf = io.BytesIO()
    page(text).save(buf, "PNG", dpi=(100, 100))
    return buf.getvalue()


def test_bad_inputs_fail_with_a_reason_while_good_ones_in_the_same_burst_are_built(tmp_path):
    hot, out = tmp_path / "hot", tmp_path / "out"
    hot.mkdir()
    profile = tmp_path / "station.toml"
    profile.write_text('[build]\nengine = "tesseract"\njobs = 1\n\n[watch]\nmax_pages = 2\ncase_template = "mfp.toml"\n', "utf-8")
    (tmp_path / "mfp.toml").write_text('[case]\n"案件编号" = "MFP-2026-01"\n"立卷单位" = "三楼扫描"\n\n[[rows]]\n"题名" = "扫描件"\n"页数" = 1\n', "utf-8")

    (hot / "good.png").write_bytes(png("single"))
    case = hot / "case-ok"
    case.mkdir()
    (case / "p1.png").write_bytes(png("first"))
    (case / "p2.png").write_bytes(png("second"))
    (case / "case.toml").write_text('[case]\n"案件名称" = "热文件夹测试"\n\n[[rows]]\n"题名" = "笔录"\n"页数" = 2\n', "utf-8")
    jpeg = io.BytesIO()
    page("cut").convert("RGB").save(jpeg, "JPEG")
    (hot / "corrupt.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 3])
    (hot / "empty.png").write_bytes(b"")
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(hot / "locked.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    Image.new("1", (13000, 13000), 1).save(hot / "bomb.png")
    frames = [page(f"frame {i}").convert("1") for i in range(3)]
    frames[0].save(hot / "toolong.tif", save_all=True, append_images=frames[1:], compression="group4")
    escape = hot / "escape"
    escape.mkdir()
    (escape / "p1.png").write_bytes(png("escape"))
    (escape / "case.toml").write_text('pages = "../case-ok"\n[[rows]]\n"题名" = "x"\n"页数" = 2\n', "utf-8")
    (hot / "stray.toml").write_text('pages = "/etc"\n', "utf-8")
    inputs = {p.name: p.stat().st_size for p in hot.iterdir()}

    run = subprocess.run(
        [sys.executable, "-m", "dossier_station.station", "watch", str(hot), "-o", str(out), "--profile", str(profile),
         "--once", "--stable", "0.3", "--workers", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in hot.iterdir()) == [".dossier-watch"]

    done = {p.name for p in (out / "done").iterdir()}
    assert done == {"good", "case-ok"}, run.stderr[-3000:]
    for job, volume in (("good", "MFP-2026-01.pdf"), ("case-ok", None)):  # single files get the folder's case template
        pdfs = sorted((out / "done" / job).glob("*.pdf"))
        assert len(pdfs) == 1 and (volume is None or pdfs[0].name == volume)
        with pikepdf.open(pdfs[0]) as built:
            assert len(built.pages) >= (1 if job == "good" else 2)
        record = json.loads((out / "done" / job / "job.json").read_text("utf-8"))
        assert {o["file"] for o in record["outputs"]} >= {pdfs[0].name, pdfs[0].stem + ".report.json"}
    assert (out / "done" / "case-ok" / "input" / "case-ok" / "case.toml").is_file()  # the case file kept with its pages

    expected = {
        "corrupt": "unreadable or truncated image",
        "empty": "empty (0 bytes)",
        "locked": "encrypted",
        "bomb": "decompression bomb",
        "toolong": "3 pages is over this hot folder's limit of 2",
        "escape": "points outside the job folder",
        "stray": "a case file on its own is not a job",
    }
    assert {p.name for p in (out / "failed").iterdir()} == set(expected)
    for job, reason in expected.items():
        text = (out / "failed" / job / "error.txt").read_text("utf-8")
        assert reason in text and "What to do:" in text, text
        assert not list((out / "failed" / job).glob("*.pdf"))
    moved = {p.name: p.stat().st_size for p in out.glob("*/*/input/*")}
    assert moved == inputs  # every input moved, none changed in size, none left out

    journal = sqlite3.connect(os.environ["DOSSIER_JOURNAL"])
    events = [json.loads(d) for (d,) in journal.execute("SELECT detail FROM events WHERE kind = 'watch-job' AND subject LIKE ?", (f"{hot}/%",))]
    assert sorted(e["event"] for e in events) == sorted(["taken"] * 9 + ["done"] * 2 + ["failed"] * 7)
    good = next(e for e in events if e["event"] == "done" and e["dest"].endswith("/good"))
    pdf_hash = next(o["sha256"] for o in good["outputs"] if o["file"] == "MFP-2026-01.pdf")
    from dossier_station.core.files import sha256_file

    assert pdf_hash == sha256_file(out / "done" / "good" / "MFP-2026-01.pdf")
