"""Tables of the agencies domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.database import Base, UTCDateTime, utcnow


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
