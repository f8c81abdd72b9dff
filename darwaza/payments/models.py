"""Tables of the payments domain: a payment per fee, the money that came in, refunds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.clock import utcnow
from darwaza.database import Base, StrEnumType, UTCDateTime, new_public_id
from darwaza.payments.workflow import PaymentState


class Payment(Base):
    """One fee owed for one application, through one kind of provider (PSID or PSP).

    Money is integer paisa. ``paid_paisa`` is what was credited once; ``refunded_paisa``
    what went back, which can never exceed it.
    """

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_state_due", "state", "due_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    # PSIDs are unique; online payments have none.
    psid: Mapped[str | None] = mapped_column(String(18), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    state: Mapped[PaymentState] = mapped_column(StrEnumType(PaymentState, 20))
    application_id: Mapped[str] = mapped_column(ForeignKey("applications.id"), index=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id"), index=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    service_id: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(20))
    fee_tier: Mapped[str | None] = mapped_column(String(64))
    payer_name: Mapped[str] = mapped_column(String(200), default="")
    amount_paisa: Mapped[int] = mapped_column(BigInteger)
    paid_paisa: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_paisa: Mapped[int] = mapped_column(BigInteger, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bank: Mapped[str | None] = mapped_column(String(20))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    # The PSP's own id for an online payment, and the key the create call was sent with.
    provider_reference: Mapped[str | None] = mapped_column(String(100), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    receipt_document_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(Text)


class PaymentCredit(Base):
    """Money a channel said it took for a payment: one row per transaction id.

    The unique (channel, transaction id) makes a replayed call a duplicate even when two
    copies race. A credit that arrives after the payment was already paid is kept with
    ``duplicate`` set and refunded.
    """

    __tablename__ = "payment_credits"
    __table_args__ = (UniqueConstraint("channel", "transaction_id", name="uq_payment_credits_tx"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    transaction_id: Mapped[str] = mapped_column(String(64))
    bank: Mapped[str] = mapped_column(String(20), default="")
    amount_paisa: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duplicate: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentRefund(Base):
    """Money sent back: for a rejected or withdrawn application, or a duplicate payment."""

    __tablename__ = "payment_refunds"
    __table_args__ = (UniqueConstraint("payment_id", "reason_key", name="uq_payment_refunds_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    amount_paisa: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(40))
    # One refund per cause: "rejected", "withdrawn", or "duplicate:<credit id>".
    reason_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentWebhookEvent(Base):
    """A provider's notification, kept by its event id so a replay changes nothing."""

    __tablename__ = "payment_webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_payment_webhook_events"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(100))
    provider_reference: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
