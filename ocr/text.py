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
