"""Telling people what happened: `notify` writes the messages, a worker delivers them.

The caller passes a `Recipient` (who, where, in which language, which channels they
chose) and the event's values; this package knows nothing of citizens, applications or
documents. `notify` renders the event's template (`templates.py`) and, in the caller's
transaction, writes one ``notifications`` row per channel and one delivery job per
text or e-mail: the change and its messages commit together or not at all.

Channels: the in-app inbox always (for citizens); SMS for what must reach the person
(a decision, a request for information, a document's status) and otherwise only if they
chose it; e-mail to a confirmed address if they chose it. Non-urgent texts and e-mails
written in quiet hours wait for the morning; nothing goes to a number or address that
bounced for good.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from darwaza.clock import KARACHI, utcnow
from darwaza.errors import NotFound
from darwaza.jobs import NewJob, enqueue_all
from darwaza.notifications.models import (
    Channel,
    DeliveryStatus,
    FailureKind,
    Notification,
    Suppression,
)
from darwaza.notifications.templates import EVENTS, TemplateError, templates_in
from darwaza.settings import Settings

DELIVER_JOB = "notification.deliver"
DELIVERY_ATTEMPTS = 8


@dataclass(frozen=True)
class Recipient:
    """Who a message is for, as the calling domain knows them.

    ``email`` is a confirmed address (or None); ``sms_chosen`` and ``email_chosen`` are
    the person's choices for messages that need not reach them by SMS.
    """

    recipient_id: str | None
    mobile: str | None
    language: str
    email: str | None = None
    sms_chosen: bool = False
    email_chosen: bool = False
    inbox: bool = True


def parse_quiet_hours(value: str) -> tuple[time, time] | None:
    """``"22:00-08:00"`` as (start, end); None when quiet hours are off."""
    value = value.strip()
    if not value:
        return None
    start, end = value.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def after_quiet_hours(settings: Settings, now: datetime) -> datetime:
    """``now``, or the end of the quiet hours (Asia/Karachi) it falls in."""
    hours = parse_quiet_hours(settings.quiet_hours)
    if hours is None:
        return now
    start, end = hours
    local = now.astimezone(KARACHI)
    clock = local.time()
    quiet = (start <= clock or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return now
    morning = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if morning <= local:
        morning += timedelta(days=1)
    return morning.astimezone(now.tzinfo)


def is_suppressed(db: Session, address: str) -> bool:
    """Whether the number or address bounced for good."""
    return db.get(Suppression, address) is not None


def notify(
    db: Session,
    *,
    settings: Settings,
    recipient: Recipient,
    event: str,
    values: dict[str, Any],
    reference: str | None = None,
    email_to: str | None = None,
    now: datetime | None = None,
    send_after: datetime | None = None,
) -> list[Notification]:
    """Write the messages of ``event`` to ``recipient`` and queue their delivery.

    Never commits. ``email_to`` sends the e-mail (only) to an address not yet confirmed
    (the confirmation link itself). ``send_after`` holds delivery back (a large batch is
    spread over time so the texts keep within the caps). A template that lacks a value
    raises `TemplateError` before anything is written.
    """
    spec = EVENTS[event]
    template = templates_in(settings.notification_templates_dir)[event]
    message = template.render(recipient.language, values)
    now = now or utcnow()
    channels: list[tuple[Channel, str]] = []
    if email_to:
        channels.append((Channel.EMAIL, email_to))
    else:
        if spec.inbox and recipient.inbox and recipient.recipient_id:
            channels.append((Channel.INBOX, ""))
        if recipient.mobile and (spec.must_reach or recipient.sms_chosen):
            channels.append((Channel.SMS, recipient.mobile))
        if recipient.email and recipient.email_chosen:
            channels.append((Channel.EMAIL, recipient.email))
    written: list[Notification] = []
    for channel, address in channels:
        row = Notification(
            recipient_id=recipient.recipient_id,
            channel=channel,
            event=event,
            language=recipient.language,
            address=address,
            subject=message.subject,
            body=message.text,
            reference=reference,
            link=str(values["link"]) if "link" in values else None,
            status=DeliveryStatus.CREATED,
            attempts=0,
            created_at=now,
        )
        db.add(row)
        if channel is Channel.INBOX:
            row.status = DeliveryStatus.DELIVERED
            row.sent_at = row.delivered_at = now
        elif is_suppressed(db, address):
            row.status, row.failure = DeliveryStatus.FAILED, FailureKind.PERMANENT
            row.last_error = "not sent: this address bounced permanently before"
        written.append(row)
    db.flush()
    due = after_quiet_hours(settings, max(now, send_after or now))
    enqueue_all(
        db,
        [
            NewJob(
                kind=DELIVER_JOB,
                payload={"notification_id": row.id},
                idempotency_key=f"notification:{row.id}",
                run_at=due,
                max_attempts=DELIVERY_ATTEMPTS,
            )
            for row in written
            if row.status is DeliveryStatus.CREATED
        ],
        now=now,
    )
    return written


def check_values(event: str, values: dict[str, Any]) -> None:
    """Raise `TemplateError` if ``values`` lack a field of ``event`` (for callers' tests)."""
    missing = EVENTS[event].fields - values.keys()
    if missing:
        raise TemplateError(f"{event}: no value given for {', '.join(sorted(missing))}")


# The citizen's inbox.


def inbox_of(db: Session, *, recipient_id: str, limit: int = 100) -> Sequence[Notification]:
    """A person's in-app messages, newest first."""
    return (
        db.execute(
            select(Notification)
            .where(Notification.recipient_id == recipient_id, Notification.channel == Channel.INBOX)
            .order_by(Notification.created_at.desc(), Notification.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )


def unread_count(db: Session, *, recipient_id: str) -> int:
    """How many in-app messages the person has not read."""
    return int(
        db.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.recipient_id == recipient_id,
                Notification.channel == Channel.INBOX,
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


def mark_read(db: Session, *, recipient_id: str, notification_id: str) -> Notification:
    """Mark one in-app message read; someone else's answers `NotFound` like a missing one."""
    row = db.get(Notification, notification_id)
    if row is None or row.recipient_id != recipient_id or row.channel is not Channel.INBOX:
        raise NotFound()
    if row.read_at is None:
        row.read_at = utcnow()
    return row


def mark_all_read(db: Session, *, recipient_id: str) -> None:
    """Mark every in-app message of the person read."""
    db.execute(
        update(Notification)
        .where(
            Notification.recipient_id == recipient_id,
            Notification.channel == Channel.INBOX,
            Notification.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )


def messages_about(db: Session, *, reference: str, recipient_id: str) -> Sequence[Notification]:
    """The texts and e-mails sent to the person about one thing, oldest first (its timeline)."""
    return (
        db.execute(
            select(Notification)
            .where(
                Notification.reference == reference,
                Notification.recipient_id == recipient_id,
                Notification.channel != Channel.INBOX,
            )
            .order_by(Notification.created_at, Notification.id)
        )
        .scalars()
        .all()
    )


# Delivery reports from the SMS provider.


def signature_matches(settings: Settings, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of the raw body (constant time)."""
    if not settings.sms_callback_secret:
        return False
    expected = hmac.new(settings.sms_callback_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def record_delivery_report(
    db: Session, *, provider_id: str, delivered: bool, permanent: bool, reason: str = ""
) -> Notification:
    """Apply a provider's report on a text: delivered, or failed (and why)."""
    row = db.scalar(select(Notification).where(Notification.provider_id == provider_id))
    if row is None:
        raise NotFound()
    now = utcnow()
    if delivered:
        row.status, row.failure, row.delivered_at = DeliveryStatus.DELIVERED, None, now
    else:
        row.status = DeliveryStatus.FAILED
        row.failure = FailureKind.PERMANENT if permanent else FailureKind.TEMPORARY
        row.last_error = reason[:500] or None
        if permanent:
            suppress(db, channel=row.channel, address=row.address, reason=reason or "bounced")
    return row


def suppress(db: Session, *, channel: Channel, address: str, reason: str) -> None:
    """Send nothing more to ``address``."""
    if address and db.get(Suppression, address) is None:
        db.add(Suppression(address=address, channel=channel, reason=reason[:500]))
        db.flush()
