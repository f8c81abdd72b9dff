"""The payment endpoints outside parties call: 1Bill's biller API and the PSP's webhooks.

Neither carries a session cookie, so neither needs a CSRF token; each authenticates in
its own way (the channel's credentials and address; the webhook's HMAC signature).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.payments import biller, service
from darwaza.payments.models import Payment, PaymentWebhookEvent
from darwaza.payments.providers import SIGNATURE_HEADER, signature_matches
from darwaza.web.api import error_responses
from darwaza.web.context import (
    CSRF_PROTECTED,
    CommittingRoute,
    DbDep,
    SettingsDep,
    client_address,
    in_one_transaction,
)

router = APIRouter(
    route_class=CommittingRoute, prefix="/api/v1", tags=["payments"], dependencies=CSRF_PROTECTED
)

MAX_WEBHOOK_BYTES = 64 * 1024


@router.post(
    "/onebill/bill-inquiry",
    response_model=biller.BillInquiryResponse,
    responses=error_responses(),
)
async def bill_inquiry(
    body: biller.BillInquiryRequest, request: Request, settings: SettingsDep
) -> biller.BillInquiryResponse:
    """1Bill asks what a PSID owes. See `darwaza.payments.biller` for the fields."""
    address = client_address(request)
    return await in_one_transaction(
        request,
        settings,
        lambda db: biller.bill_inquiry(db, settings=settings, request=body, address=address),
    )


@router.post(
    "/onebill/bill-payment",
    response_model=biller.BillPaymentResponse,
    responses=error_responses(),
)
async def bill_payment(
    body: biller.BillPaymentRequest, request: Request, settings: SettingsDep
) -> biller.BillPaymentResponse:
    """1Bill reports a payment. The same Tran_Auth_Id again answers duplicate (07)."""
    address = client_address(request)
    return await in_one_transaction(
        request,
        settings,
        lambda db: biller.bill_payment(db, settings=settings, request=body, address=address),
    )


def _refuse(reason: str, status_code: int) -> Response:
    return JSONResponse({"error": {"code": reason, "message": reason}}, status_code=status_code)


@router.post("/payments/webhooks/psp", status_code=204, responses=error_responses(401, 413))
async def psp_webhook(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    """The PSP's signed notice that a payment changed. HMAC-SHA256 over the raw body,
    checked in constant time; a repeated event id changes nothing; events may arrive in
    any order, because a payment's state only moves forward."""
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        return _refuse("too_large", 413)
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if settings.payment_secrets_are_defaults or not signature_matches(
        settings.psp_webhook_secret, body, signature
    ):
        record_event(
            db,
            actor=Actor.public(),
            action="payment.webhook_refused",
            object_type="webhook",
            object_id="psp",
            after={"reason": "bad_signature", "address": client_address(request)},
        )
        return _refuse("bad_signature", 401)
    try:
        event: dict[str, Any] = json.loads(body)
        event_id = str(event["event_id"])[:100]
        reference = str(event["payment_id"])[:100]
        status = str(event["state"])
        amount = int(event["amount"])
        transaction_id = str(event.get("transaction_id", ""))[:64]
    except (ValueError, KeyError, TypeError):
        return _refuse("invalid_event", 400)
    try:
        with db.begin_nested():
            db.add(
                PaymentWebhookEvent(
                    provider="psp", event_id=event_id, provider_reference=reference, status=status
                )
            )
            db.flush()
    except IntegrityError:
        return Response(status_code=204)  # seen before: nothing changes
    payment = db.scalar(
        select(Payment).where(Payment.provider_reference == reference).with_for_update()
    )
    if payment is None:
        record_event(
            db,
            actor=Actor.system(),
            action="payment.webhook_unknown",
            object_type="webhook",
            object_id=event_id,
            after={"payment_id": reference},
        )
        return Response(status_code=204)
    service.apply_provider_status(
        db,
        payment=payment,
        status=status,
        amount_paisa=amount,
        transaction_id=transaction_id,
        actor=Actor.system(),
    )
    return Response(status_code=204)
