"""Tables of the documents domain: issued documents and the status lists they point to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.clock import utcnow
from darwaza.database import Base, StrEnumType, UTCDateTime, new_public_id
from darwaza.documents.formats.status_list import StatusCode
from darwaza.i18n import N_


class DocumentStatus(StrEnum):
    """The states of an issued document."""

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"

    @property
    def code(self) -> StatusCode:
        """The document's entry in its status list (revoked is the draft's "invalid")."""
        return _STATUS_CODES[self]

    @property
    def label(self) -> str:
        """What a person reads (an English msgid, translated where shown)."""
        return _STATUS_LABELS[self]


_STATUS_CODES: Final = MappingProxyType(
    {
        DocumentStatus.VALID: StatusCode.VALID,
        DocumentStatus.REVOKED: StatusCode.INVALID,
        DocumentStatus.SUSPENDED: StatusCode.SUSPENDED,
    }
)
_STATUS_LABELS: Final = MappingProxyType(
    {
        DocumentStatus.VALID: N_("Valid"),
        DocumentStatus.REVOKED: N_("Revoked"),
        DocumentStatus.SUSPENDED: N_("Suspended"),
    }
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


NOT_VALID_SQL = "status <> 'valid'"


class Document(Base):
    """A signed document issued to a citizen, in both of its forms."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index", name="uq_documents_status_slot"),
        UniqueConstraint("agency_id", "issue_idempotency_key", name="uq_documents_issue_key"),
        # The wallet: a citizen's documents newest first, by account or by CNIC (0014).
        Index("ix_documents_citizen_newest", "citizen_id", "issued_at"),
        Index("ix_documents_holder_cnic_newest", "holder_cnic", "issued_at"),
        # The console: an agency's newest documents (0015). The status slot's unique
        # constraint serves look-ups by shard; no index repeats another's first column.
        Index("ix_documents_agency_newest", "agency_id", "issued_at"),
        # Whether a retired key signed a document still in use, which keeps it published
        # (0018): a probe of a few entries, not a read of every document.
        Index("ix_documents_kid_expiry", "kid", "expires_at"),
        # A shard's published list: only its slots that are not valid, found without
        # reading the other 65,000 rows of a full shard (0015).
        Index(
            "ix_documents_not_valid",
            "status_list_id",
            "status_index",
            postgresql_where=text(NOT_VALID_SQL),
            sqlite_where=text(NOT_VALID_SQL),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"))
    document_type: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"))
    holder_cnic: Mapped[str] = mapped_column(String(13))
    application_id: Mapped[str | None] = mapped_column(ForeignKey("applications.id"), unique=True)
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DocumentStatus] = mapped_column(
        StrEnumType(DocumentStatus, 12), default=DocumentStatus.VALID
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    status_index: Mapped[int] = mapped_column(Integer)
    kid: Mapped[str] = mapped_column(String(64))
    sd_jwt: Mapped[str] = mapped_column(Text)
    qr_text: Mapped[str] = mapped_column(Text)
    issue_idempotency_key: Mapped[str | None] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
