"""The dossier writer, checked with independent tools (PDFBox, qpdf, poppler, pikepdf)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest
from assemble_helpers import spec_from_sample

from dossier_station.assemble.case import Case, CaseFields, CatalogueRow
from dossier_station.assemble.writer import split_volumes, write_volume
from dossier_station.core.errors import CaseFileError, OutputError

PREFLIGHT_CP = ":".join(
    f"/usr/share/java/{j}.jar"
    for j in ("preflight", "pdfbox2", "fontbox2", "xmpbox", "commons-logging", "javax.activation", "jaxb-api")
)
UPRIGHT = ["dev_002.jpg", "dev_006.jpg", "dev_008.jpg", "dev_009.jpg", "dev_012.jpg"]


def _case(rows: list[CatalogueRow]) -> Case:
    return Case(CaseFields(case_name="测试案", case_number="（2024）测001号", compiler="张三", checker="李四"), rows)


def _docs(sample_dir: Path, sizes: list[int]) -> list:
    specs = [spec_from_sample(sample_dir / name) for name in UPRIGHT]
    docs, i = [], 0
    for seq, n in enumerate(sizes, start=1):
        docs.append((CatalogueRow(seq=seq, title=f"文书{seq}", date="20240101"), [specs[(i + j) % len(specs)] for j in range(n)]))
        i += n
    return docs


def _labels(pdf_path: Path) -> list[str]:
    with pikepdf.open(pdf_path) as pdf:
        return [str(p.label) for p in pdf.pages]


def test_pdfa_1b_build_passes_pdfbox_preflight(tmp_path, sample_dir):
    docs = _docs(sample_dir, [2, 1])
    docs[0] = (replace(docs[0][0], author="𠮷野"), docs[0][1])  # a fallback face (CIDSet, ToUnicode) too
    out = tmp_path / "v.pdf"
    write_volume(_case([r for r, _ in docs]), docs, 1, 1, out, pdfa="1b")
    result = subprocess.run(
        ["java", "-cp", PREFLIGHT_CP, "org.apache.pdfbox.preflight.Validator_A1b", str(out)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid PDF/A-1b file" in result.stdout
    with pikepdf.open(out) as pdf:
        assert pdf.open_metadata().pdfa_status == "1B"
        assert pdf.pdf_version == "1.4"


@pytest.mark.parametrize("level", ["2b", "3b"])
def test_pdfa_2b_and_3b_pass_pikepdfs_allowlist_validator(tmp_path, sample_dir, level):
    from pikepdf.pdfa import validate_written

    from dossier_station.core.model import Attachment

    docs = _docs(sample_dir, [2, 1])
    out = tmp_path / "v.pdf"
    atts = [Attachment("report.json", b"{}", "application/json", "report", "/Supplement")] if level == "3b" else []
    write_volume(_case([r for r, _ in docs]), docs, 1, 1, out, pdfa=level, attachments=atts)
    report = validate_written(out, level)
    assert report.passed, [str(f) for f in report.findings]


def test_volumes_split_at_max_pages_and_numbering_restarts(tmp_path, sample_dir):
    docs = _docs(sample_dir, [2, 2, 1, 3])
    volumes = split_volumes(docs, max_pages=4)
    assert [sum(len(p) for _, p in v) for v in volumes] == [4, 4]
    for n, vol in enumerate(volumes, start=1):
        out = tmp_path / f"v{n}.pdf"
        result = write_volume(_case([r for r, _ in docs]), vol, n, len(volumes), out)
        labels = _labels(out)
        assert [x for x in labels if x.isdigit()] == ["1", "2", "3", "4"]
        assert labels[0] == "封面" and labels[-1] == "备考表"
        assert result.numbered_pages == 4
        assert subprocess.run(["qpdf", "--check", str(out)], capture_output=True).returncode == 0


def test_a_document_longer_than_a_volume_continues_in_the_next(sample_dir):
    docs = _docs(sample_dir, [5])
    volumes = split_volumes(docs, max_pages=3)
    assert [len(v[0][1]) for v in volumes] == [3, 2]
    assert volumes[1][0].row.seq == 1 and volumes[1][0].continued and not volumes[0][0].continued
    assert volumes[1][0].row.remarks == ""  # the row's own remark is left as written


def _catalogue_text(pdf_path: Path) -> str:
    return subprocess.run(["pdftotext", "-f", "2", "-l", "2", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout


def test_a_split_document_is_marked_continued_once_in_the_next_volume(tmp_path, sample_dir):
    docs = [(replace(docs_row, remarks="原件"), pages) for docs_row, pages in _docs(sample_dir, [3])]
    volumes = split_volumes(docs, max_pages=2)
    case = _case([docs[0][0]])
    out = tmp_path / "v2.pdf"
    write_volume(case, volumes[1], 2, 2, out)
    text = _catalogue_text(out).replace(" ", "").replace("\n", "")
    assert text.count("续") == 1 and "原件（续）" in text
    back = subprocess.run(["pdftotext", "-l", "99", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "跨卷" in back


def test_a_remark_containing_xu_is_not_taken_for_a_continuation(tmp_path, sample_dir):
    row, pages = _docs(sample_dir, [1])[0]
    row = replace(row, remarks="见前卷（续）")
    out = tmp_path / "v.pdf"
    write_volume(_case([row]), [(row, pages)], 1, 1, out)
    assert _catalogue_text(out).count("续") == 1  # the remark itself, nothing added
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "跨卷" not in text


def test_long_catalogue_runs_over_several_pages_with_header_repeated(tmp_path, sample_dir):
    spec = spec_from_sample(sample_dir / "dev_002.jpg")
    rows = [CatalogueRow(seq=i, title=f"第{i}份询问笔录（被询问人王某某，关于案发当晚经过的陈述）", author="某某市公安局刑事侦查大队") for i in range(1, 61)]
    out = tmp_path / "long.pdf"
    result = write_volume(_case(rows), [(r, [spec]) for r in rows], 1, 1, out)
    labels = _labels(out)
    catalogue = [i for i, x in enumerate(labels) if x.startswith("目录")]
    assert len(catalogue) >= 2
    for i in catalogue:
        text = subprocess.run(["pdftotext", "-f", str(i + 1), "-l", str(i + 1), str(out), "-"], capture_output=True, text=True).stdout
        assert "顺序号" in text and "题名" in text
    assert result.row_pages[-1] == (60, 60, 60)


def test_catalogue_page_numbers_match_stamped_numbers(tmp_path, sample_dir):
    docs = _docs(sample_dir, [2, 1, 2])
    out = tmp_path / "v.pdf"
    result = write_volume(_case([r for r, _ in docs]), docs, 1, 1, out)
    assert result.row_pages == [(1, 1, 2), (2, 3, 3), (3, 4, 5)]
    text = subprocess.run(["pdftotext", "-layout", "-f", "2", "-l", "2", str(out), "-"], capture_output=True, text=True).stdout
    assert re.search(r"文书3.*4-5", text), text
    labels = _labels(out)
    for number in ("1", "3", "4"):
        i = labels.index(number)
        page = subprocess.run(["pdftotext", "-f", str(i + 1), "-l", str(i + 1), str(out), "-"], capture_output=True, text=True).stdout
        assert page.strip().splitlines()[0].strip() == number


def test_outline_has_one_entry_per_catalogue_row(tmp_path, sample_dir):
    docs = _docs(sample_dir, [1, 2])
    out = tmp_path / "v.pdf"
    write_volume(_case([r for r, _ in docs]), docs, 1, 1, out)
    with pikepdf.open(out) as pdf, pdf.open_outline() as ol:
        titles = [item.title for item in ol.root]
        labels = [str(p.label) for p in pdf.pages]
        dests = {item.title: pdf.pages.index(pikepdf.Page(item.destination[0])) for item in ol.root}
    assert "1 文书1" in titles and "2 文书2" in titles
    assert labels[dests["2 文书2"]] == "2"


def test_text_layer_lines_up_with_the_ground_truth_boxes(tmp_path, sample_dir):
    spec = spec_from_sample(sample_dir / "dev_002.jpg")
    out = tmp_path / "v.pdf"
    write_volume(_case([CatalogueRow(1, "笔录")]), [(CatalogueRow(1, "笔录"), [spec])], 1, 1, out)
    index = _labels(out).index("1") + 1
    html = subprocess.run(["pdftotext", "-bbox-layout", "-f", str(index), "-l", str(index), str(out), "-"], capture_output=True, text=True).stdout
    boxes = [tuple(map(float, m)) for m in re.findall(r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"', html)]
    hpt = spec.height_pt
    matched = 0
    for ln in spec.lines:
        want = (ln.x0, hpt - ln.y1, ln.x1, hpt - ln.y0)
        for b in boxes:
            ix = max(0.0, min(want[2], b[2]) - max(want[0], b[0]))
            iy = max(0.0, min(want[3], b[3]) - max(want[1], b[1]))
            inter = ix * iy
            union = (want[2] - want[0]) * (want[3] - want[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
            if union and inter / union > 0.6:
                matched += 1
                break
    assert matched >= 0.9 * len(spec.lines), (matched, len(spec.lines))


def test_pdfa_3b_carries_attachments_with_relationship(tmp_path, sample_dir):
    from dossier_station.core.model import Attachment

    docs = _docs(sample_dir, [1])
    out = tmp_path / "v.pdf"
    att = Attachment("case.toml", b"[case]\n", "application/toml", "case", "/Source")
    write_volume(_case([r for r, _ in docs]), docs, 1, 1, out, pdfa="3b", attachments=[att])
    with pikepdf.open(out) as pdf:
        assert pdf.open_metadata().pdfa_status == "3B"
        af = pdf.Root.AF
        assert len(af) == 1 and af[0].AFRelationship == pikepdf.Name.Source
        assert pdf.attachments["case.toml"].get_file().read_bytes() == b"[case]\n"


def test_a_failed_write_leaves_no_file_behind(tmp_path, sample_dir):
    docs = _docs(sample_dir, [1])
    row, (spec,) = docs[0]
    broken = spec.__class__(**{**spec.__dict__, "image": spec.image.__class__(**{**spec.image.__dict__, "data_path": tmp_path / "gone.jpg"})})
    out = tmp_path / "v.pdf"
    with pytest.raises(OutputError, match="gone.jpg"):
        write_volume(_case([row]), [(row, [broken])], 1, 1, out)
    assert list(tmp_path.glob("v.pdf*")) == []


def test_memory_stays_flat_as_a_volume_grows(tmp_path):
    """Peak RSS of writing 10 vs 120 pages (~1 MB of JPEG each): images never sit in memory."""
    import sys

    script = (
        "import sys, resource; sys.path[:0] = [{repo!r}, {tests!r}]\n"
        "from pathlib import Path\n"
        "from assemble_helpers import spec_from_sample\n"
        "from assemble.case import Case, CaseFields, CatalogueRow\n"
        "from assemble.writer import write_volume\n"
        "n = int(sys.argv[1]); spec = spec_from_sample(Path({sample!r}))\n"
        "row = CatalogueRow(1, 'x')\n"
        "write_volume(Case(CaseFields(case_name='x'), [row]), [(row, [spec] * n)], 1, 1, Path(sys.argv[2]))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    here = Path(__file__).resolve().parent
    code = script.format(repo=str(here.parent), tests=str(here), sample=str(here.parent.parent / "shared/data/pages/dev_004.jpg"))
    peaks = []
    for n in (10, 120):
        out = subprocess.run([sys.executable, "-c", code, str(n), str(tmp_path / f"{n}.pdf")], capture_output=True, text=True, check=True)
        peaks.append(int(out.stdout.split()[-1]))
    assert (tmp_path / "120.pdf").stat().st_size > 100 * 2**20  # the images are in the file…
    assert peaks[1] - peaks[0] < 30, peaks  # …but were not held in memory (120 MB of images)


def test_rare_characters_in_names_appear_on_cover_and_catalogue(tmp_path, sample_dir):
    """𠮷 (U+20BB7, CJK Extension B) is not in the main font: it comes from a fallback face."""
    row, pages = _docs(sample_dir, [1])[0]
    row = replace(row, title="𠮷田的询问笔录", author="𠮷野")
    case = Case(CaseFields(case_name="𠮷野案", case_number="（2024）测001号", suspects="𠮷野 㐀"), [row])
    out = tmp_path / "v.pdf"
    write_volume(case, [(row, pages)], 1, 1, out)
    cover = subprocess.run(["pdftotext", "-l", "1", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "𠮷野案" in cover and "𠮷野 㐀" in cover
    assert "𠮷田的询问笔录" in _catalogue_text(out)
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert fonts.count("CID TrueType") == 2  # the main face and one fallback, both embedded


def test_a_character_in_no_installed_font_stops_with_the_field_named(tmp_path, sample_dir):
    row, pages = _docs(sample_dir, [1])[0]
    case = Case(CaseFields(case_name="测试案", suspects="张\U00030000"), [row])
    with pytest.raises(CaseFileError) as err:
        write_volume(case, [(row, pages)], 1, 1, tmp_path / "v.pdf")
    assert "U+30000" in str(err.value) and "犯罪嫌疑人" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_ocr_text_the_fonts_lack_is_counted_not_fatal():
    from dossier_station.assemble.fonts import CjkFont

    font = CjkFont()
    ops = font.show("法\U00030000院", 12)
    assert font.missing == 1 and "\U00030000" in font.missing_chars
    assert "<6CD59662>" in ops  # 法院 as CID = code point in the main face


def test_fonts_are_found_without_fontconfig_and_by_dossier_font(tmp_path):
    """No fc-list on PATH (Windows, minimal containers): the usual font folders are searched;
    DOSSIER_FONT names a font outright."""
    import os
    import sys

    code = "from dossier_station.assemble.fonts import find_font; print(find_font()[0])"
    env = {k: v for k, v in os.environ.items() if k != "DOSSIER_FONT"}
    env["PATH"] = str(tmp_path)  # no fc-list here
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert Path(found).is_file()
    env["DOSSIER_FONT"] = found + ":1"
    named = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert named == found


def test_srgb_profile_from_the_icc_folders_or_built_in_for_pdfa_2(tmp_path, monkeypatch):
    from dossier_station.assemble import pdfa
    from dossier_station.core.errors import MissingDependencyError

    pdfa.find_srgb_profile.cache_clear()
    monkeypatch.delenv("DOSSIER_ICC", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "none"))
    try:
        assert pdfa.find_srgb_profile() is None
        icc = pdfa.srgb_profile("2b")  # littleCMS's built-in sRGB (ICC v4, allowed from PDF/A-2)
        assert icc[36:40] == b"acsp" and icc[16:20] == b"RGB "
        with pytest.raises(MissingDependencyError, match="sRGB"):
            pdfa.srgb_profile("1b")  # PDF/A-1 needs an ICC v2 file: a clear error naming the package
        pdfa.find_srgb_profile.cache_clear()
        monkeypatch.setenv("XDG_DATA_DIRS", "/usr/share")
        assert pdfa.find_srgb_profile() is not None  # icc-profiles-free, found by the convention
    finally:
        pdfa.find_srgb_profile.cache_clear()


def _volume_in_subprocess(tmp_path: Path, path_env: str) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    here = Path(__file__).resolve().parent
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from pathlib import Path\n"
        "from assemble_helpers import spec_from_sample\n"
        "from dossier_station.assemble.case import Case, CaseFields, CatalogueRow\n"
        "from dossier_station.assemble.writer import write_volume\n"
        "from dossier_station.core.errors import DossierError\n"
        "row = CatalogueRow(1, 'x'); spec = spec_from_sample(Path(sys.argv[2]))\n"
        "try:\n"
        "    write_volume(Case(CaseFields(case_name='x'), [row]), [(row, [spec])], 1, 1, Path(sys.argv[3]))\n"
        "except DossierError as e:\n"
        "    print(type(e).__name__, e); sys.exit(int(e.exit_code))\n"
    )
    env = {**os.environ, "PATH": path_env}
    return subprocess.run([sys.executable, "-c", code, str(here), str(here.parent.parent / "shared/data/pages/dev_002.jpg"), str(tmp_path / "v.pdf")],
                          capture_output=True, text=True, env=env)


def test_missing_qpdf_is_a_clear_missing_dependency(tmp_path):
    result = _volume_in_subprocess(tmp_path, str(tmp_path))  # a PATH without qpdf
    assert result.returncode == 3 and "MissingDependencyError" in result.stdout and "qpdf" in result.stdout, result
    assert not (tmp_path / "v.pdf").exists()


def test_qpdf_exiting_0_after_a_failed_write_is_not_trusted(tmp_path):
    """qpdf can exit 0 when the disk filled under it (seen on a full disk; the full-disk case
    itself is in test_faults.py). Here a wrapper around the real qpdf cuts its output short and
    still exits 0 — a stand-in for that failure, which cannot be produced on demand."""
    import shutil

    real = shutil.which("qpdf")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "qpdf").write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then exec {real} --version; fi\n'
        f'{real} "$@"\n'
        'for last; do :; done\n'  # the output file is the last argument
        'head -c 2000 "$last" > "$last.cut" && mv "$last.cut" "$last"\n'
        "exit 0\n"
    )
    (fake / "qpdf").chmod(0o755)
    (tmp_path / "v.pdf").write_bytes(b"previous good volume")
    result = _volume_in_subprocess(tmp_path, f"{fake}:/usr/bin:/bin")
    assert result.returncode == 4 and "OutputError" in result.stdout, result
    assert (tmp_path / "v.pdf").read_bytes() == b"previous good volume"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "v.pdf"]
