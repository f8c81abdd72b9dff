"""The printable PSID challan: amount, due date, PSID and how to pay, in English or Urdu."""

from __future__ import annotations

from typing import Any

from babel.dates import format_date
from fpdf.enums import XPos, YPos

from darwaza.catalogue import AgencyDefinition, ServiceDefinition
from darwaza.clock import KARACHI
from darwaza.documents.printable import GREEN, _pdf
from darwaza.i18n import N_, babel_locale, rupees, translate
from darwaza.payments.models import Payment

HOW_TO_PAY = (
    N_(
        "In your bank's app or internet banking, open Bill Payment, choose 1Bill or "
        "Government fees, and type the PSID as the consumer number."
    ),
    N_("At an ATM or over the counter at any bank, pay a 1Bill bill with the PSID."),
    N_("In Easypaisa or JazzCash, choose Bill Payment, then 1Bill, and type the PSID."),
    N_("Pay by the due date. After it this PSID stops working and you can get a new one."),
)


def challan_pdf(
    *,
    payment: Payment,
    service: ServiceDefinition,
    agency: AgencyDefinition,
    language: str,
) -> bytes:
    """One A4 page the citizen can print or show at a bank counter."""
    urdu = language == "ur"
    family = "Nastaliq" if urdu else "NotoSans"
    align = "R" if urdu else "L"
    line = 12 if urdu else 7

    def text(message: str, params: dict[str, Any] | None = None) -> str:
        return translate(language, message, params)

    pdf = _pdf(language)
    pdf.set_title("Darwaza challan")
    pdf.add_page()
    pdf.set_fill_color(*GREEN)
    pdf.rect(0, 0, 210, 8, style="F")
    pdf.set_y(14)
    pdf.set_font(family, "", 12)
    pdf.cell(
        0,
        line,
        agency.name.ur if urdu else agency.name.en,
        align=align,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(family, "B", 20)
    pdf.set_text_color(*GREEN)
    pdf.cell(0, line + 6, text(N_("Fee challan")), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    due = format_date(payment.due_at.astimezone(KARACHI), "long", locale=babel_locale(language))
    rows = [
        (text(N_("Service")), service.title.ur if urdu else service.title.en),
        (text(N_("Tracking number")), payment.tracking_number or ""),
        (text(N_("Paid by")), payment.payer_name),
        (text(N_("Amount")), rupees(payment.amount_paisa, language)),
        (text(N_("Pay by")), due),
    ]
    for label, value in rows:
        pdf.set_font(family, "", 10)
        pdf.set_text_color(90, 90, 90)
        pdf.cell(0, line - 2, label, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(family, "B", 13)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(0, line, value, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font(family, "", 10)
    pdf.cell(
        0,
        line,
        text(N_("PSID (consumer number)")),
        align=align,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_shaping(use_shaping_engine=True, direction="ltr")
    pdf.set_font("NotoSans", "B", 24)
    psid = payment.psid or ""
    grouped = " ".join(psid[i : i + 3] for i in range(0, len(psid), 3))
    pdf.cell(0, 14, grouped, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if urdu:
        pdf.set_text_shaping(
            use_shaping_engine=True, direction="rtl", script="arab", language="urd"
        )
    pdf.ln(2)
    pdf.set_font(family, "B", 12)
    pdf.cell(0, line, text(N_("How to pay")), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(family, "", 10)
    for step in HOW_TO_PAY:
        pdf.multi_cell(0, line, "• " + text(step), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
