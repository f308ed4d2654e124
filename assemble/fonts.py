"""An embedded, subset CJK font for every piece of text in a volume.

One Type0/CIDFontType2 font per volume, built after all text is known: the content streams
encode each character as its Unicode code point (CID = code point, Identity-H), and a
CIDToGIDMap sends those CIDs to the glyphs of a fontTools subset holding exactly the
characters used. Widths come from the font program (PDF/A checks that they agree), a
ToUnicode CMap makes copy/search/pdftotext return the real characters, and a CIDSet lists
the CIDs present (PDF/A-1 requires it for subset fonts).
"""

from __future__ import annotations

import hashlib
import io
import zlib
from functools import cache
from pathlib import Path

import pikepdf
from fontTools import subset
from fontTools.ttLib import TTFont

from dossier_station.core.errors import MissingDependencyError

FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
)


def find_font() -> tuple[Path, int]:
    for path, index in FONT_CANDIDATES:
        if Path(path).exists():
            return Path(path), index
    raise MissingDependencyError("no CJK TrueType font found", hint="apt-get install fonts-arphic-uming")


@cache
def _load(path: str, index: int) -> tuple[bytes, dict[int, str], dict[str, int], int, tuple[int, int, int, int], int, int, str]:
    """Read the font once per process: its bytes and the tables layout needs."""
    font = TTFont(path, fontNumber=index, lazy=True)
    cmap = dict(font.getBestCmap())
    advances = {name: adv for name, (adv, _) in font["hmtx"].metrics.items()}
    head, hhea = font["head"], font["hhea"]
    name = (font["name"].getDebugName(6) or "CJKFont").replace(" ", "")
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue(), cmap, advances, head.unitsPerEm, (head.xMin, head.yMin, head.xMax, head.yMax), hhea.ascent, hhea.descent, name


class CjkFont:
    """Collects the characters a volume uses; embeds the subset once at the end."""

    resource_name = "/F1"

    def __init__(self, path: Path | None = None, index: int = 0) -> None:
        if path is None:
            path, index = find_font()
        self.path, self.index = Path(path), index
        (self._data, self._cmap, self._adv, self.upem, self.bbox, self.ascent, self.descent, self.name) = _load(str(path), index)
        self.used: set[int] = set()
        self.missing = 0

    def has(self, ch: str) -> bool:
        cp = ord(ch)
        return cp <= 0xFFFF and cp in self._cmap

    def encode(self, text: str) -> bytes:
        """Two-byte CIDs (= code points) for ``Tj``; characters the font lacks are dropped."""
        out = bytearray()
        for ch in text:
            if self.has(ch):
                cp = ord(ch)
                self.used.add(cp)
                out += cp.to_bytes(2, "big")
            else:
                self.missing += 1
        return bytes(out)

    def units(self, ch: str) -> int:
        return self._adv[self._cmap[ord(ch)]] if self.has(ch) else 0

    def width(self, text: str, size: float) -> float:
        return sum(self.units(ch) for ch in text) * size / self.upem

    def show(self, text: str) -> str:
        """A hex string operand for ``Tj``."""
        return "<" + self.encode(text).hex().upper() + ">"

    def _scaled(self, v: float) -> int:
        return round(v * 1000 / self.upem)

    def embed(self, pdf: pikepdf.Pdf, *, cidset: bool = False) -> pikepdf.Object:
        """Write the Type0 font (subset of the used characters) and return it.

        ``cidset``: PDF/A-1 requires a /CIDSet for subset CID fonts; PDF/A-2/3 make it optional
        and validators cannot always verify it, so it is written for PDF/A-1 only.
        """
        cps = sorted(self.used) or [0x20 if 0x20 in self._cmap else next(iter(self._cmap))]
        options = subset.Options()
        options.layout_features = []
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.glyph_names = False
        options.hinting = False
        # Embedded bitmaps (EBDT/EBLC) and vendor tables are not needed in a PDF and are the
        # slow part of subsetting this font.
        options.drop_tables += ["BDF", "FFTM", "EBDT", "EBLC", "EBSC", "gasp", "GSUB", "GPOS", "morx", "mort"]
        font = TTFont(io.BytesIO(self._data), lazy=True)
        sub = subset.Subsetter(options)
        sub.populate(unicodes=cps)
        sub.subset(font)
        out = io.BytesIO()
        font.save(out)
        program = out.getvalue()
        sub_cmap = font.getBestCmap()
        order = {name: gid for gid, name in enumerate(font.getGlyphOrder())}

        max_cid = max(cps)
        cid_to_gid = bytearray(2 * (max_cid + 1))
        cid_bits = bytearray(max_cid // 8 + 1)
        cid_bits[0] |= 0x80  # CID 0 (.notdef) is in the program too
        widths: list[object] = []
        for cp in cps:
            gid = order[sub_cmap[cp]]
            cid_to_gid[2 * cp : 2 * cp + 2] = gid.to_bytes(2, "big")
            cid_bits[cp >> 3] |= 0x80 >> (cp & 7)
            widths += [cp, [self._scaled(self._adv[self._cmap[cp]])]]

        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(repr(cps).encode()).digest()[:6])
        base = pikepdf.Name(f"/{tag}+{self.name}")
        descriptor = pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor,
            FontName=base,
            Flags=4,
            FontBBox=[self._scaled(v) for v in self.bbox],
            ItalicAngle=0,
            Ascent=self._scaled(self.ascent),
            Descent=self._scaled(self.descent),
            CapHeight=self._scaled(self.ascent),
            StemV=80,
            FontFile2=pikepdf.Stream(pdf, zlib.compress(program, 9), Filter=pikepdf.Name.FlateDecode, Length1=len(program)),
        )
        if cidset:
            descriptor.CIDSet = pikepdf.Stream(pdf, zlib.compress(bytes(cid_bits)), Filter=pikepdf.Name.FlateDecode)
        cid_font = pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.CIDFontType2,
            BaseFont=base,
            CIDSystemInfo=pikepdf.Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"), Supplement=0),
            FontDescriptor=pdf.make_indirect(descriptor),
            DW=1000,
            W=pikepdf.Array(widths),
            CIDToGIDMap=pikepdf.Stream(pdf, zlib.compress(bytes(cid_to_gid), 9), Filter=pikepdf.Name.FlateDecode),
        )
        type0 = pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type0,
            BaseFont=base,
            Encoding=pikepdf.Name("/Identity-H"),
            DescendantFonts=[pdf.make_indirect(cid_font)],
            ToUnicode=pikepdf.Stream(pdf, zlib.compress(_to_unicode(cps)), Filter=pikepdf.Name.FlateDecode),
        )
        return pdf.make_indirect(type0)


def _to_unicode(cps: list[int]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    for i in range(0, len(cps), 100):
        chunk = cps[i : i + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{cp:04X}> <{cp:04X}>" for cp in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")
