"""The whole build on the sample pages, checked with independent tools (poppler, qpdf, pikepdf)."""

from __future__ import annotations

import re
import subprocess

import pikepdf


def _pdf(built_dossier):
    assert len(built_dossier.volumes) == 1
    return built_dossier.volumes[0]


def _page_text(pdf, index: int) -> str:
    return subprocess.run(
        ["pdftotext", "-f", str(index + 1), "-l", str(index + 1), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_output_passes_qpdf_check(built_dossier):
    result = subprocess.run(["qpdf", "--check", str(_pdf(built_dossier))], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_output_claims_pdfa_and_embeds_case_and_report(built_dossier):
    with pikepdf.open(_pdf(built_dossier)) as pdf:
        assert pdf.open_metadata().pdfa_status == "3B"
        names = set(pdf.attachments.keys())
    assert "build-report.json" in names and "case.toml" in names


def test_every_font_is_embedded(built_dossier):
    out = subprocess.run(["pdffonts", str(_pdf(built_dossier))], capture_output=True, text=True, check=True).stdout
    rows = out.strip().splitlines()[2:]
    assert rows, "no fonts at all: the text layer is missing"
    for row in rows:
        assert " yes " in row.split("Identity-H")[-1] or re.search(r"\syes\s+yes\s", row), row


def test_numbered_pages_are_the_non_blank_pages_in_order(built_dossier, ground_truth):
    rep = built_dossier.report
    non_blank = [k for k, gt in ground_truth.items() if not gt["is_blank"]]
    numbered = [p for p in rep["pages"] if p["page_number"] is not None]
    assert [p["key"] for p in numbered] == sorted(non_blank)
    assert [p["page_number"] for p in numbered] == list(range(1, len(non_blank) + 1))
    assert all(p["page_number"] is None for p in rep["pages"] if p["blank"])


def test_stamped_numbers_labels_and_catalogue_agree(built_dossier):
    pdf_path = _pdf(built_dossier)
    with pikepdf.open(pdf_path) as pdf:
        labels = [str(p.label) for p in pdf.pages]
        outline = []
        with pdf.open_outline() as ol:
            for item in ol.root:
                outline.append(item.title)
    number_pages = {lab: i for i, lab in enumerate(labels) if lab.isdigit()}
    assert sorted(int(x) for x in number_pages) == list(range(1, len(number_pages) + 1))
    for num, idx in number_pages.items():
        first_line = _page_text(pdf_path, idx).strip().splitlines()[0]
        assert num in first_line.split(), (num, first_line)  # the stamp is real text
    vol = built_dossier.report["volumes"][0]
    for row in vol["rows"]:
        assert str(row["first"]) in number_pages
    assert len([t for t in outline if t]) >= len(vol["rows"])


def test_text_layer_extracts_without_spaces_between_han(built_dossier, ground_truth):
    with pikepdf.open(_pdf(built_dossier)) as pdf:
        numbered = [i for i, p in enumerate(pdf.pages) if str(p.label).isdigit()]
    first, last = numbered[0] + 1, numbered[-1] + 1
    cmd = ["pdftotext", "-f", str(first), "-l", str(last), str(_pdf(built_dossier)), "-"]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "上海市第一中级人民法院" in text
    assert "随州市公安局曾都区分局" in text
    assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", text)


def test_report_records_source_hash_and_processing_per_page(built_dossier, sample_dir):
    import hashlib

    for rec in built_dossier.report["pages"]:
        data = (sample_dir / rec["key"]).read_bytes()
        assert rec["sha256"] == hashlib.sha256(data).hexdigest()
        for field in ("rotation_deg", "deskew_deg", "deskew_confidence", "blank", "engine", "ocr_confidence"):
            assert field in rec
    assert built_dossier.report_path.exists()


def test_blank_pages_are_set_aside_not_dropped(built_dossier):
    aside = built_dossier.volumes[0].parent / "set-aside"
    names = {p.name for p in aside.iterdir()}
    assert {o.key for o in built_dossier.blank_pages} <= names


def test_built_dossier_passes_pikepdfs_pdfa_3b_validator(built_dossier):
    from pikepdf.pdfa import validate_written

    report = validate_written(_pdf(built_dossier), "3b")
    assert report.passed, [str(f) for f in report.findings]


def test_clean_samples_raise_no_quality_flags(built_dossier):
    assert built_dossier.report["qc"] == []


def test_quality_checks_name_the_page_and_the_reason():
    from dossier_station.assemble.case import CatalogueRow
    from dossier_station.ocr.page import PageOutcome
    from dossier_station.station.pipeline import quality_checks

    def page(key, **kw):
        base = dict(key=key, source=key, page_in_file=1, sha256="0" * 64, dpi=300.0, blank=False, ink_ratio=0.05, colour="gray",
                    lines=20, ocr_confidence=0.98, deskew_applied=True)
        return PageOutcome(**{**base, **kw})

    outcomes = [page("a.jpg", dpi=150.0), page("b.jpg", ocr_confidence=0.6), page("c.jpg", lines=0), page("d.jpg", blank=True)]
    items = quality_checks(outcomes, [(CatalogueRow(1, "笔录"), [0, 1, 2]), (CatalogueRow(2, "空白"), [3])])
    text = "\n".join(f"{i.get('page', i.get('row'))}: {i['issue']}" for i in items)
    assert "a.jpg: 150 dpi" in text and "b.jpg: low OCR confidence 0.60" in text and "c.jpg: no text" in text
    assert "row 2 (空白) has only blank pages" in text
