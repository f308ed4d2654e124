"""Born-digital PDF pages go into the dossier as they are (OCRmyPDF's --skip-text): a Form
XObject, no raster, no OCR text over their own — or, when PDF/A cannot hold them as they are,
the raster and their own text with the reason in the report.

The inputs are real PDFs made here: text set in the station's own embedded CJK font (as a case
system's 起诉书 would be), Helvetica left unembedded (as many simple writers do), a scan page
and a born-digital page in one file, /Rotate with a crop box, widgets and a JavaScript link.
Checked with independent tools: poppler (pdftotext, pdffonts, pdftoppm), qpdf --check,
pikepdf's PDF/A allowlist validator and PDFBox Preflight.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import pdf_makers  # noqa: E402

from dossier_station.assemble.canvas import Canvas  # noqa: E402
from dossier_station.assemble.fonts import CjkFont  # noqa: E402

INDICTMENT = ["上海市人民检察院起诉书", "沪检刑诉〔2024〕17号", "被告人张三，男，1980年生，汉族。"]
PREFLIGHT_CP = ":".join(
    f"/usr/share/java/{j}.jar" for j in ("preflight", "pdfbox2", "fontbox2", "xmpbox", "commons-logging", "javax.activation", "jaxb-api")
)


def cjk_pdf(out: Path, pages: list[list[str]], *, rotate: int = 0, crop: tuple[float, float, float, float] | None = None,
            cidset: bool = False, annotate: bool = False, user_unit: float | None = None, landscape: bool = False) -> Path:
    """A text PDF as a case system writes it: its font embedded, a red rule as vector content.

    ``landscape``: drawn turned a quarter counter-clockwise on the portrait page, as a landscape
    table is, so that /Rotate 90 shows it upright."""
    font = CjkFont()
    contents = []
    for lines in pages:
        c = Canvas(font)
        for i, t in enumerate(lines):
            c.text(150 if landscape else 72, (450 if landscape else 760) - 28 * i, t, 16)
        content = c.content() + b"\n1 0 0 RG 2 w 150 300 m 700 300 l S"  # a red rule: vectors, not pixels
        contents.append(b"q 0 1 -1 0 595.28 0 cm\n" + content + b"\nQ" if landscape else content)
    pdf = pikepdf.new()
    fonts = font.embed(pdf, cidset=cidset)
    for content in contents:
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595.28, 841.89],
                                  Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(fonts)), Contents=pikepdf.Stream(pdf, content))
        if rotate:
            page.Rotate = rotate
        if crop:
            page.CropBox = pikepdf.Array(crop)
        if user_unit:
            page.UserUnit = user_unit
        if annotate:  # a signature field and a link running JavaScript: neither belongs in the dossier page
            js = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('hi')"))
            link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[72, 700, 300, 720], A=js)
            sig = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Sig, T=pikepdf.String("签名"),
                                     Rect=[300, 100, 500, 160], F=4)
            seal = pikepdf.Stream(pdf, b"1 0 0 rg 0 0 120 120 re f")  # a stamp that prints: part of what the page shows
            seal.Type, seal.Subtype, seal.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, 120, 120]
            stamp = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Stamp, Rect=[400, 400, 520, 520], F=4,
                                       AP=pikepdf.Dictionary(N=pdf.make_indirect(seal)))
            page.Annots = pikepdf.Array([pdf.make_indirect(link), pdf.make_indirect(sig), pdf.make_indirect(stamp)])
        pdf.pages.append(pikepdf.Page(pdf.make_indirect(page)))
    if annotate:
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([pdf.pages[0].Annots[1]]), SigFlags=3)
    pdf.save(out)
    return out


def mixed_pdf(out: Path, scan: Image.Image, born: Path) -> Path:
    """One scanned page (a JPEG filling the page) then one born-digital page, in one file."""
    jpeg = out.with_suffix(".jpg")
    scan.convert("L").save(jpeg, quality=85, dpi=(300, 300))
    scan_pdf = out.with_suffix(".scan.pdf")
    Image.open(jpeg).save(scan_pdf, resolution=300.0)
    with pikepdf.open(scan_pdf) as a, pikepdf.open(born) as b:
        a.pages.append(b.pages[0])
        a.save(out)
    return out


def cairo_pdf(out: Path, source: Path) -> Path:
    """A PDF as cairo writes it (poppler's pdftocairo): fonts embedded, a transparency group."""
    subprocess.run(["pdftocairo", "-pdf", str(source), str(out)], check=True)
    return out


def cmyk_pdf(out: Path) -> Path:
    """A born-digital page that paints in DeviceCMYK (a print shop's export)."""
    cjk_pdf(out, [["青色印章的文书"]])
    with pikepdf.open(out, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]
        page.Contents = pikepdf.Stream(pdf, b"1 0 0 0 k 72 300 200 100 re f\n" + page.Contents.read_bytes())
        pdf.save(out)
    return out


def encrypted_pdf(out: Path, source: Path) -> Path:
    """Opens without a password, but its author restricted copying (owner password only)."""
    with pikepdf.open(source) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="secret", user="", allow=pikepdf.Permissions(extract=False)))
    return out


def _build(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "dossier_station.station", "build", str(folder), "-o", str(out), "--engine", "tesseract", "--jobs", "1", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _page_text(pdf: Path, n: int) -> str:
    return subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def _images_under(obj: pikepdf.Object, seen: set | None = None) -> int:
    """Image XObjects reachable from a page's or form's resources."""
    seen = set() if seen is None else seen
    count = 0
    xobjects = obj.get("/Resources", pikepdf.Dictionary()).get("/XObject", pikepdf.Dictionary())
    for _, x in xobjects.items():
        if x.objgen in seen:
            continue
        seen.add(x.objgen)
        count += 1 if x.get("/Subtype") == pikepdf.Name.Image else _images_under(x, seen)
    return count


@pytest.fixture(scope="module")
def build(tmp_path_factory, sample_dir):
    """One build (tesseract, one worker): kept, refused, mixed, rotated-and-cropped, annotated."""
    folder = tmp_path_factory.mktemp("born")
    cjk_pdf(folder / "1-indictment.pdf", [INDICTMENT, ["第二页：证据目录", "一、书证"]])
    pdf_makers.born_digital_pdf(folder / "2-helvetica.pdf", ["Indictment No. 2024-17", "Defendant: Zhang San"])
    born = cjk_pdf(tmp_path_factory.mktemp("parts") / "born.pdf", [["讯问笔录（第1次）", "问：你叫什么名字？"]])
    mixed_pdf(folder / "3-mixed.pdf", Image.open(sample_dir / "dev_008.jpg"), born)
    cjk_pdf(folder / "4-rotated.pdf", [["横排的表格页", "旋转九十度显示"]], rotate=90, crop=(36, 100, 560, 800), landscape=True)
    cjk_pdf(folder / "4b-sideways.pdf", [["误设旋转的文书", "应当正着装订"]], rotate=90)  # /Rotate set by mistake
    cjk_pdf(folder / "5-signed.pdf", [["询问笔录", "以上笔录我看过，和我说的相符。"]], annotate=True)
    encrypted_pdf(folder / "6-encrypted.pdf", born)
    cairo_pdf(folder / "7-cairo.pdf", pdf_makers.born_digital_pdf(born.parent / "helv.pdf", ["Case No. 2024-88"]))
    cmyk_pdf(folder / "8-cmyk.pdf")
    cjk_pdf(folder / "9-userunit.pdf", [["图纸页 UserUnit 2"]], user_unit=2.0)
    out = tmp_path_factory.mktemp("born-out")
    result = _build(folder, out)
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(next(out.glob("*.report.json")).read_text("utf-8"))
    rows = {p["key"]: p for p in report["pages"]}
    volume = next(out.glob("*.pdf"))
    return {"folder": folder, "rows": rows, "report": report, "pdf": volume, "stdout": result.stdout}


def _dossier_page(b, key: str) -> int:
    """1-based PDF page of a document page (cover and catalogue come first)."""
    with pikepdf.open(b["pdf"]) as pdf:
        labels = [str(p.label) for p in pdf.pages]
    return labels.index(str(b["rows"][key]["page_number"])) + 1


def test_born_digital_page_is_a_form_xobject_with_no_raster(build):
    row = build["rows"]["1-indictment.pdf#1"]
    assert row["kept_vector"] and row["born_digital"] and row["engine"].startswith("none")
    assert row["image_decision"].startswith("kept as born-digital vector page")
    assert build["report"]["summary"]["kept_born_digital"][:2] == ["1-indictment.pdf#1", "1-indictment.pdf#2"]
    assert "kept as born-digital vector pages" in " ".join(build["stdout"].split())
    n = _dossier_page(build, "1-indictment.pdf#1")
    with pikepdf.open(build["pdf"]) as pdf:
        page = pdf.pages[n - 1]
        xobjects = page.Resources.XObject
        assert list(xobjects.keys()) == ["/Fm0"] and xobjects.Fm0.Subtype == pikepdf.Name.Form
        assert _images_under(page.obj) == 0
        assert abs(float(page.MediaBox[2]) - 595.28) < 0.01 and abs(float(page.MediaBox[3]) - 841.89) < 0.01


def test_kept_page_text_comes_out_exactly_once_with_its_page_number(build):
    n = _dossier_page(build, "1-indictment.pdf#1")
    text = _page_text(build["pdf"], n)
    for line in INDICTMENT:
        assert text.count(line) == 1, text
    number = str(build["rows"]["1-indictment.pdf#1"]["page_number"])
    assert number in text.split()  # the stamped page number, over the imported page


def test_pages_of_one_file_share_its_font_in_the_dossier(build):
    a, b = _dossier_page(build, "1-indictment.pdf#1"), _dossier_page(build, "1-indictment.pdf#2")
    with pikepdf.open(build["pdf"]) as pdf:
        fa = pdf.pages[a - 1].Resources.XObject.Fm0.Resources.Font
        fb = pdf.pages[b - 1].Resources.XObject.Fm0.Resources.Font
        assert {v.objgen for _, v in fa.items()} == {v.objgen for _, v in fb.items()}


def test_every_font_embedded_and_volume_passes_pdfa_and_qpdf(build):
    from pikepdf.pdfa import validate_written

    fonts = subprocess.run(["pdffonts", str(build["pdf"])], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # the emb column
    report = validate_written(build["pdf"], "3b")
    assert report.passed, [str(f) for f in report.findings]
    check = subprocess.run(["qpdf", "--check", str(build["pdf"])], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_page_with_unembedded_font_falls_back_to_raster_with_the_reason(build):
    row = build["rows"]["2-helvetica.pdf"]
    assert row["born_digital"] and not row["kept_vector"]
    assert "not kept as vector" in row["image_decision"] and "not embedded" in row["image_decision"]
    assert "Indictment No. 2024-17" in row["text"]  # its own text, not OCR'd
    n = _dossier_page(build, "2-helvetica.pdf")
    with pikepdf.open(build["pdf"]) as pdf:
        assert "/Im0" in pdf.pages[n - 1].Resources.XObject
    assert _page_text(build["pdf"], n).count("Defendant: Zhang San") == 1


@pytest.mark.parametrize(("key", "why"), [
    ("6-encrypted.pdf", "encrypted"),
    ("8-cmyk.pdf", "DeviceCMYK"),
])
def test_pages_pdfa_cannot_hold_as_they_are_go_in_as_raster_with_why(build, key, why):
    row = build["rows"][key]
    assert row["born_digital"] and not row["kept_vector"] and why in row["image_decision"]
    with pikepdf.open(build["pdf"]) as pdf:
        assert "/Im0" in pdf.pages[_dossier_page(build, key) - 1].Resources.XObject


def test_cairo_page_with_transparency_is_kept_in_pdfa_3(build):
    assert build["rows"]["7-cairo.pdf"]["kept_vector"]  # PDF/A-2 and -3 allow transparency
    assert _page_text(build["pdf"], _dossier_page(build, "7-cairo.pdf")).count("Case No. 2024-88") == 1


def test_mixed_pdf_gives_one_ocrd_raster_page_and_one_kept_vector_page(build):
    scan, born = build["rows"]["3-mixed.pdf#1"], build["rows"]["3-mixed.pdf#2"]
    assert not scan["born_digital"] and not scan["kept_vector"] and scan["engine"] == "tesseract" and scan["chars"] > 100
    assert born["kept_vector"]
    with pikepdf.open(build["pdf"]) as pdf:
        assert "/Im0" in pdf.pages[_dossier_page(build, "3-mixed.pdf#1") - 1].Resources.XObject
        assert list(pdf.pages[_dossier_page(build, "3-mixed.pdf#2") - 1].Resources.XObject.keys()) == ["/Fm0"]
    assert _page_text(build["pdf"], _dossier_page(build, "3-mixed.pdf#2")).count("讯问笔录（第1次）") == 1


def _render(pdf: Path, n: int, out: Path) -> np.ndarray:
    subprocess.run(["pdftoppm", "-r", "36", "-gray", "-cropbox", "-f", str(n), "-l", str(n), "-singlefile", "-png", str(pdf), str(out)], check=True)
    return np.asarray(Image.open(f"{out}.png"), dtype=np.int16)


def _shows_as_the_source(build, key: str, tmp_path: Path) -> None:
    """Rendered by poppler, the dossier page and the source page are the same picture (but for
    our page number, top right)."""
    ours = _render(build["pdf"], _dossier_page(build, key), tmp_path / "ours")
    theirs = _render(build["folder"] / key, 1, tmp_path / "theirs")
    assert ours.shape == theirs.shape
    diff = np.abs(ours - theirs)
    diff[: ours.shape[0] // 8, -ours.shape[1] // 4:] = 0
    assert diff.mean() < 1.0 and (diff > 64).mean() < 0.002


def test_rotated_and_cropped_page_shows_as_the_source_shows_it(build, tmp_path):
    assert build["rows"]["4-rotated.pdf"]["kept_vector"]
    with pikepdf.open(build["pdf"]) as pdf:
        box = pdf.pages[_dossier_page(build, "4-rotated.pdf") - 1].MediaBox
        assert (round(float(box[2]), 2), round(float(box[3]), 2)) == (700.0, 524.0)  # the crop box, turned 90°
    _shows_as_the_source(build, "4-rotated.pdf", tmp_path)


def test_printing_stamp_stays_on_the_page_fields_links_and_javascript_are_left_out(build, tmp_path):
    row = build["rows"]["5-signed.pdf"]
    assert row["kept_vector"]
    _shows_as_the_source(build, "5-signed.pdf", tmp_path)  # the red stamp is flattened into the page
    n = _dossier_page(build, "5-signed.pdf")
    with pikepdf.open(build["pdf"]) as pdf:
        assert "/Annots" not in pdf.pages[n - 1]
        assert "/AcroForm" not in pdf.Root
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary):
                assert obj.get("/S") != pikepdf.Name.JavaScript


def test_pdfa_1b_volume_keeps_what_pdfa_1_allows_and_passes_preflight(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cjk_pdf(folder / "1-cidset.pdf", [INDICTMENT], cidset=True)  # PDF/A-1 wants the subset's CIDSet
    cjk_pdf(folder / "2-no-cidset.pdf", [["无CIDSet的文书"]])
    cairo_pdf(folder / "3-cairo.pdf", pdf_makers.born_digital_pdf(tmp_path / "helv.pdf", ["Case No. 2024-88"]))
    out = tmp_path / "out"
    result = _build(folder, out, "--pdfa", "1b")
    assert result.returncode == 0, result.stderr + result.stdout
    rows = {p["key"]: p for p in json.loads(next(out.glob("*.report.json")).read_text("utf-8"))["pages"]}
    assert rows["1-cidset.pdf"]["kept_vector"]
    assert not rows["2-no-cidset.pdf"]["kept_vector"] and "CIDSet" in rows["2-no-cidset.pdf"]["image_decision"]
    assert not rows["3-cairo.pdf"]["kept_vector"] and "transparency" in rows["3-cairo.pdf"]["image_decision"]
    volume = next(out.glob("*.pdf"))
    pre = subprocess.run(["java", "-cp", PREFLIGHT_CP, "org.apache.pdfbox.preflight.Validator_A1b", str(volume)], capture_output=True, text=True, timeout=180)
    assert pre.returncode == 0 and "is a valid PDF/A-1b file" in pre.stdout, pre.stdout + pre.stderr


def test_writer_refuses_a_source_changed_since_it_was_hashed(tmp_path):
    from dossier_station.assemble.imported_page import SourcePdfs
    from dossier_station.core.errors import InputFileError
    from dossier_station.core.model import ImportedPage

    src = cjk_pdf(tmp_path / "a.pdf", [INDICTMENT])
    imp = ImportedPage(src, 0, "0" * 64, (1, 0, 0, 1, 0, 0), (0, 0, 595.28, 841.89))
    with SourcePdfs(tmp_path) as sources, pytest.raises(InputFileError, match="changed during the build"):
        sources.refusal(imp, "2b")
    assert not list(tmp_path.glob(".import-*"))  # no copy left behind


def test_page_spec_with_an_imported_page_round_trips_through_json():
    from dossier_station.core.model import EncodedImage, ImportedPage, PageSpec

    spec = PageSpec(100.0, 200.0, EncodedImage(Path("/w/0001.png"), "/FlateDecode", 10, 20, "/DeviceGray", 8), (100, 0, 0, 200, 0, 0),
                    key="a.pdf#2", imported=ImportedPage(Path("/in/a.pdf"), 1, "ab" * 32, (0.0, -1.0, 1.0, 0.0, 0.0, 595.0), (0.0, 0.0, 595.0, 842.0)))
    assert PageSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    plain = PageSpec(1.0, 2.0, spec.image, spec.matrix)
    assert "imported" not in plain.to_json() and PageSpec.from_json(plain.to_json()) == plain


@given(
    st.tuples(*[st.floats(-2000, 2000, allow_nan=False) for _ in range(2)]),
    st.floats(1, 3000), st.floats(1, 3000), st.sampled_from([0, 90, 180, 270]), st.floats(0.1, 10),
)
def test_placement_maps_the_displayed_box_exactly_onto_the_page(corner, w, h, rotate, unit):
    from dossier_station.ocr.pdf_pages import placement

    x0, y0 = corner
    (a, b, c, d, e, f), width, height = placement((x0, y0, x0 + w, y0 + h), rotate, unit)
    xs = [a * x + c * y + e for x in (x0, x0 + w) for y in (y0, y0 + h)]
    ys = [b * x + d * y + f for x in (x0, x0 + w) for y in (y0, y0 + h)]
    tol = 1e-3 * max(1.0, unit) + 1e-6 * max(abs(x0), abs(y0), w, h) * unit
    assert abs(min(xs)) < tol and abs(min(ys)) < tol
    assert abs(max(xs) - width) < tol and abs(max(ys) - height) < tol


@functools.cache
def _pristine() -> bytes:
    folder = Path(tempfile.mkdtemp(prefix="born-pristine-"))
    return cjk_pdf(folder / "p.pdf", [INDICTMENT]).read_bytes()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6))
def test_any_damage_to_a_born_digital_source_gives_a_verdict_or_a_clear_error(flips):
    """A source damaged after the page stage read it: the writer keeps it, refuses it with a
    reason, or stops with the loader's clear error — never a traceback."""
    from dossier_station.assemble.imported_page import SourcePdfs
    from dossier_station.core.errors import InputFileError
    from dossier_station.core.files import sha256_file
    from dossier_station.core.model import ImportedPage

    data = bytearray(_pristine())
    for where, byte in flips:
        data[int(where * len(data))] = byte
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "damaged.pdf"
        src.write_bytes(bytes(data))
        imp = ImportedPage(src, 0, sha256_file(src), (1, 0, 0, 1, 0, 0), (0, 0, 595.28, 841.89))
        try:
            with SourcePdfs(Path(tmp)) as sources:
                why = sources.refusal(imp, "2b")
                assert why is None or isinstance(why, str)
                if why is None:
                    dest = pikepdf.new()
                    dest.pages.append(pikepdf.Page(pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842])))
                    dest.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Fm0=sources.place(dest, imp)))
                    dest.save(io.BytesIO())
        except InputFileError as exc:
            assert "damaged.pdf" in str(exc)


def test_catalogue_labels_and_bookmarks_count_kept_pages(build):
    rows = build["rows"]
    vol = build["report"]["volumes"][0]
    assert vol["numbered_pages"] == len(rows) and [r["page_number"] for r in rows.values()] == list(range(1, len(rows) + 1))
    with pikepdf.open(build["pdf"]) as pdf:
        labels = [str(p.label) for p in pdf.pages]
        assert labels[-2] == str(len(rows))  # the last document page, before the back sheet
        with pdf.open_outline() as outline:
            targets = [item.destination[0].objgen for item in outline.root if item.destination is not None]
        first = pdf.pages[_dossier_page(build, "1-indictment.pdf#1") - 1].obj.objgen
        assert first in targets  # the document's bookmark opens on its first (kept) page


def test_a_document_split_across_volumes_imports_its_pages_into_each(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    cjk_pdf(folder / "long.pdf", [["第一卷的页"], ["第二卷的页"]])
    out = tmp_path / "out"
    result = _build(folder, out, "--max-pages", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    volumes = sorted(out.glob("*.pdf"))
    assert len(volumes) == 2
    for volume, line in zip(volumes, ["第一卷的页", "第二卷的页"], strict=True):
        text = subprocess.run(["pdftotext", str(volume), "-"], capture_output=True, text=True, check=True).stdout
        assert text.count(line) == 1
        assert subprocess.run(["qpdf", "--check", str(volume)], capture_output=True).returncode == 0
    assert not list(out.glob(".import-*")) and not list(out.rglob(".import-*"))  # scratch copies removed


def test_user_unit_page_is_kept_at_its_real_size(build):
    row = build["rows"]["9-userunit.pdf"]
    assert row["kept_vector"] and "/UserUnit 2" in row["dpi_note"]  # the report says how its units were taken
    with pikepdf.open(build["pdf"]) as pdf:
        box = pdf.pages[_dossier_page(build, "9-userunit.pdf") - 1].MediaBox
        assert (round(float(box[2]), 2), round(float(box[3]), 2)) == (1190.56, 1683.78)  # 2 × A4 in points


def test_page_whose_rotate_shows_its_text_sideways_is_kept_upright(build):
    row = build["rows"]["4b-sideways.pdf"]
    assert row["kept_vector"] and "so that its text is upright" in row["pdf_page"]
    assert row["rotation_deg"] in (90, 270)  # the report says the page was turned a quarter beyond its /Rotate
    assert all(r["rotation_deg"] == 0 for k, r in build["rows"].items() if r.get("kept_vector") and k != "4b-sideways.pdf")
    n = _dossier_page(build, "4b-sideways.pdf")
    with pikepdf.open(build["pdf"]) as pdf:
        box = pdf.pages[n - 1].MediaBox
        assert (round(float(box[2]), 2), round(float(box[3]), 2)) == (595.28, 841.89)  # portrait, as its text reads
    words = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-bbox", str(build["pdf"]), "-"], capture_output=True, text=True, check=True).stdout
    import re

    boxes = [tuple(map(float, m)) for m in re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">误设', words)]
    assert boxes and all(x1 - x0 > y1 - y0 for x0, y0, x1, y1 in boxes)  # the line runs across the page
