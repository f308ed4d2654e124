"""A minimal drawing surface for the dossier's own sheets: text, rules and boxes.

Just what a cover, a ruled catalogue and a back sheet need, written as PDF content-stream
operators with the volume's CJK font (and its fallback faces for rare characters) — no second
PDF library.
"""

from __future__ import annotations

from dossier_station.assemble.fonts import CjkFont

A4 = (595.28, 841.89)


class Canvas:
    def __init__(self, font: CjkFont, size: tuple[float, float] = A4) -> None:
        self.font = font
        self.width, self.height = size
        self.ops: list[str] = []

    def text(self, x: float, y: float, s: str, size: float, align: str = "left") -> None:
        """Text with its baseline at ``y``; ``align`` left/center/right about ``x``."""
        if not s:
            return
        w = self.font.width(s, size)
        if align == "center":
            x -= w / 2
        elif align == "right":
            x -= w
        self.ops.append(f"BT 1 0 0 1 {x:.2f} {y:.2f} Tm {self.font.show(s, size)} ET")

    def spaced(self, x: float, y: float, s: str, size: float, spacing: float) -> None:
        """Centred title with letter spacing (卷　宗 style)."""
        w = self.font.width(s, size) + spacing * (len(s) - 1)
        self.ops.append(f"BT {spacing:.2f} Tc 1 0 0 1 {x - w / 2:.2f} {y:.2f} Tm {self.font.show(s, size)} 0 Tc ET")

    def line(self, x0: float, y0: float, x1: float, y1: float, width: float = 0.6) -> None:
        self.ops.append(f"{width:.2f} w {x0:.2f} {y0:.2f} m {x1:.2f} {y1:.2f} l S")

    def rect(self, x: float, y: float, w: float, h: float, width: float = 0.8) -> None:
        self.ops.append(f"{width:.2f} w {x:.2f} {y:.2f} {w:.2f} {h:.2f} re S")

    def wrap(self, s: str, width: float, size: float) -> list[str]:
        """Break at any character (Chinese has no spaces); never return an empty list."""
        lines, cur = [], ""
        for ch in s:
            if ch == "\n":
                lines.append(cur)
                cur = ""
                continue
            if cur and self.font.width(cur + ch, size) > width:
                lines.append(cur)
                cur = ch
            else:
                cur += ch
        lines.append(cur)
        return lines

    def content(self) -> bytes:
        return ("0 g 0 G\n" + "\n".join(self.ops)).encode("ascii")
