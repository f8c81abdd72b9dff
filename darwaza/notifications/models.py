"""The ``notifications`` table (every message and where it is) and ``notification_suppressions``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.clock import utcnow
from darwaza.database import Base, StrEnumType, UTCDateTime, new_public_id


class Channel(StrEnum):
    """How a message reaches a person."""

    SMS = "sms"
    EMAIL = "email"
    INBOX = "inbox"


class DeliveryStatus(StrEnum):
    """created -> sending -> delivered | failed, as in GOV.UK Notify.

    ``sending`` means a worker has it (and, with a provider that reports back, that the
    provider accepted it); a temporary failure keeps it ``sending`` while it is retried.
    """

    CREATED = "created"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class FailureKind(StrEnum):
    """Why a message failed: worth trying again later, or never."""

    TEMPORARY = "temporary"
    PERMANENT = "permanent"


class Notification(Base):
    """One message to one person on one channel, with its delivery history."""

    __tablename__ = "notifications"
    __table_args__ = (
        # Serves the inbox (a person's messages, newest first) and the unread count.
        Index("ix_notifications_inbox", "recipient_id", "channel", "created_at"),
        # Serves the per-number SMS cap.
        Index("ix_notifications_address_sent", "address", "sent_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    recipient_id: Mapped[str | None] = mapped_column(String(36))
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 8))
    event: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5))
    # A mobile number (E.164) or e-mail address; empty for the in-app inbox.
    address: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # What the message is about (an application or document id), for its timeline.
    reference: Mapped[str | None] = mapped_column(String(36), index=True)
    link: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(StrEnumType(DeliveryStatus, 12))
    failure: Mapped[FailureKind | None] = mapped_column(StrEnumType(FailureKind, 10))
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Suppression(Base):
    """A number or address that bounced permanently: nothing more is sent to it."""

    __tablename__ = "notification_suppressions"

    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    channel: Mapped[Channel] = mapped_column(StrEnumType(Channel, 8))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
