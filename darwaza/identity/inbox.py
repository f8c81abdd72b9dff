"""A citizen's messages: the inbox page and API, e-mail and channel choices on /account,
and the delivery reports SMS providers send back (HMAC-signed).

The messages themselves belong to `darwaza.notifications`; these routes live with
identity because they need to know who is signed in.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from darwaza.errors import DarwazaError, InvalidInput
from darwaza.i18n import N_
from darwaza.identity.contact import choose_channels, confirm_email, request_email_confirmation
from darwaza.identity.dependencies import CitizenDep
from darwaza.notifications import service as notifications
from darwaza.notifications.models import Notification
from darwaza.web.api import error_responses
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, form_text, redirect
from darwaza.web.templating import render

pages = APIRouter(route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False)
api = APIRouter(
    route_class=CommittingRoute,
    prefix="/api/v1/notifications",
    tags=["notifications"],
    dependencies=CSRF_PROTECTED,
)
SIGNATURE_HEADER = "X-Darwaza-Signature"


@pages.get("/notifications", response_class=HTMLResponse)
def inbox_page(request: Request, db: DbDep, citizen: CitizenDep) -> Response:
    messages = notifications.inbox_of(db, recipient_id=citizen.id)
    return render(request, "identity/notifications.html", {"messages": messages})


@pages.post("/notifications/{notification_id}/read")
def read_one(notification_id: str, db: DbDep, citizen: CitizenDep) -> Response:
    notifications.mark_read(db, recipient_id=citizen.id, notification_id=notification_id)
    return redirect("/notifications")


@pages.post("/notifications/read-all")
def read_all(db: DbDep, citizen: CitizenDep) -> Response:
    notifications.mark_all_read(db, recipient_id=citizen.id)
    return redirect("/notifications")


@pages.post("/account/email")
def add_email(
    request: Request, form: FormDep, db: DbDep, settings: SettingsDep, citizen: CitizenDep
) -> Response:
    try:
        request_email_confirmation(
            db, settings=settings, citizen=citizen, email=form_text(form, "email")
        )
    except DarwazaError as error:
        return render(
            request,
            "identity/email_sent.html",
            {"errors": errors_of(error), "sent": False},
            status_code=error.status_code,
        )
    return render(request, "identity/email_sent.html", {"errors": {}, "sent": True})


@pages.get("/account/email/{token}", response_class=HTMLResponse)
def open_email_link(request: Request, token: str, db: DbDep) -> Response:
    confirmed = confirm_email(db, token=token)
    return render(
        request,
        "identity/email_sent.html",
        {"errors": {}, "sent": False, "confirmed": confirmed is not None},
        status_code=200 if confirmed is not None else 404,
    )


@pages.post("/account/channels")
def channels(form: FormDep, db: DbDep, citizen: CitizenDep) -> Response:
    choose_channels(
        db,
        citizen=citizen,
        by_sms=form_text(form, "sms") == "on",
        by_email=form_text(form, "email") == "on",
    )
    return redirect("/account?channels=saved")


class NotificationRead(BaseModel):
    """One in-app message."""

    id: str
    event: str
    subject: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class InboxRead(BaseModel):
    unread: int
    notifications: list[NotificationRead]


def _read(row: Notification) -> NotificationRead:
    return NotificationRead(
        id=row.id,
        event=row.event,
        subject=row.subject,
        body=row.body,
        link=row.link,
        created_at=row.created_at,
        read_at=row.read_at,
    )


@api.get("", responses=error_responses(401))
def list_notifications(db: DbDep, citizen: CitizenDep) -> InboxRead:
    """The signed-in citizen's in-app messages, newest first, and how many are unread."""
    rows = notifications.inbox_of(db, recipient_id=citizen.id)
    return InboxRead(
        unread=notifications.unread_count(db, recipient_id=citizen.id),
        notifications=[_read(row) for row in rows],
    )


@api.post("/{notification_id}/read", responses=error_responses(401, 404))
def mark_notification_read(
    notification_id: str, db: DbDep, citizen: CitizenDep
) -> NotificationRead:
    """Mark one message read (someone else's answers 404, like a missing one)."""
    row = notifications.mark_read(db, recipient_id=citizen.id, notification_id=notification_id)
    return _read(row)


class DeliveryReport(BaseModel):
    """What an SMS provider reports about a text it was given."""

    provider_id: str
    status: str  # "delivered", "temporary-failure" or "permanent-failure"
    reason: str = ""


class DeliveryReportRead(BaseModel):
    id: str
    status: str


@api.post("/sms-status", responses=error_responses(401, 404, 422))
async def sms_delivery_report(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    signature: Annotated[str, Header(alias=SIGNATURE_HEADER)] = "",
) -> DeliveryReportRead:
    """A provider's delivery report, signed: hex HMAC-SHA256 of the raw body under
    ``DARWAZA_SMS_CALLBACK_SECRET`` in ``X-Darwaza-Signature``. Anything else is refused."""
    body = await request.body()
    if not notifications.signature_matches(settings, body, signature):
        raise BadSignature()
    try:
        report = DeliveryReport.model_validate(json.loads(body))
    except ValueError as error:
        raise InvalidInput(N_("The delivery report is not valid.")) from error
    if report.status not in ("delivered", "temporary-failure", "permanent-failure"):
        raise InvalidInput(N_("The delivery report is not valid."))
    row = notifications.record_delivery_report(
        db,
        provider_id=report.provider_id,
        delivered=report.status == "delivered",
        permanent=report.status == "permanent-failure",
        reason=report.reason,
    )
    return DeliveryReportRead(id=row.id, status=row.status.value)


class BadSignature(DarwazaError):
    """A delivery report whose signature does not match."""

    status_code = 401
    code = "bad_signature"
    default_message = N_("The signature of this request is not valid.")
