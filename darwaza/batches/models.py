"""Tables of bulk issuance: batches, their rows, and the problems the check found."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.batches.workflow import BatchState
from darwaza.clock import utcnow
from darwaza.database import Base, StrEnumType, UTCDateTime, new_public_id

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class RowStatus(StrEnum):
    """What became of one row of a register."""

    PENDING = "pending"  # valid, waiting for the worker
    ISSUED = "issued"
    ALREADY_ISSUED = "already_issued"  # its document exists (an earlier register)
    FAILED = "failed"  # refused at signing time
    INVALID = "invalid"  # refused by the check; never issued


class Batch(Base):
    """One uploaded register of one document type, and how far its issuing has got."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    document_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[BatchState] = mapped_column(
        StrEnumType(BatchState, 12), default=BatchState.UPLOADED
    )
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_format: Mapped[str] = mapped_column(String(8))
    column_mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    uploaded_by: Mapped[str] = mapped_column(String(80))  # "kind:id" of the actor
    approved_by: Mapped[str | None] = mapped_column(String(80))
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    valid_count: Mapped[int] = mapped_column(Integer, default=0)
    invalid_count: Mapped[int] = mapped_column(Integer, default=0)
    header_ok: Mapped[bool] = mapped_column(default=True)
    issued_count: Mapped[int] = mapped_column(Integer, default=0)
    already_issued_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    chunk_size: Mapped[int] = mapped_column(Integer, default=500)
    runs: Mapped[int] = mapped_column(Integer, default=0)  # each start or resume is a run
    merkle_root: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issuing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def left(self) -> int:
        """Valid rows not yet issued, found issued already or failed."""
        return max(
            self.valid_count - self.issued_count - self.already_issued_count - self.failed_count,
            0,
        )


class BatchRow(Base):
    """One valid or invalid row of a register; valid rows carry their derived document id."""

    __tablename__ = "batch_rows"
    __table_args__ = (
        # Reads go by batch and row number and filter the status on the way: an index
        # with the status in it would be rewritten by every row's change (0015).
        UniqueConstraint("batch_id", "row_number", name="uq_batch_rows_row"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    status: Mapped[RowStatus] = mapped_column(StrEnumType(RowStatus, 16))
    holder_cnic: Mapped[str | None] = mapped_column(String(13))
    claims: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    natural_key: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[str | None] = mapped_column(String(36), index=True)
    document_digest: Mapped[str | None] = mapped_column(String(64))


class BatchProblem(Base):
    """One line of a batch's report: row 0 is the header; ``column`` may be empty."""

    __tablename__ = "batch_problems"
    __table_args__ = (Index("ix_batch_problems_batch", "batch_id", "row_number"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(String(100), default="")
    msgid: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
