"""Text clean-up shared by the OCR engines.

Engines put spaces between Chinese characters (tesseract treats each Han character as a
word; PP-OCR sometimes emits a space at a wide gap). In Chinese those spaces are not part of
the text, and a search for 人民法院 must find it, so they are removed wherever one side is
CJK; spaces between Latin words and numbers stay.
"""

from __future__ import annotations

import re

_CJK = (
    r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")


def is_cjk(ch: str) -> bool:
    return bool(re.match(rf"[{_CJK}]", ch))


def join_cjk(text: str) -> str:
    """Drop whitespace adjacent to a CJK character; collapse other runs to one space."""
    return re.sub(r"\s{2,}", " ", _SPACE_NEXT_TO_CJK.sub("", text)).strip()


def join_words(words: list[str]) -> str:
    """Join an engine's words into a line: no space next to CJK, one space between Latin."""
    return join_cjk(" ".join(w for w in words if w.strip()))


_CJK_CHAR = re.compile(rf"[{_CJK}]")


def normalise_cjk_punctuation(text: str) -> str:
    """Turn ASCII quotes in Chinese text into the full-width pairs the page actually shows.

    PP-OCR often reads ” as '"'; in a line with Chinese the quotes pair up. '丶' (a radical, almost never in running text) is the
    engine's reading of the enumeration comma '、'. The engine reads real “ and ” too, so
    each ASCII quote closes an open quote and opens one otherwise.
    """
    if not _CJK_CHAR.search(text):
        return text
    text = text.replace("丶", "、")
    out: list[str] = []
    open_double = open_single = False  # is a quote of that kind open at this point?
    for ch in text:
        if ch in "“”":
            open_double = ch == "“"
        elif ch in "‘’":
            open_single = ch == "‘"
        elif ch == '"':
            ch = "”" if open_double else "“"
            open_double = not open_double
        elif ch == "'":
            ch = "’" if open_single else "‘"
            open_single = not open_single
        out.append(ch)
    return "".join(out)
