"""Text messages through the job queue: the ``sms.send`` job and `send_sms_later`.

A message enqueued with `send_sms_later` commits with the change that caused it and is
sent by a worker. Its ``message_id`` goes to the gateway as the client reference, so a
retry after a crash does not send it twice.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from darwaza.clock import utcnow
from darwaza.jobs import Job, JobContext, JobRegistry, PermanentFailure, Priority, enqueue
from darwaza.notifications.sms import sms_gateway_for

# A one-time code older than this is useless, so it is dropped rather than sent late.
URGENT_SMS_LIFETIME = timedelta(minutes=10)


class NotificationJob(StrEnum):
    """The kinds of job this domain handles."""

    SEND_SMS = "sms.send"


def send_sms(context: JobContext) -> None:
    """Handler of ``sms.send``: hand the message to the gateway with its id."""
    payload = context.payload
    try:
        message_id, to, text = payload["message_id"], payload["to"], payload["text"]
    except KeyError as missing:
        raise PermanentFailure(f"the payload has no {missing}") from None
    sms_gateway_for(context.settings).send(to=to, text=text, message_id=message_id)


def register_notification_jobs(registry: JobRegistry) -> None:
    """Add this domain's handlers to the worker's registry."""
    registry.add(NotificationJob.SEND_SMS, send_sms)


def send_sms_later(
    db: Session, *, to: str, text: str, urgent: bool, message_id: str | None = None
) -> Job:
    """Queue a text message in the caller's transaction (it is sent once that commits).

    ``urgent`` is for one-time codes: they jump the queue and are dropped, unsent, if no
    worker started them within ten minutes. Sending twice with one ``message_id`` queues
    one message.
    """
    message_id = message_id or str(uuid.uuid4())
    now = utcnow()
    return enqueue(
        db,
        kind=NotificationJob.SEND_SMS,
        payload={"message_id": message_id, "to": to, "text": text},
        idempotency_key=f"sms:{message_id}",
        priority=Priority.URGENT if urgent else Priority.NORMAL,
        expires_at=now + URGENT_SMS_LIFETIME if urgent else None,
        now=now,
    )
