"""Embedded, subset CJK fonts for every piece of text in a volume — rare characters included.

One Type0/CIDFontType2 font per face used, built after all text is known. The main face (a
Chinese TrueType font found through fontconfig, e.g. AR PL UMing) encodes each character as
its Unicode code point (CID = code point, Identity-H). Characters it lacks — people's names
with 生僻字 from CJK Extension B and beyond (𠮷) are common in case files — are taken from a
fallback face that has them (found through fontconfig's charset query, e.g. HanaMinB from
fonts-hanazono); a fallback's CIDs are numbered in order of use, since code points beyond
U+FFFF do not fit a two-byte code. Each font gets a CIDToGIDMap, widths from its program, a
ToUnicode CMap (so copy/search return the real characters, surrogate pairs included) and, for
PDF/A-1, a CIDSet. A character no installed font has is reported, never silently dropped from
the cover or the catalogue (see :func:`dossier_station.assemble.sheets.check_case_text`).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import threading
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pikepdf
from fontTools import subset
from fontTools.ttLib import TTFont

from dossier_station.core.errors import MissingDependencyError

# Families in order of preference for the main face (TrueType outlines: CIDFontType2).
PREFERRED_FAMILIES = ("AR PL UMing CN", "AR PL UMing", "AR PL UKai CN", "AR PL UKai", "WenQuanYi Zen Hei", "Droid Sans Fallback")
# Without fontconfig (Windows, minimal containers): these file names in the usual font folders.
FONT_FILES = ("uming.ttc", "ukai.ttc", "wqy-zenhei.ttc", "DroidSansFallbackFull.ttf", "simsun.ttc", "simsunb.ttf")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts", "/Library/Fonts", "C:/Windows/Fonts")
INSTALL_HINT = "install a Chinese TrueType font: apt-get install fonts-arphic-uming (or set DOSSIER_FONT=/path/to/font.ttc)"


def _fc_list(pattern: str) -> list[tuple[Path, int, str]]:
    """(file, face index, family) of TrueType fonts matching a fontconfig pattern."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--format", "%{file}|%{index}|%{family[0]}|%{fontformat}\n", pattern],
            capture_output=True, text=True, timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 4 and parts[3] == "TrueType" and parts[1].isdigit():
            found.append((Path(parts[0]), int(parts[1]), parts[2]))
    return sorted(found, key=lambda f: (str(f[0]), f[1]))


@cache
def find_font() -> tuple[Path, int]:
    """The main face: ``$DOSSIER_FONT`` (``path`` or ``path:index``), else fontconfig, else a
    search of the usual font folders."""
    env = os.environ.get("DOSSIER_FONT")
    if env:
        path, _, index = env.rpartition(":") if env.rpartition(":")[2].isdigit() else (env, "", "0")
        if not Path(path).is_file():
            raise MissingDependencyError(f"DOSSIER_FONT={env}: no such font file", hint=INSTALL_HINT)
        return Path(path), int(index)
    fonts = _fc_list(":lang=zh-cn")
    for family in PREFERRED_FAMILIES:
        for path, index, fam in fonts:
            if fam == family or fam.startswith(family + " "):
                return path, index
    if fonts:
        return fonts[0][0], fonts[0][1]
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            for name in FONT_FILES:
                hit = next(root.rglob(name), None)
                if hit is not None:
                    return hit, 0
    raise MissingDependencyError("no Chinese TrueType font found", hint=INSTALL_HINT)


@cache
def fallback_fonts_for(cp: int) -> tuple[tuple[Path, int], ...]:
    """TrueType faces that have character ``cp``, by fontconfig's charset query."""
    return tuple((p, i) for p, i, _ in _fc_list(f":charset={cp:x}"))


@cache
def _load(path: str, index: int) -> tuple[dict[int, str], dict[str, int], int, tuple[int, int, int, int], int, int, str]:
    """Read a font once per process: the tables layout needs.

    The font program itself is subset straight from the file (a face of a collection
    included) when the volume is written: extracting a whole face of a .ttc here cost a
    second per build."""
    font = TTFont(path, fontNumber=index, lazy=True)
    cmap = dict(font.getBestCmap())
    advances = {name: adv for name, (adv, _) in font["hmtx"].metrics.items()}
    head, hhea = font["head"], font["hhea"]
    name = (font["name"].getDebugName(6) or "CJKFont").replace(" ", "")
    return cmap, advances, head.unitsPerEm, (head.xMin, head.yMin, head.xMax, head.yMax), hhea.ascent, hhea.descent, name


class _Face:
    """One font program and the characters a volume takes from it."""

    def __init__(self, path: Path, index: int, resource: str, *, identity: bool) -> None:
        self.path, self.index, self.resource = Path(path), index, resource
        self.identity = identity  # CID = code point (BMP only); else CIDs in order of use
        (self.cmap, self.adv, self.upem, self.bbox, self.ascent, self.descent, self.name) = _load(str(path), index)
        self.cids: dict[int, int] = {}

    def has(self, cp: int) -> bool:
        return cp in self.cmap and (cp <= 0xFFFF or not self.identity)

    def cid(self, cp: int) -> int:
        if cp not in self.cids:
            self.cids[cp] = cp if self.identity else len(self.cids) + 1
        return self.cids[cp]

    def units(self, cp: int) -> int:
        return self.adv[self.cmap[cp]]


class CjkFont:
    """Collects the characters a volume uses; embeds the subset faces once at the end."""

    resource_name = "/F1"

    def __init__(self, path: Path | None = None, index: int = 0) -> None:
        if path is None:
            path, index = find_font()
        self.main = _Face(Path(path), index, self.resource_name, identity=True)
        self.path, self.index = self.main.path, index
        self.faces: list[_Face] = [self.main]
        self.missing = 0
        self.missing_chars: set[str] = set()

    def face_for(self, ch: str) -> _Face | None:
        """The face that draws ``ch``: the main one, else a fallback (loaded on first need)."""
        cp = ord(ch)
        for face in self.faces:
            if face.has(cp):
                return face
        for path, index in fallback_fonts_for(cp):
            if any(f.path == path and f.index == index for f in self.faces):
                continue
            face = _Face(path, index, f"/F{len(self.faces) + 1}", identity=False)
            if face.has(cp):
                self.faces.append(face)
                return face
        return None

    def has(self, ch: str) -> bool:
        return self.face_for(ch) is not None

    def runs(self, text: str) -> Iterator[tuple[_Face, str]]:
        """Consecutive characters of one face; characters no face has are counted, not drawn."""
        face: _Face | None = None
        run = ""
        for ch in text:
            f = self.face_for(ch)
            if f is None:
                self.missing += 1
                self.missing_chars.add(ch)
                continue
            if f is not face and run:
                yield face, run  # type: ignore[misc]
                run = ""
            face = f
            run += ch
        if run and face is not None:
            yield face, run

    def units(self, ch: str) -> float:
        """Advance width in 1/1000 em (0 for a character no face has)."""
        face = self.face_for(ch)
        return face.units(ord(ch)) * 1000 / face.upem if face else 0.0

    def width(self, text: str, size: float) -> float:
        return sum(self.units(ch) for ch in text) * size / 1000

    def show(self, text: str, size: float) -> str:
        """``Tf``/``Tj`` operators setting ``text`` at ``size``, switching face where needed."""
        ops = []
        for face, run in self.runs(text):
            hexes = "".join(f"{face.cid(ord(ch)):04X}" for ch in run)
            ops.append(f"{face.resource} {size:.2f} Tf <{hexes}> Tj")
        return " ".join(ops)

    def embed(self, pdf: pikepdf.Pdf, *, cidset: bool = False) -> dict[str, pikepdf.Object]:
        """Write one Type0 font per face used (the main one always); ``{resource: font}``.

        ``cidset``: PDF/A-1 requires a /CIDSet for subset CID fonts; PDF/A-2/3 make it optional
        and validators cannot always verify it, so it is written for PDF/A-1 only.
        """
        return {face.resource: _embed_face(pdf, face, cidset) for face in self.faces if face is self.main or face.cids}


# Embedded bitmaps (EBDT/EBLC) and vendor tables are not needed in a PDF and are the slow part of
# subsetting these fonts.
DROPPED_TABLES = ("BDF", "FFTM", "EBDT", "EBLC", "EBSC", "gasp", "GSUB", "GPOS", "morx", "mort")
_prepared: dict[tuple[str, int], TTFont] = {}
_prepared_lock = threading.Lock()


def _parsed(path: Path, index: int) -> TTFont:
    """A face with every table it keeps read in: subsetting it then takes a fifth of the time
    of subsetting a lazily opened one (whose tables are read glyph by glyph), same bytes out.
    The subset's glyphs are the font's own, untouched: their bounding boxes stand as they are
    (recomputing them expanded every outline and was half a second of every volume)."""
    font = TTFont(str(path), fontNumber=index, lazy=True, recalcBBoxes=False)
    font.getGlyphOrder()
    for tag in sorted(font.keys()):  # a TTFont is not iterable
        if tag not in DROPPED_TABLES and tag != "GlyphOrder":
            font[tag]  # noqa: B018 - reading the table is the point
    return font


def prepare(path: Path | None = None, index: int = 0) -> None:
    """Read the main face now, for the next volume to subset: a build calls this (in a thread)
    while its last pages are being read, when a core would otherwise wait."""
    if path is None:
        path, index = find_font()
    _load(str(path), index)
    key = (str(path), index)
    with _prepared_lock:
        if key in _prepared:
            return
    font = _parsed(Path(path), index)
    with _prepared_lock:
        _prepared.setdefault(key, font)


def _program(path: Path, index: int) -> TTFont:
    """The face to subset: the one ``prepare`` read, else read now (a subset changes it: once)."""
    with _prepared_lock:
        font = _prepared.pop((str(path), index), None)
    return font if font is not None else _parsed(path, index)


def _scaled(face: _Face, v: float) -> int:
    return round(v * 1000 / face.upem)


def _embed_face(pdf: pikepdf.Pdf, face: _Face, cidset: bool) -> pikepdf.Object:
    if not face.cids:  # an empty volume text: keep one harmless glyph
        face.cid(0x20 if 0x20 in face.cmap else next(iter(face.cmap)))
    cps = sorted(face.cids)
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    options.hinting = False
    options.drop_tables += list(DROPPED_TABLES)
    font = _program(face.path, face.index)
    sub = subset.Subsetter(options)
    sub.populate(unicodes=cps)
    sub.subset(font)
    out = io.BytesIO()
    font.save(out)
    program = out.getvalue()
    sub_cmap = font.getBestCmap()
    order = {name: gid for gid, name in enumerate(font.getGlyphOrder())}

    max_cid = max(face.cids.values())
    cid_to_gid = bytearray(2 * (max_cid + 1))
    cid_bits = bytearray(max_cid // 8 + 1)
    cid_bits[0] |= 0x80  # CID 0 (.notdef) is in the program too
    widths: list[object] = []
    for cp in cps:
        cid, gid = face.cids[cp], order[sub_cmap[cp]]
        cid_to_gid[2 * cid : 2 * cid + 2] = gid.to_bytes(2, "big")
        cid_bits[cid >> 3] |= 0x80 >> (cid & 7)
        widths += [cid, [_scaled(face, face.units(cp))]]

    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(repr(cps).encode()).digest()[:6])
    base = pikepdf.Name(f"/{tag}+{face.name}")
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor,
        FontName=base,
        Flags=4,
        FontBBox=[_scaled(face, v) for v in face.bbox],
        ItalicAngle=0,
        Ascent=_scaled(face, face.ascent),
        Descent=_scaled(face, face.descent),
        CapHeight=_scaled(face, face.ascent),
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
        ToUnicode=pikepdf.Stream(pdf, zlib.compress(_to_unicode(face.cids)), Filter=pikepdf.Name.FlateDecode),
    )
    return pdf.make_indirect(type0)


def _utf16_hex(cp: int) -> str:
    return chr(cp).encode("utf-16-be", "surrogatepass").hex().upper()


def _to_unicode(cids: dict[int, int]) -> bytes:
    pairs = sorted((cid, cp) for cp, cid in cids.items())
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
    for i in range(0, len(pairs), 100):
        chunk = pairs[i : i + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{cid:04X}> <{_utf16_hex(cp)}>" for cid, cp in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")
