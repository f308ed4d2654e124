"""Case descriptions: both key languages, CSV rows, and errors that name the row and field."""

from __future__ import annotations

import pytest

from dossier_station.assemble.case import assign_pages, default_case, load_case
from dossier_station.core.errors import CaseFileError


def write(tmp_path, text: str, name: str = "case.toml"):
    p = tmp_path / name
    p.write_text(text, "utf-8")
    return p


def test_chinese_and_english_keys_give_the_same_case(tmp_path):
    zh = load_case(write(tmp_path, '[case]\n"案件名称" = "甲案"\n"立案时间" = "2024-03-12"\n[[rows]]\n"题名" = "立案决定书"\n"日期" = "2024年3月2日"\n"页数" = 2\n', "zh.toml"))
    en = load_case(write(tmp_path, '[case]\ncase_name = "甲案"\nfiling_date = "20240312"\n[[rows]]\ntitle = "立案决定书"\ndate = "2024.03.02"\npages = 2\n', "en.toml"))
    assert zh.fields == en.fields
    assert zh.rows == en.rows
    assert zh.rows[0].date == "20240302" and zh.rows[0].seq == 1
    assert zh.fields.filing_date == "2024年3月12日"


def test_bad_date_names_row_and_field(tmp_path):
    p = write(tmp_path, '[[rows]]\n"顺序号" = 3\n"题名" = "讯问笔录"\n"日期" = "2024-13-01"\n"页数" = 1\n')
    with pytest.raises(CaseFileError) as err:
        load_case(p)
    assert "catalogue row 3 (讯问笔录)" in str(err.value) and "日期" in str(err.value)


def test_page_count_mismatch_states_both_numbers(tmp_path):
    case = load_case(write(tmp_path, '[[rows]]\ntitle = "a"\npages = 2\n[[rows]]\ntitle = "b"\npages = 2\n'))
    with pytest.raises(CaseFileError, match=r"add up to 4 pages but 5 page images"):
        assign_pages(case, [str(i) for i in range(5)], [f"{i}.jpg" for i in range(5)])


def test_rows_map_pages_by_count_in_order(tmp_path):
    case = load_case(write(tmp_path, '[[rows]]\ntitle = "a"\npages = 2\n[[rows]]\ntitle = "b"\npages = 1\n'))
    mapping = assign_pages(case, ["x", "y", "z"], ["x.jpg", "y.jpg", "z.jpg"])
    assert [(r.title, idx) for r, idx in mapping] == [("a", [0, 1]), ("b", [2])]


def test_rows_map_pages_by_listed_files_and_reject_unknown_or_repeated(tmp_path):
    case = load_case(write(tmp_path, '[[rows]]\ntitle = "a"\nfiles = ["2.jpg"]\n[[rows]]\ntitle = "b"\nfiles = ["1.jpg"]\n'))
    assert [idx for _, idx in assign_pages(case, ["1", "2"], ["1.jpg", "2.jpg"])] == [[1], [0]]
    bad = load_case(write(tmp_path, '[[rows]]\ntitle = "a"\nfiles = ["9.jpg"]\n', "bad.toml"))
    with pytest.raises(CaseFileError, match=r"row 1 \(a\).*9.jpg.*not found"):
        assign_pages(bad, ["1"], ["1.jpg"])
    twice = load_case(write(tmp_path, '[[rows]]\ntitle = "a"\nfiles = ["1.jpg"]\n[[rows]]\ntitle = "b"\nfiles = ["1.jpg"]\n', "twice.toml"))
    with pytest.raises(CaseFileError, match="listed twice"):
        assign_pages(twice, ["1"], ["1.jpg"])


def test_catalogue_rows_import_from_csv_with_bom(tmp_path):
    (tmp_path / "rows.csv").write_bytes("\ufeff顺序号,文号,责任者,题名,日期,页数,备注\n1,公刑字1号,某公安局,立案决定书,2024-01-05,2,\n2,,某公安局,讯问笔录,2024-01-06,3,复印件\n".encode())
    case = load_case(write(tmp_path, '[case]\ncase_name = "乙案"\n[catalogue]\ncsv = "rows.csv"\n'))
    assert [(r.seq, r.title, r.pages, r.remarks) for r in case.rows] == [(1, "立案决定书", 2, ""), (2, "讯问笔录", 3, "复印件")]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('[[rows]]\n"题名" = "a"\n"页数" = 1\n[[rows]]\n"顺序号" = 1\n"题名" = "b"\n"页数" = 1\n', "used twice"),
        ('[[rows]]\n"日期" = "2024-01-01"\n', "题名"),
        ('[[rows]]\n"题名" = "a"\n"页数" = 0\n', "at least one page"),
        ('[[rows]]\n"题名" = "a"\n"页码" = 1\n', "unknown key '页码'"),
        ('[case]\ncase_name = "x"\n', "no rows"),
        ("[case\n", "not valid TOML"),
    ],
)
def test_inconsistent_case_files_are_refused_with_a_pointed_message(tmp_path, body, needle):
    with pytest.raises(CaseFileError, match=needle):
        load_case(write(tmp_path, body))


def test_a_folder_without_case_file_becomes_one_document():
    case = default_case("扫描件", 7)
    assert case.fields.case_name == "扫描件"
    assert [(r.title, r.pages) for r in case.rows] == [("扫描件", 7)]
