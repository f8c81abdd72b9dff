"""Tables of the documents domain: issued documents and the status lists they point to."""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.database import Base, UTCDateTime, new_public_id, utcnow
from darwaza.i18n import N_


class DocumentStatus:
    """The states of a document, with their 2-bit codes in a status list."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"

    CODES: Final = MappingProxyType({VALID: 0, REVOKED: 1, SUSPENDED: 2})
    LABELS: Final = MappingProxyType(
        {VALID: N_("Valid"), REVOKED: N_("Revoked"), SUSPENDED: N_("Suspended")}
    )


class StatusList(Base):
    """One shard of an agency's status list; documents get random free slots in it.

    ``version`` goes up with every status change so a published token is never stale.
    """

    __tablename__ = "status_lists"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Document(Base):
    """A signed document issued to a citizen, in both of its forms."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index", name="uq_documents_status_slot"),
        UniqueConstraint("agency_id", "issue_idempotency_key", name="uq_documents_issue_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    holder_cnic: Mapped[str] = mapped_column(String(13), index=True)
    application_id: Mapped[str | None] = mapped_column(ForeignKey("applications.id"), unique=True)
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=DocumentStatus.VALID)
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"), index=True)
    status_index: Mapped[int] = mapped_column(Integer)
    kid: Mapped[str] = mapped_column(String(64))
    sd_jwt: Mapped[str] = mapped_column(Text)
    qr_text: Mapped[str] = mapped_column(Text)
    issue_idempotency_key: Mapped[str | None] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
