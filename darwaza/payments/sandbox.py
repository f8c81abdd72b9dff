"""A sandbox bank and a sandbox PSP for the demo: ``darwaza sandbox-bank --port 8100``.

The bank is a phone-sized page: type a PSID, see what Darwaza's ``BillInquiry`` says is
owed, and pay; the bank then calls ``BillPayment`` exactly as 1Bill would. The last digit
of the PSID (or the "what happens" choice) picks a path, so each failure can be shown:

    ...1  the bank declines (insufficient funds): Darwaza is never told
    ...2  the first BillPayment "times out" at the bank, which retries with the same
          Tran_Auth_Id: Darwaza answers 07 (duplicate) and credits once
    ...3  the customer pays twice with two transactions: the second answers 08 (already paid)

The PSP side speaks a small GOV.UK Pay-like API (create with an Idempotency-Key, status,
refunds) and a payment page whose buttons send HMAC-SHA256 signed webhooks to Darwaza.
Amount 1 rupee (100 paisa) more than owed is refused by Darwaza (06); on the PSP page,
"Decline" fails the payment and "Pay, but lose the webhook" leaves it to reconciliation.

Every page is in English and Urdu (``templates/sandbox``, text in Darwaza's catalogue):
``?lang=en|ur`` switches and a cookie of the sandbox's own remembers; a first visit
follows the browser's ``Accept-Language``. Pages answering a form can be shown again by
address (``/inquire?psid=``, ``/receipts/{id}``), so switching language keeps the page.

This is a separate small app with its own in-memory state: it is not part of Darwaza's
server and holds no real money.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode

import httpx
from fastapi import FastAPI, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from darwaza.clock import KARACHI, show_day, utcnow
from darwaza.i18n import LANGUAGES, N_, rupees, text_direction, translate
from darwaza.payments.biller import ResponseCode, format_amount, parse_amount
from darwaza.payments.providers import SIGNATURE_HEADER, sign_body
from darwaza.settings import Settings

LANGUAGE_COOKIE: Final = "sandbox_lang"
ONE_YEAR: Final = 365 * 24 * 3600
LANGUAGE_NAMES: Final = (("en", "English"), ("ur", "اردو"))

pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "sandbox"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)

BANK: Final = N_("Sandbox Bank")
PSP: Final = N_("Sandbox PSP")

# What each 1Bill answer means, said to the bank's customer.
ANSWERS: Final[Mapping[str, str]] = {
    ResponseCode.OK: N_("Accepted: the payment is recorded."),
    ResponseCode.UNKNOWN_PSID: N_("No bill has this PSID. Check the number and type it again."),
    ResponseCode.BLOCKED: N_(
        "This bill is blocked: the fee was cancelled, waived or paid another way."
    ),
    ResponseCode.INVALID_DATA: N_(
        "Something sent was not valid: the PSID, amount, date, time or transaction number."
    ),
    ResponseCode.NOT_ALLOWED: N_("This bank is not allowed to collect this bill."),
    ResponseCode.EXPIRED: N_("This PSID has expired. Get a new one where you applied."),
    ResponseCode.AMOUNT_MISMATCH: N_("The amount does not match the bill."),
    ResponseCode.DUPLICATE: N_("This transaction was already received; nothing changed."),
    ResponseCode.ALREADY_PAID: N_(
        "This bill was already paid by another transaction, so no money was taken for this one."
    ),
}
UNKNOWN_ANSWER: Final = N_("An answer this bank does not know.")
CANNOT_PAY: Final = N_("This bill cannot be paid.")
ALREADY_PAID: Final = N_("This bill is already paid.")

SCENARIOS: Final = (
    ("normal", N_("Pay")),
    ("decline", N_("Decline (insufficient funds)")),
    ("timeout", N_("Time out, then retry")),
    ("twice", N_("Pay twice")),
    ("wrong_amount", N_("Pay Rs 1 too much")),
)
# The last digit of a PSID picks the path chosen at first.
SCENARIO_BY_LAST_DIGIT: Final = {"1": "decline", "2": "timeout", "3": "twice"}

PSP_OUTCOMES: Final = (
    ("success", N_("Pay by card")),
    ("failed", N_("Decline")),
    ("lost", N_("Pay, but lose the webhook")),
)
PSP_STATES: Final[Mapping[str, str]] = {
    "created": N_("Created"),
    "pending": N_("Waiting for the customer"),
    "success": N_("Paid"),
    "failed": N_("Declined"),
}


def answer_meaning(code: str) -> str:
    """What a 1Bill response code means, as a message to translate."""
    return ANSWERS.get(code, UNKNOWN_ANSWER)


def reader_language(request: Request, fallback: str) -> str:
    """The language asked for (``?lang=``), else remembered, else the browser's."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if chosen in LANGUAGES:
            return chosen
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return fallback


def left_to_right(value: object) -> Markup:
    """A PSID, code or transaction number, kept left to right inside Urdu text."""
    return Markup('<bdi dir="ltr">{}</bdi>').format(value)


def bill_day(yyyymmdd: str, language: str) -> str:
    """A 1Bill date (``YYYYMMDD``) as people read it; shown as sent if it is not one."""
    try:
        return show_day(datetime.strptime(yyyymmdd, "%Y%m%d").date(), language)
    except ValueError:
        return yyyymmdd


def page_tools(language: str, same_page: str, keep: Mapping[str, str]) -> dict[str, Any]:
    """What every sandbox template uses, in ``language``."""

    def say(message: str, **params: Any) -> Markup:
        return escape(translate(language, message)).format(**params)

    return {
        "_": say,
        "text": lambda message: translate(language, message),
        "lang": language,
        "dir": text_direction(language),
        "languages": LANGUAGE_NAMES,
        "switch_to": lambda code: f"{same_page}?{urlencode({**keep, 'lang': code})}",
        "ltr": left_to_right,
        "rupees": lambda paisa: rupees(paisa, language),
        "day": lambda yyyymmdd: bill_day(yyyymmdd, language),
    }


def render_page(
    request: Request,
    template: str,
    title: str,
    *,
    fallback: str,
    same_page: str,
    keep: Mapping[str, str] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A sandbox page in the reader's language; ``same_page`` shows it again by GET."""
    language = reader_language(request, fallback)
    values = page_tools(language, same_page, keep or {})
    values |= context | {"title": translate(language, title)}
    response = HTMLResponse(pages.get_template(template).render(values), status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=ONE_YEAR, samesite="lax", httponly=True
        )
    return response


def not_payable(answer: Mapping[str, Any]) -> dict[str, Any]:
    """What to say of a bill 1Bill refused, or found already paid or blocked."""
    code = str(answer.get("Response_Code"))
    if code != ResponseCode.OK:
        return {"headline": CANNOT_PAY, "code": code, "meaning": answer_meaning(code)}
    if answer.get("Bill_Status") == "P":
        return {"headline": ALREADY_PAID, "settled": True, "paid_on": answer.get("Date_Paid")}
    return {"headline": CANNOT_PAY, "meaning": answer_meaning(ResponseCode.BLOCKED)}


@dataclass(frozen=True)
class BankReceipt:
    """What the sandbox bank did with one "Pay now": no codes means it declined."""

    receipt_id: str
    psid: str
    amount: int
    codes: tuple[str, ...] = ()
    transaction_id: str = ""

    @property
    def declined(self) -> bool:
        return not self.codes

    @property
    def paid(self) -> bool:
        return ResponseCode.OK in self.codes


@dataclass
class PspPayment:
    """A payment held by the sandbox PSP."""

    payment_id: str
    amount: int
    reference: str
    return_url: str
    state: str = "created"
    transaction_id: str = ""
    refunded: int = 0
    events: int = 0
    created: float = field(default_factory=time.time)


def create_sandbox_app(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> FastAPI:
    """The sandbox bank and PSP, talking to the Darwaza at ``settings.sandbox_darwaza_url``."""
    app = FastAPI(title="Darwaza sandbox bank", docs_url=None, redoc_url=None)
    darwaza = httpx.Client(base_url=settings.sandbox_darwaza_url, timeout=10, transport=transport)
    channel = next(iter(settings.onebill_channels.items()), ("sandbox", ""))
    credentials = {"Username": channel[0], "Password": channel[1]}
    psp: dict[str, PspPayment] = {}
    by_key: dict[str, str] = {}
    receipts: dict[str, BankReceipt] = {}

    def onebill(call: str, body: dict[str, str]) -> dict[str, Any]:
        response = darwaza.post(f"/api/v1/onebill/{call}", json=credentials | body)
        result: dict[str, Any] = response.json()
        return result

    def page(request: Request, template: str, title: str, **context: Any) -> HTMLResponse:
        return render_page(request, template, title, fallback=settings.default_language, **context)

    @app.get("/", response_class=HTMLResponse)
    def bank_home(request: Request) -> HTMLResponse:
        return page(request, "bank_home.html", N_("Sandbox Bank: pay a bill"), same_page="/")

    def bill_answer(request: Request, psid: str, answer: Mapping[str, Any]) -> HTMLResponse:
        return page(
            request,
            "bill_answer.html",
            BANK,
            same_page="/inquire",
            keep={"psid": psid},
            **not_payable(answer),
        )

    def show_bill(request: Request, psid: str) -> HTMLResponse:
        psid = "".join(ch for ch in psid if ch.isdigit())
        answer = onebill("bill-inquiry", {"Consumer_Number": psid, "Bank_Mnemonic": "SNDBX"})
        if answer.get("Response_Code") != ResponseCode.OK or answer.get("Bill_Status") != "U":
            return bill_answer(request, psid, answer)
        return page(
            request,
            "bill.html",
            BANK,
            same_page="/inquire",
            keep={"psid": psid},
            payer=answer.get("Consumer_Detail", ""),
            psid=psid,
            amount=parse_amount(answer.get("Amount_Within_DueDate", "")) or 0,
            due=answer.get("Due_Date", ""),
            scenarios=SCENARIOS,
            scenario=SCENARIO_BY_LAST_DIGIT.get(psid[-1:], "normal"),
        )

    @app.post("/inquire", response_class=HTMLResponse)
    def inquire(request: Request, psid: str = Form("")) -> HTMLResponse:
        return show_bill(request, psid)

    @app.get("/inquire", response_class=HTMLResponse)
    def inquire_again(request: Request, psid: str = "") -> HTMLResponse:
        return show_bill(request, psid)

    def bank_payment(psid: str, amount: int, scenario: str) -> BankReceipt:
        receipt_id = secrets.token_urlsafe(9)
        if scenario == "decline":
            return BankReceipt(receipt_id, psid, amount)
        if scenario == "wrong_amount":
            amount += 100
        now = utcnow().astimezone(KARACHI)
        body = {
            "Consumer_Number": psid,
            "Bank_Mnemonic": "SNDBX",
            "Tran_Auth_Id": f"{secrets.randbelow(10**6):06d}",
            "Transaction_Amount": format_amount(amount),
            "Tran_Date": now.strftime("%Y%m%d"),
            "Tran_Time": now.strftime("%H%M%S"),
        }
        codes = [onebill("bill-payment", body)["Response_Code"]]
        if scenario == "timeout":
            codes.append(onebill("bill-payment", body)["Response_Code"])  # the same id again
        if scenario == "twice":
            again = body | {"Tran_Auth_Id": f"{secrets.randbelow(10**6):06d}"}
            codes.append(onebill("bill-payment", again)["Response_Code"])
        return BankReceipt(receipt_id, psid, amount, tuple(map(str, codes)), body["Tran_Auth_Id"])

    def show_receipt(request: Request, receipt: BankReceipt) -> HTMLResponse:
        same_page = f"/receipts/{receipt.receipt_id}"
        return page(
            request,
            "receipt.html",
            BANK,
            same_page=same_page,
            receipt=receipt,
            answer_meaning=answer_meaning,
        )

    @app.post("/pay", response_class=HTMLResponse)
    def pay(
        request: Request,
        psid: str = Form(""),
        amount: int = Form(0),
        scenario: str = Form("normal"),
    ) -> HTMLResponse:
        receipt = bank_payment(psid, amount, scenario)
        receipts[receipt.receipt_id] = receipt
        return show_receipt(request, receipt)

    @app.get("/receipts/{receipt_id}", response_class=HTMLResponse)
    def receipt_again(request: Request, receipt_id: str) -> HTMLResponse:
        receipt = receipts.get(receipt_id)
        if receipt is None:
            return page(
                request,
                "message.html",
                BANK,
                same_page=f"/receipts/{quote(receipt_id, safe='')}",
                status_code=404,
                message=N_("There is no such receipt."),
                back="/",
            )
        return show_receipt(request, receipt)

    # --- the sandbox PSP -------------------------------------------------------------

    def _authorised(authorization: str | None) -> bool:
        return secrets.compare_digest(authorization or "", f"Bearer {settings.psp_api_key}")

    def _read(payment: PspPayment) -> dict[str, Any]:
        return {
            "payment_id": payment.payment_id,
            "amount": payment.amount,
            "state": payment.state,
            "reference": payment.reference,
            "transaction_id": payment.transaction_id,
            "next_url": f"/psp/pay/{payment.payment_id}",
        }

    @app.post("/psp/v1/payments")
    async def psp_create(
        request: Request,
        authorization: str | None = Header(None),
        idempotency_key: str | None = Header(None),
    ) -> Response:
        if not _authorised(authorization):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        if idempotency_key and idempotency_key in by_key:
            return JSONResponse(_read(psp[by_key[idempotency_key]]), status_code=200)
        data = await request.json()
        payment = PspPayment(
            payment_id="psp_" + secrets.token_hex(8),
            amount=int(data["amount"]),
            reference=str(data["reference"]),
            return_url=str(data["return_url"]),
        )
        psp[payment.payment_id] = payment
        if idempotency_key:
            by_key[idempotency_key] = payment.payment_id
        body = _read(payment)
        body["next_url"] = str(request.base_url).rstrip("/") + body["next_url"]
        return JSONResponse(body, status_code=201)

    @app.get("/psp/v1/payments/{payment_id}")
    def psp_status(payment_id: str, authorization: str | None = Header(None)) -> Response:
        if not _authorised(authorization):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        payment = psp.get(payment_id)
        if payment is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(_read(payment))

    @app.post("/psp/v1/payments/{payment_id}/refunds")
    async def psp_refund(
        payment_id: str, request: Request, authorization: str | None = Header(None)
    ) -> Response:
        if not _authorised(authorization):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        payment = psp.get(payment_id)
        if payment is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        amount = int((await request.json())["amount"])
        if payment.refunded + amount > payment.amount:
            return JSONResponse({"error": "more than available"}, status_code=400)
        payment.refunded += amount
        return JSONResponse({"refunded": payment.refunded}, status_code=201)

    def _notify(payment: PspPayment) -> None:
        payment.events += 1
        body = json.dumps(
            {"event_id": f"{payment.payment_id}:{payment.events}"} | _read(payment)
        ).encode()
        # A lost webhook is fine: Darwaza's reconciliation job asks about the payment later.
        with contextlib.suppress(httpx.HTTPError):
            darwaza.post(
                "/api/v1/payments/webhooks/psp",
                content=body,
                headers={
                    SIGNATURE_HEADER: sign_body(settings.psp_webhook_secret, body),
                    "Content-Type": "application/json",
                },
            )

    @app.get("/psp", response_class=HTMLResponse)
    def psp_list(request: Request) -> HTMLResponse:
        return page(
            request,
            "psp_list.html",
            PSP,
            same_page="/psp",
            payments=list(psp.values()),
            state=lambda state: PSP_STATES.get(state, state),
        )

    def no_such_payment(request: Request, payment_id: str) -> HTMLResponse:
        return page(
            request,
            "message.html",
            PSP,
            same_page=f"/psp/pay/{quote(payment_id, safe='')}",
            message=N_("There is no such payment."),
            back="/psp",
        )

    @app.get("/psp/pay/{payment_id}", response_class=HTMLResponse)
    def psp_page(request: Request, payment_id: str) -> HTMLResponse:
        payment = psp.get(payment_id)
        if payment is None:
            return no_such_payment(request, payment_id)
        if payment.state == "created":
            payment.state = "pending"
        same_page = f"/psp/pay/{payment_id}"
        return page(
            request,
            "psp_pay.html",
            PSP,
            same_page=same_page,
            payment=payment,
            outcomes=PSP_OUTCOMES,
        )

    @app.post("/psp/pay/{payment_id}")
    def psp_pay(request: Request, payment_id: str, outcome: str = Form("success")) -> Response:
        payment = psp.get(payment_id)
        if payment is None:
            return no_such_payment(request, payment_id)
        if payment.state in ("created", "pending"):
            payment.state = "failed" if outcome == "failed" else "success"
            payment.transaction_id = "card_" + secrets.token_hex(6)
            if outcome != "lost":
                _notify(payment)
        return RedirectResponse(payment.return_url, status_code=303)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "at": datetime.now(KARACHI).isoformat()}

    return app
