"""PDF/A identity of a volume, written natively with pikepdf (no Ghostscript).

An sRGB OutputIntent, XMP that agrees with the Info dictionary, and for PDF/A-3 the case file
and build report as associated files (/AF with /AFRelationship). PDF/A-1b gets no attachments
(the standard forbids them) and is saved as PDF 1.4 without object streams.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pikepdf
from pikepdf.models.metadata import encode_pdf_date

from assemble.model import Attachment
from station import __version__
from station.errors import MissingDependencyError

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


def set_identity(pdf: pikepdf.Pdf, level: str, title: str, author: str, subject: str, keywords: list[str]) -> None:
    part, conformance = level[0], level[1].upper()
    now = datetime.now(UTC).astimezone()
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = title
        meta["dc:creator"] = [author] if author else ["dossier-station"]
        meta["dc:description"] = subject
        meta["dc:language"] = ["zh-CN"]
        meta["pdf:Keywords"] = "; ".join(k for k in keywords if k)
        meta["pdf:Producer"] = PRODUCER
        meta["xmp:CreatorTool"] = f"dossier-station {__version__}"
        meta["xmp:CreateDate"] = now.isoformat(timespec="seconds")
        meta["xmp:ModifyDate"] = now.isoformat(timespec="seconds")
        meta["xmp:MetadataDate"] = now.isoformat(timespec="seconds")
        meta["pdfaid:part"] = part
        meta["pdfaid:conformance"] = conformance
    pdf.docinfo[pikepdf.Name.Producer] = PRODUCER
    pdf.Root.Lang = pikepdf.String("zh-CN")
    pdf.Root.ViewerPreferences = pikepdf.Dictionary(DisplayDocTitle=True)
    pdf.Root.MarkInfo = pikepdf.Dictionary(Marked=False)
