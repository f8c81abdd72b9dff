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

This is a separate small app with its own in-memory state: it is not part of Darwaza's
server and holds no real money.
"""

from __future__ import annotations

import contextlib
import html
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from darwaza.clock import KARACHI, utcnow
from darwaza.payments.biller import format_amount, parse_amount
from darwaza.payments.providers import SIGNATURE_HEADER, sign_body
from darwaza.settings import Settings

STYLE = """
body{font-family:system-ui,sans-serif;max-width:360px;margin:0 auto;padding:12px;background:#f4f6f8}
h1{font-size:1.3rem;color:#0b3d6b}label{display:block;margin-top:12px;font-weight:600}
input,select,button{width:100%;box-sizing:border-box;font-size:1.1rem;padding:10px;margin-top:4px}
button{background:#0b3d6b;color:#fff;border:0;border-radius:6px;margin-top:16px}
.card{background:#fff;border-radius:8px;padding:12px;margin-top:12px}
.ok{color:#0a6b2d}.bad{color:#a00}
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


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

    def onebill(call: str, body: dict[str, str]) -> dict[str, Any]:
        response = darwaza.post(f"/api/v1/onebill/{call}", json=credentials | body)
        result: dict[str, Any] = response.json()
        return result

    @app.get("/", response_class=HTMLResponse)
    def bank_home() -> HTMLResponse:
        return _page(
            "Sandbox Bank: pay a bill",
            '<form method="post" action="/inquire" class="card">'
            '<label for="psid">PSID (consumer number)</label>'
            '<input id="psid" name="psid" inputmode="numeric" autocomplete="off" required>'
            '<button type="submit">Find the bill</button></form>'
            '<p class="card"><a href="/psp">Sandbox PSP payments</a></p>',
        )

    @app.post("/inquire", response_class=HTMLResponse)
    def inquire(psid: str = Form("")) -> HTMLResponse:
        psid = "".join(ch for ch in psid if ch.isdigit())
        answer = onebill("bill-inquiry", {"Consumer_Number": psid, "Bank_Mnemonic": "SNDBX"})
        code = answer.get("Response_Code")
        if code != "00":
            return _page(
                "Sandbox Bank",
                f'<p class="card bad">1Bill answered {html.escape(str(code))}: '
                "this bill cannot be paid.</p><p><a href='/'>Back</a></p>",
            )
        amount = parse_amount(answer.get("Amount_Within_DueDate", "")) or 0
        status = answer.get("Bill_Status")
        if status != "U":
            return _page(
                "Sandbox Bank",
                f'<p class="card ok">This bill is already paid ({html.escape(str(status))}).</p>'
                "<p><a href='/'>Back</a></p>",
            )
        default = {"1": "decline", "2": "timeout", "3": "twice"}.get(psid[-1:], "normal")
        options = "".join(
            f'<option value="{v}"{" selected" if v == default else ""}>{label}</option>'
            for v, label in (
                ("normal", "Pay"),
                ("decline", "Decline (insufficient funds)"),
                ("timeout", "Time out, then retry"),
                ("twice", "Pay twice"),
                ("wrong_amount", "Pay Rs 1 too much"),
            )
        )
        return _page(
            "Sandbox Bank",
            f'<div class="card"><p>{html.escape(answer.get("Consumer_Detail", ""))}</p>'
            f"<p>Amount <strong>Rs {amount / 100:,.2f}</strong></p>"
            f"<p>Due {html.escape(answer.get('Due_Date', ''))}</p></div>"
            '<form method="post" action="/pay" class="card">'
            f'<input type="hidden" name="psid" value="{html.escape(psid)}">'
            f'<input type="hidden" name="amount" value="{amount}">'
            f'<label for="scenario">What happens</label><select id="scenario" name="scenario">'
            f"{options}</select>"
            '<button type="submit" id="pay">Pay now</button></form>',
        )

    @app.post("/pay", response_class=HTMLResponse)
    def pay(
        psid: str = Form(""), amount: int = Form(0), scenario: str = Form("normal")
    ) -> HTMLResponse:
        if scenario == "decline":
            return _page(
                "Sandbox Bank",
                '<p class="card bad" id="result">Declined: insufficient funds. '
                "Nothing was sent to Darwaza.</p><p><a href='/'>Back</a></p>",
            )
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
        paid = "00" in codes
        return _page(
            "Sandbox Bank",
            f'<p class="card {"ok" if paid else "bad"}" id="result">'
            f"{'Paid' if paid else 'Not paid'}. 1Bill answered {html.escape(', '.join(codes))} "
            f"(transaction {html.escape(body['Tran_Auth_Id'])}).</p>"
            "<p><a href='/'>Pay another</a></p>",
        )

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
    def psp_list() -> HTMLResponse:
        rows = "".join(
            f"<li>{html.escape(p.payment_id)} Rs {p.amount / 100:,.2f} {html.escape(p.state)}</li>"
            for p in psp.values()
        )
        return _page("Sandbox PSP", f'<ul class="card">{rows or "<li>None yet</li>"}</ul>')

    @app.get("/psp/pay/{payment_id}", response_class=HTMLResponse)
    def psp_page(payment_id: str) -> HTMLResponse:
        payment = psp.get(payment_id)
        if payment is None:
            return _page("Sandbox PSP", '<p class="bad">No such payment.</p>')
        if payment.state == "created":
            payment.state = "pending"
        buttons = "".join(
            f'<button name="outcome" value="{v}" id="{v}">{label}</button>'
            for v, label in (
                ("success", "Pay by card"),
                ("failed", "Decline"),
                ("lost", "Pay, but lose the webhook"),
            )
        )
        return _page(
            "Sandbox PSP",
            f'<div class="card">Amount <strong>Rs {payment.amount / 100:,.2f}</strong></div>'
            f'<form method="post" action="/psp/pay/{html.escape(payment_id)}" class="card">'
            f"{buttons}</form>",
        )

    @app.post("/psp/pay/{payment_id}")
    def psp_pay(payment_id: str, outcome: str = Form("success")) -> Response:
        payment = psp.get(payment_id)
        if payment is None:
            return _page("Sandbox PSP", '<p class="bad">No such payment.</p>')
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
