"""Messages through the job queue: ``sms.send`` (one-time codes) and ``notification.deliver``.

A message enqueued with `send_sms_later` commits with the change that caused it and is
sent by a worker. Its ``message_id`` goes to the gateway as the client reference, so a
retry after a crash does not send it twice. ``notification.deliver`` sends one row of
``notifications`` (written by `darwaza.notifications.service.notify`) by SMS or e-mail
and keeps its status: ``sending`` while a worker has it, then ``delivered`` or
``failed`` (temporary or permanent).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.clock import utcnow
from darwaza.database import session_factory
from darwaza.jobs import Job, JobContext, JobRegistry, PermanentFailure, Priority, enqueue
from darwaza.notifications.email import email_gateway_for
from darwaza.notifications.models import Channel, DeliveryStatus, FailureKind, Notification
from darwaza.notifications.service import (
    DELIVER_JOB,
    DELIVERY_ATTEMPTS,
    is_suppressed,
    suppress,
)
from darwaza.notifications.sms import DeliveryFailed, sms_gateway_for
from darwaza.settings import Settings

# A one-time code older than this is useless, so it is dropped rather than sent late.
URGENT_SMS_LIFETIME = timedelta(minutes=10)


class NotificationJob(StrEnum):
    """The kinds of job this domain handles."""

    SEND_SMS = "sms.send"
    DELIVER_NOTIFICATION = DELIVER_JOB


def send_sms(context: JobContext) -> None:
    """Handler of ``sms.send``: hand the message to the gateway with its id."""
    payload = context.payload
    try:
        message_id, to, text = payload["message_id"], payload["to"], payload["text"]
    except KeyError as missing:
        raise PermanentFailure(f"the payload has no {missing}") from None
    sms_gateway_for(context.settings).send(to=to, text=text, message_id=message_id)


def _over_the_cap(
    db: Session, settings: Settings, row: Notification
) -> tuple[str, datetime] | None:
    """Why a text must wait and until when, or None if it may go now."""
    if row.channel is not Channel.SMS:
        return None
    now = utcnow()
    sent = select(Notification.sent_at).where(
        Notification.channel == Channel.SMS,
        Notification.sent_at.is_not(None),
        Notification.id != row.id,
    )
    to_number = db.scalars(
        sent.where(
            Notification.address == row.address, Notification.sent_at > now - timedelta(hours=1)
        )
        .order_by(Notification.sent_at.desc())
        .limit(settings.sms_per_number_per_hour)
    ).all()
    if len(to_number) >= settings.sms_per_number_per_hour:
        # It may go an hour after the oldest of the texts that fill the cap.
        frees_at = min(when for when in to_number if when is not None) + timedelta(hours=1)
        return "waiting: the hourly cap of texts to this number is reached", frees_at
    this_minute = db.scalar(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.channel == Channel.SMS,
            Notification.sent_at > now - timedelta(minutes=1),
            Notification.id != row.id,
        )
    )
    if int(this_minute or 0) >= settings.sms_per_minute:
        return "waiting: the platform's cap of texts per minute is reached", now + timedelta(
            minutes=1
        )
    return None


def deliver_notification(context: JobContext) -> None:
    """Handler of ``notification.deliver``: send one message and keep its status.

    Its status changes are committed in short transactions of their own, so ``sending``
    and a temporary failure show while the job is retried; the provider is called with
    no transaction open. The final status commits with the job.
    """
    notification_id = str(context.payload.get("notification_id", ""))
    sessions = session_factory(context.settings)
    with sessions.begin() as own:
        row = own.get(Notification, notification_id)
        if row is None:
            raise PermanentFailure(f"no notification {notification_id!r}")
        if row.status is DeliveryStatus.DELIVERED or (
            row.status is DeliveryStatus.FAILED and row.failure is FailureKind.PERMANENT
        ):
            return  # done already (a repeat after a crash): never send twice
        waiting = None
        if is_suppressed(own, row.address):
            row.status, row.failure = DeliveryStatus.FAILED, FailureKind.PERMANENT
            row.last_error = "not sent: this address bounced permanently before"
        else:
            waiting = _over_the_cap(own, context.settings, row)
            if waiting is None:
                row.status, row.failure = DeliveryStatus.SENDING, None
                row.attempts += 1
                row.sent_at = utcnow()
        channel, address, subject, body = row.channel, row.address, row.subject, row.body
        suppressed = row.status is DeliveryStatus.FAILED
    if suppressed:
        return
    if waiting is not None:
        # Waiting is not failing: this job ends and a new one, due when the cap frees,
        # takes the message (in this job's transaction, so exactly one does).
        reason, frees_at = waiting
        row = context.db.get(Notification, notification_id)
        assert row is not None
        row.last_error = reason
        enqueue(
            context.db,
            kind=DELIVER_JOB,
            payload={"notification_id": notification_id},
            idempotency_key=f"notification:{notification_id}:after:{context.job_id}",
            run_at=frees_at,
            max_attempts=DELIVERY_ATTEMPTS,
        )
        return
    reports_delivery = False
    try:
        if channel is Channel.SMS:
            gateway = sms_gateway_for(context.settings)
            reports_delivery = getattr(gateway, "reports_delivery", False)
            provider_id = gateway.send(to=address, text=body, message_id=notification_id)
        else:
            provider_id = email_gateway_for(context.settings).send(
                to=address, subject=subject, text=body, message_id=notification_id
            )
    except Exception as error:
        permanent = isinstance(error, DeliveryFailed) and error.permanent
        with sessions.begin() as own:
            failed = own.get(Notification, notification_id)
            assert failed is not None
            failed.last_error = f"{type(error).__name__}: {error}"[:500]
            failed.failure = FailureKind.PERMANENT if permanent else FailureKind.TEMPORARY
            if permanent:
                failed.status = DeliveryStatus.FAILED
                suppress(own, channel=channel, address=address, reason=str(error))
            elif context.attempt >= DELIVERY_ATTEMPTS:
                failed.status = DeliveryStatus.FAILED
        if permanent:
            raise PermanentFailure(str(error)) from error
        raise
    row = context.db.get(Notification, notification_id)
    assert row is not None
    row.provider_id = provider_id
    row.failure = None
    if not reports_delivery:
        row.status, row.delivered_at = DeliveryStatus.DELIVERED, utcnow()


def register_notification_jobs(registry: JobRegistry) -> None:
    """Add this domain's handlers to the worker's registry."""
    registry.add(NotificationJob.SEND_SMS, send_sms)
    registry.add(NotificationJob.DELIVER_NOTIFICATION, deliver_notification)


def send_sms_later(
    db: Session,
    *,
    to: str,
    text: str,
    urgent: bool,
    message_id: str | None = None,
    now: datetime | None = None,
) -> Job:
    """Queue a text message in the caller's transaction (it is sent once that commits).

    ``urgent`` is for one-time codes: they jump the queue and are dropped, unsent, if no
    worker started them within ten minutes. Sending twice with one ``message_id`` queues
    one message.
    """
    message_id = message_id or str(uuid.uuid4())
    now = now or utcnow()
    return enqueue(
        db,
        kind=NotificationJob.SEND_SMS,
        payload={"message_id": message_id, "to": to, "text": text},
        idempotency_key=f"sms:{message_id}",
        priority=Priority.URGENT if urgent else Priority.NORMAL,
        expires_at=now + URGENT_SMS_LIFETIME if urgent else None,
        now=now,
    )
