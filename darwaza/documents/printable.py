"""A printable PDF of a document, in English or Urdu, with its QR code on it.

Urdu is shaped with HarfBuzz and set in Noto Nastaliq Urdu, so the letters join as they
should; the fonts ship with the package (SIL Open Font License).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from darwaza.catalogue import AgencyDefinition, DocumentTypeDefinition
from darwaza.clock import show_day
from darwaza.documents.formats.compact_qr import qr_png
from darwaza.documents.models import Document, DocumentStatus
from darwaza.i18n import N_, translate

FONTS = Path(__file__).parent / "fonts"
GREEN = (1, 65, 28)


def _pdf(language: str) -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("NotoSans", "", str(FONTS / "NotoSans-Regular.ttf"))
    pdf.add_font("NotoSans", "B", str(FONTS / "NotoSans-Bold.ttf"))
    pdf.add_font("Nastaliq", "", str(FONTS / "NotoNastaliqUrdu-Regular.ttf"))
    pdf.add_font("Nastaliq", "B", str(FONTS / "NotoNastaliqUrdu-Regular.ttf"))
    if language == "ur":
        pdf.set_text_shaping(
            use_shaping_engine=True, direction="rtl", script="arab", language="urd"
        )
        pdf.set_fallback_fonts(["NotoSans"])  # Latin letters and digits inside Urdu text
    else:
        pdf.set_text_shaping(use_shaping_engine=True)
    pdf.set_title("Darwaza document")
    pdf.set_creator("Darwaza")
    return pdf


def printable_pdf(
    *,
    document: Document,
    document_type: DocumentTypeDefinition,
    agency: AgencyDefinition,
    language: str,
    verify_url: str,
) -> bytes:
    """The document on one A4 page: who issued it, what it states, and its QR code."""
    urdu = language == "ur"
    family = "Nastaliq" if urdu else "NotoSans"
    align = "R" if urdu else "L"
    line = 12 if urdu else 7

    def text(message: str, params: dict[str, Any] | None = None) -> str:
        return translate(language, message, params)

    pdf = _pdf(language)
    pdf.add_page()
    pdf.set_fill_color(*GREEN)
    pdf.rect(0, 0, 210, 8, style="F")
    pdf.set_y(14)
    pdf.set_font(family, "", 12)
    pdf.set_text_color(80, 80, 80)
    pdf.cell(
        0,
        line,
        agency.name.ur if urdu else agency.name.en,
        align=align,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(family, "B", 22)
    pdf.set_text_color(*GREEN)
    pdf.cell(
        0,
        line + 6,
        document_type.title.ur if urdu else document_type.title.en,
        align=align,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(0, 0, 0)
    pdf.ln(4)

    qr_size = 70
    qr_x = 20 if urdu else 210 - 20 - qr_size
    pdf.image(io.BytesIO(qr_png(document.qr_text, scale=10)), x=qr_x, y=pdf.get_y(), w=qr_size)
    top = pdf.get_y()
    text_x = 20 + qr_size + 8 if urdu else 20
    width = 210 - 40 - qr_size - 8
    pdf.set_xy(text_x, top)
    for claim in document_type.claims:
        value = document.claims.get(claim.name, "")
        if claim.source == "citizen.cnic" and isinstance(value, str) and len(value) == 13:
            value = f"{value[:5]}-{value[5:12]}-{value[12]}"
        pdf.set_x(text_x)
        pdf.set_font(family, "", 9)
        pdf.set_text_color(90, 90, 90)
        pdf.cell(
            width,
            line - 2,
            claim.label.ur if urdu else claim.label.en,
            align=align,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_x(text_x)
        pdf.set_font("NotoSans", "B", 12)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(width, 7, str(value), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + qr_size) + 8)

    issued = show_day(document.issued_at, language)
    pdf.set_font(family, "", 10)
    pdf.multi_cell(
        0,
        line,
        text(N_("Issued {date}"), {"date": issued}),
        align=align,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    if document.status != DocumentStatus.VALID:
        pdf.set_text_color(176, 0, 32)
        pdf.multi_cell(
            0,
            line,
            text(document.status.label),
            align=align,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_text_color(0, 0, 0)
    pdf.multi_cell(
        0,
        line,
        text(
            N_(
                "Scan the QR code, or open the address below, to check that this document "
                "is genuine and still valid."
            )
        ),
        align=align,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_shaping(use_shaping_engine=True, direction="ltr")
    pdf.set_font("NotoSans", "B", 10)
    pdf.cell(0, 7, verify_url, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("NotoSans", "", 8)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 6, f"{document.id}", align=align)
    return bytes(pdf.output())
