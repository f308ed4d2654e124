"""A demo 讯问笔录 (interrogation transcript): a born-digital PDF/A-2b like a case system makes.

The demo and the tests need a transcript to sign; it is written with the dossier's own CJK
font subsetting and PDF/A metadata (assemble/), so it is a real PDF/A file with a text layer
in which the signing ceremony can find its anchor (签名/捺印).
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

from dossier_station.assemble.canvas import A4, Canvas
from dossier_station.assemble.fonts import CjkFont
from dossier_station.assemble.pdfa import add_output_intent, set_identity
from dossier_station.core.files import AtomicOutput
from dossier_station.core.pdfcheck import pdf_verifier

QA = [
    ("问", "我们是示范市公安局的侦查员（出示工作证件），现依法对你进行讯问，你要如实回答，听清楚了吗？"),
    ("答", "听清楚了。"),
    ("问", "你的姓名、出生日期、户籍所在地？"),
    ("答", "王小明，一九九零年三月五日出生，户籍所在地示范市东城区。"),
    ("问", "你因何事被传唤到公安机关？"),
    ("答", "因为二〇二六年十一月二日晚上在示范路便利店门口发生的纠纷。"),
    ("问", "请你把当时的经过讲一下。"),
    ("答", "当晚九点左右我在便利店买东西，出门时与对方发生口角，双方推搡，对方摔倒受伤，我随即拨打了一二零。"),
    ("问", "对方受伤后你做了什么？"),
    ("答", "我在现场等候救护车和民警到来，没有离开。"),
    ("问", "你还有什么要补充的吗？"),
    ("答", "没有了，以上说的都是事实。"),
    ("问", "以上笔录你看一下，与你说的是否一致？"),
    ("答", "我看过了，和我说的一致。"),
]


def make_transcript(out: Path, *, suspect: str = "王小明", pages: int = 2) -> Path:
    """Write a ``pages``-page transcript (PDF/A-2b); the last page ends with the signing line."""
    font = CjkFont()
    pdf = pikepdf.new()
    w, h = A4
    size, lead, left, right = 11.0, 19.0, 70.0, w - 70.0
    blocks = [f"{q}：{a}" for q, a in QA]
    per_page = max(1, -(-len(blocks) // pages))
    for p in range(pages):
        c = Canvas(font)
        y = h - 80
        if p == 0:
            c.text(w / 2, y, "讯 问 笔 录", 20, "center")
            y -= 36
            for line in ("时间：2026年11月22日 14时05分至15时10分", "地点：示范市公安局第三审讯室",
                         "侦查员：张警官、李警官（DEMO）    记录人：李警官", f"被讯问人：{suspect}"):
                c.text(left, y, line, size)
                y -= lead
            y -= 8
        for block in blocks[p * per_page:(p + 1) * per_page]:
            for line in c.wrap(block, right - left, size):
                c.text(left, y, line, size)
                y -= lead
        if p == pages - 1:
            y -= lead
            c.text(left, y, "以上笔录我看过，和我说的相符。", size)
            y -= 2 * lead
            c.text(left, y, "被讯问人（签名/捺印）：", size)
        c.text(w / 2, 40, f"第 {p + 1} 页 共 {pages} 页", 9, "center")
        stream = pdf.make_stream(c.content())
        page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, w, h], Contents=stream,
                                  Resources=pikepdf.Dictionary())
        pdf.pages.append(pikepdf.Page(page))
    embedded = font.embed(pdf)  # {resource: font} (older assemble: the one font object)
    fonts = embedded if isinstance(embedded, dict) else {CjkFont.resource_name: embedded}
    for page in pdf.pages:
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary({str(k): v for k, v in fonts.items()}))
    add_output_intent(pdf)
    set_identity(pdf, "2b", f"讯问笔录（{suspect}）", "示范市公安局 DEMO", "讯问笔录", ["DEMO", "讯问笔录"])
    del pdf.trailer.Info.Producer  # pyHanko then writes the same Producer to Info and XMP
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        del meta["pdf:Producer"]
    with AtomicOutput(out, verify=pdf_verifier(pages, "transcript")) as tmp:
        pdf.save(tmp, fix_metadata_version=False, deterministic_id=True)
    return out
