"""PDF/A identity of a volume, written natively with pikepdf (no Ghostscript).

An sRGB OutputIntent, XMP that agrees with the Info dictionary, and for PDF/A-3 the case file
and build report as associated files (/AF with /AFRelationship). PDF/A-1b gets no attachments
(the standard forbids them) and is saved as PDF 1.4 without object streams.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pikepdf
from pikepdf.models.metadata import encode_pdf_date

from dossier_station.core import __version__
from dossier_station.core.errors import MissingDependencyError
from dossier_station.core.model import Attachment

ICC_CANDIDATES = ("/usr/share/color/icc/sRGB.icc", "/usr/share/color/icc/ghostscript/srgb.icc")
PRODUCER = f"dossier-station {__version__} (pikepdf {pikepdf.__version__})"


def srgb_profile() -> bytes:
    for path in ICC_CANDIDATES:
        if Path(path).exists():
            return Path(path).read_bytes()
    raise MissingDependencyError("no sRGB ICC profile found for the PDF/A OutputIntent", hint="apt-get install icc-profiles-free")


def add_output_intent(pdf: pikepdf.Pdf) -> None:
    icc = pikepdf.Stream(pdf, srgb_profile())
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
