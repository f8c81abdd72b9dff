"""Tables of the wallet domain: shares a citizen made, and every opening of one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.clock import utcnow
from darwaza.database import Base, UTCDateTime, new_public_id


class Share(Base):
    """A link that shows chosen claims of one document to whoever holds it, until it ends.

    Only a hash of the link's secret is stored, so the table cannot be used to open shares.
    """

    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    citizen_id: Mapped[str] = mapped_column(ForeignKey("citizens.id"), index=True)
    disclosed_claims: Mapped[list[Any]] = mapped_column(JSON)
    presentation: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShareOpening(Base):
    """Someone opened a share: when, and what they were shown."""

    __tablename__ = "share_openings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    share_id: Mapped[str] = mapped_column(ForeignKey("shares.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verdict: Mapped[str] = mapped_column(String(20))
    user_agent: Mapped[str] = mapped_column(String(200), default="")
