"""Tables of the agencies domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.clock import utcnow
from darwaza.database import Base, UTCDateTime


class Agency(Base):
    """A public body that publishes services and issues documents (NADRA, HEC, ...).

    The catalogue files define agencies; this row mirrors them so that staff,
    applications and keys can refer to an agency.
    """

    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_ur: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKeyRecord(Base):
    """An ES256 key pair. The private half is sealed (encrypted) and never leaves the process.

    ``agency_id`` is empty for the platform's root key, which signs the trust bundle.
    A retired key signs nothing new but stays published while documents it signed live.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    sealed_private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:  # never show key material
        return f"SigningKeyRecord(kid={self.kid!r}, agency_id={self.agency_id!r})"
