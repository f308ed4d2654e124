"""PDF/A identity of a volume, written natively with pikepdf (no Ghostscript).

An sRGB OutputIntent, XMP that agrees with the Info dictionary, and for PDF/A-3 the case file
and build report as associated files (/AF with /AFRelationship). PDF/A-1b gets no attachments
(the standard forbids them) and is saved as PDF 1.4 without object streams.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cache
from pathlib import Path

import pikepdf
from pikepdf.models.metadata import encode_pdf_date

from dossier_station.core import __version__
from dossier_station.core.errors import MissingDependencyError
from dossier_station.core.model import Attachment

PRODUCER = f"dossier-station {__version__} (pikepdf {pikepdf.__version__})"
SRGB_NAMES = ("sRGB.icc", "srgb.icc", "sRGB.icm", "sRGB IEC61966-2.1.icc", "sRGB Profile.icc")
ICC_HINT = "install an sRGB ICC profile (Debian/Ubuntu: apt-get install icc-profiles-free) or set DOSSIER_ICC=/path/to/sRGB.icc"


def icc_dirs() -> list[Path]:
    """Where ICC profiles live, by the freedesktop ICC profile storage convention
    (``$XDG_DATA_HOME/icc``, ``$XDG_DATA_DIRS/color/icc``) and the macOS/Windows folders."""
    home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    dirs = [home / "icc", home / "color" / "icc", Path.home() / ".color" / "icc"]
    dirs += [Path(d) / "color" / "icc" for d in (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(os.pathsep) if d]
    dirs += [Path("/Library/ColorSync/Profiles"), Path("C:/Windows/System32/spool/drivers/color")]
    return dirs


def _is_rgb_profile(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(40)
    except OSError:
        return False
    return len(head) == 40 and head[36:40] == b"acsp" and head[16:20] == b"RGB "


@cache
def find_srgb_profile() -> Path | None:
    """An installed sRGB profile: ``$DOSSIER_ICC``, else one found in the ICC folders."""
    if os.environ.get("DOSSIER_ICC"):
        return Path(os.environ["DOSSIER_ICC"])
    for folder in icc_dirs():
        if not folder.is_dir():
            continue
        for name in SRGB_NAMES:
            for hit in (folder / name, *sorted(folder.glob(f"*/{name}"))):
                if hit.is_file() and _is_rgb_profile(hit):
                    return hit
    return None


def srgb_profile(level: str = "2b") -> bytes:
    """The sRGB profile for the OutputIntent. Without an installed one, PDF/A-2 and -3 (which
    accept ICC v4) get littleCMS's built-in sRGB through Pillow; PDF/A-1 needs an ICC v2 file."""
    path = find_srgb_profile()
    if path is not None:
        if not _is_rgb_profile(path):
            raise MissingDependencyError(f"{path}: not an RGB ICC profile (DOSSIER_ICC or the ICC folders)", hint=ICC_HINT)
        return path.read_bytes()
    if level[0] != "1":
        try:
            from PIL import ImageCms

            return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        except (ImportError, OSError):
            pass
    raise MissingDependencyError("no sRGB ICC profile found for the PDF/A OutputIntent", hint=ICC_HINT)


def add_output_intent(pdf: pikepdf.Pdf, level: str = "2b") -> None:
    icc = pikepdf.Stream(pdf, srgb_profile(level))
    icc.N = 3
    intent = pikepdf.Dictionary(
        Type=pikepdf.Name.OutputIntent,
        S=pikepdf.Name.GTS_PDFA1,
        OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
        Info=pikepdf.String("sRGB IEC61966-2.1"),
        DestOutputProfile=pdf.make_indirect(icc),
    )
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])


def add_attachments(pdf: pikepdf.Pdf, attachments: list[Attachment], when: datetime) -> None:
    af = pikepdf.Array()
    for att in attachments:
        stamp = encode_pdf_date(when)
        spec = pikepdf.AttachedFileSpec(
            pdf,
            att.data,
            description=att.description,
            filename=att.name,
            mime_type=att.mime,
            creation_date=stamp,
            mod_date=stamp,
            relationship=pikepdf.Name(att.relationship),
        )
        pdf.attachments[att.name] = spec
        af.append(spec.obj)
    pdf.Root.AF = af


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xmp_packet(level: str, title: str, author: str, subject: str, keywords: str, when: datetime) -> bytes:
    """XMP written by hand: one rdf:Description per schema, its namespace declared on it.

    PDFBox's XMP parser (and some archive validators) only recognise a schema whose namespace
    is declared on rdf:Description, not on each property as general-purpose writers do.
    """
    stamp = when.isoformat(timespec="seconds")
    part, conformance = level[0], level[1].upper()
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{_xml(title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{_xml(author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{_xml(subject)}</rdf:li></rdf:Alt></dc:description>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdf:Producer>{_xml(PRODUCER)}</pdf:Producer>
   <pdf:Keywords>{_xml(keywords)}</pdf:Keywords>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreatorTool>dossier-station {__version__}</xmp:CreatorTool>
   <xmp:CreateDate>{stamp}</xmp:CreateDate>
   <xmp:ModifyDate>{stamp}</xmp:ModifyDate>
   <xmp:MetadataDate>{stamp}</xmp:MetadataDate>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>{part}</pdfaid:part>
   <pdfaid:conformance>{conformance}</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def set_identity(pdf: pikepdf.Pdf, level: str, title: str, author: str, subject: str, keywords: list[str]) -> None:
    """XMP and the Info dictionary, saying the same things (PDF/A requires they agree)."""
    when = datetime.now().astimezone().replace(microsecond=0)
    author = author or "dossier-station"
    words = "; ".join(k for k in keywords if k)
    meta = pikepdf.Stream(pdf, xmp_packet(level, title, author, subject, words, when))
    meta.Type, meta.Subtype = pikepdf.Name.Metadata, pikepdf.Name.XML
    pdf.Root.Metadata = pdf.make_indirect(meta)
    stamp = encode_pdf_date(when)
    info = pikepdf.Dictionary(
        Title=pikepdf.String(title),
        Author=pikepdf.String(author),
        Subject=pikepdf.String(subject),
        Keywords=pikepdf.String(words),
        Creator=pikepdf.String(f"dossier-station {__version__}"),
        Producer=pikepdf.String(PRODUCER),
        CreationDate=pikepdf.String(stamp),
        ModDate=pikepdf.String(stamp),
    )
    pdf.trailer.Info = pdf.make_indirect(info)
    pdf.Root.Lang = pikepdf.String("zh-CN")
    pdf.Root.ViewerPreferences = pikepdf.Dictionary(DisplayDocTitle=True)
    pdf.Root.MarkInfo = pikepdf.Dictionary(Marked=False)
