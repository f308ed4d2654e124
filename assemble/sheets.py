"""The volume's own sheets: 卷宗封面 (cover), 卷内目录 (catalogue), 卷内备考表 (back sheet).

Their content follows dossier-standard.md §5: police cover fields with 共X卷第X卷 and
保管期限; the GB/T 9705 catalogue columns with 页号 computed from the numbered pages (start
page per row, the last row as a range); the back sheet's 本卷情况说明 with page counts,
立卷人, 检查人 and 立卷时间. None of these pages is numbered.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from dossier_station.assemble.canvas import Canvas
from dossier_station.assemble.case import Case, CatalogueRow
from dossier_station.assemble.fonts import CjkFont
from dossier_station.core.errors import CaseFileError

MARGIN = 48.0


@dataclass(frozen=True)
class RowPages:
    row: CatalogueRow
    first: int
    last: int
    continued: bool = False  # a document split across volumes


FIELD_LABELS = {
    "case_name": "案件名称", "case_number": "案件编号", "suspects": "犯罪嫌疑人", "filing_date": "立案时间",
    "closing_date": "结案时间", "unit": "立卷单位", "compiler": "立卷人", "checker": "检查人",
    "compiled_date": "立卷时间", "retention": "保管期限", "volume_title": "卷宗标题", "fonds_no": "全宗号",
    "catalogue_no": "目录号", "file_no": "案卷号", "notes": "备考",
}
ROW_LABELS = {"doc_no": "文号", "author": "责任者", "title": "题名", "date": "日期", "remarks": "备注"}


def check_case_text(font: CjkFont, case: Case) -> None:
    """Every character of the cover, catalogue and back sheet has a glyph in an installed font.

    A name or title that lost a character would be a wrong record, not a cosmetic flaw: stop
    and name the character, its code point and the field, before any page is written.
    """
    where: list[tuple[str, str]] = [
        (f"{FIELD_LABELS.get(f.name, f.name)} ({f.name})", getattr(case.fields, f.name))
        for f in fields(case.fields)
        if isinstance(getattr(case.fields, f.name), str)
    ]
    for row in case.rows:
        where += [(f"catalogue row {row.seq}, {label} ({name})", str(getattr(row, name) or "")) for name, label in ROW_LABELS.items()]
    for label, text in where:
        for ch in text:
            if ch.isspace() or not ch.isprintable() or font.has(ch):
                continue
            raise CaseFileError(
                f"case file, {label}: the character {ch!r} (U+{ord(ch):04X}) is in no installed font, so it would be missing from the cover or catalogue",
                hint="install a font that has it (CJK Extension B and later: apt-get install fonts-hanazono), or write the field without it",
            )


def cover(font: CjkFont, case: Case, volume_no: int, volume_count: int) -> bytes:
    c = Canvas(font)
    f = case.fields
    w, h = c.width, c.height
    c.rect(MARGIN, MARGIN, w - 2 * MARGIN, h - 2 * MARGIN, 1.5)
    c.rect(MARGIN + 5, MARGIN + 5, w - 2 * MARGIN - 10, h - 2 * MARGIN - 10, 0.5)
    if f.unit:
        c.text(w / 2, h - 130, f.unit, 18, "center")
    c.spaced(w / 2, h - 215, "卷宗", 48, 40)
    c.text(w / 2, h - 265, f.volume_title, 20, "center")
    rows = [
        ("案件名称", f.case_name),
        ("案件编号", f.case_number),
        ("犯罪嫌疑人", f.suspects),
        ("立案时间", f.filing_date),
        ("结案时间", f.closing_date),
        ("立卷单位", f.unit),
        ("立卷人", f.compiler),
        ("保管期限", f.retention),
    ]
    x_label, x_value, right = 110.0, 205.0, w - 110.0
    y = h - 335
    for label, value in rows:
        c.text(x_label, y, label, 14)
        lines = c.wrap(value, right - x_value, 14)[:2]
        for i, line in enumerate(lines):
            c.text(x_value, y - i * 18, line, 14)
        y -= 18 * (len(lines) - 1)
        c.line(x_value - 4, y - 6, right, y - 6, 0.5)
        y -= 38
    c.text(w / 2, y - 20, f"共 {volume_count} 卷　第 {volume_no} 卷", 16, "center")
    foot = [("全宗号", f.fonds_no), ("目录号", f.catalogue_no), ("案卷号", f.file_no)]
    box_w = (w - 2 * MARGIN - 60) / 3
    for i, (label, value) in enumerate(foot):
        x = MARGIN + 30 + i * box_w
        c.rect(x, MARGIN + 30, box_w - 10, 40, 0.6)
        c.text(x + 6, MARGIN + 55, label, 10)
        c.text(x + (box_w - 10) / 2, MARGIN + 38, value, 12, "center")
    return c.content()


COLUMNS = (("顺序号", 36), ("文号", 92), ("责任者", 80), ("题名", 165), ("日期", 60), ("页号", 50), ("备注", 36))
CAT_SIZE = 9.5
LEADING = 12.5
HEADER_H = 26.0


def _page_cell(rp: RowPages, last: bool) -> str:
    if rp.first > rp.last:
        return ""
    return f"{rp.first}-{rp.last}" if last and rp.last != rp.first else str(rp.first)


def catalogue(font: CjkFont, case: Case, rows: list[RowPages], volume_no: int) -> list[bytes]:
    """One or more catalogue pages; the header repeats, long cells wrap."""
    pages: list[bytes] = []
    table_w = sum(w for _, w in COLUMNS)
    x0 = (Canvas(font).width - table_w) / 2

    def new_page(first: bool) -> tuple[Canvas, float]:
        c = Canvas(font)
        c.spaced(c.width / 2, c.height - 80, "卷内目录", 22, 8)
        sub = f"{case.fields.case_number}　第 {volume_no} 卷" + ("" if first else "（续）")
        c.text(c.width / 2, c.height - 102, sub, 10, "center")
        top = c.height - 120
        x = x0
        for name, w in COLUMNS:
            c.rect(x, top - HEADER_H, w, HEADER_H, 0.7)
            c.text(x + w / 2, top - HEADER_H / 2 - 3.5, name, 10, "center")
            x += w
        return c, top - HEADER_H

    c, y = new_page(True)
    for i, rp in enumerate(rows):
        remark = rp.row.remarks + ("（续）" if rp.continued else "")
        cells = [str(rp.row.seq), rp.row.doc_no, rp.row.author, rp.row.title, rp.row.date, _page_cell(rp, i == len(rows) - 1), remark]
        wrapped = [c.wrap(text, w - 6, CAT_SIZE) for text, (_, w) in zip(cells, COLUMNS, strict=True)]
        height = max(len(x) for x in wrapped) * LEADING + 10
        if y - height < MARGIN + 20:
            pages.append(c.content())
            c, y = new_page(False)
        x = x0
        for lines, (_, w) in zip(wrapped, COLUMNS, strict=True):
            c.rect(x, y - height, w, height, 0.5)
            for j, line in enumerate(lines):
                c.text(x + 3, y - 5 - (j + 1) * LEADING + 3, line, CAT_SIZE)
            x += w
        y -= height
    pages.append(c.content())
    return pages


def back_sheet(font: CjkFont, case: Case, numbered: int, blanks: int, continued_rows: int) -> bytes:
    c = Canvas(font)
    f = case.fields
    w, h = c.width, c.height
    c.spaced(w / 2, h - 90, "卷内备考表", 22, 8)
    box_top, box_bottom = h - 120, 260.0
    c.rect(MARGIN + 20, box_bottom, w - 2 * MARGIN - 40, box_top - box_bottom, 0.8)
    c.text(MARGIN + 32, box_top - 26, "本卷情况说明：", 13)
    text = f"本卷共有文件材料 {numbered} 页。"
    if blanks:
        text += f"扫描中发现空白页 {blanks} 页，已另行保存，未编页号。"
    if continued_rows:
        text += f"有 {continued_rows} 份文件跨卷装订，见卷内目录备注。"
    if f.notes:
        text += f.notes
    y = box_top - 56
    for line in c.wrap(text, w - 2 * MARGIN - 100, 12):
        c.text(MARGIN + 56, y, line, 12)
        y -= 22
    for i, (label, value) in enumerate((("立卷人", f.compiler), ("检查人", f.checker), ("立卷时间", f.compiled_date))):
        yy = 200 - i * 34
        c.text(w / 2 + 10, yy, f"{label}：", 13)
        c.text(w / 2 + 80, yy, value, 13)
        c.line(w / 2 + 76, yy - 5, w - MARGIN - 20, yy - 5, 0.5)
    return c.content()
