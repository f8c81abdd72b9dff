"""batches: bulk issuance from registers, their rows and their check reports

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 06:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import darwaza.database

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("column_mapping", sa.JSON(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("valid_count", sa.Integer(), nullable=False),
        sa.Column("invalid_count", sa.Integer(), nullable=False),
        sa.Column("header_ok", sa.Boolean(), nullable=False),
        sa.Column("issued_count", sa.Integer(), nullable=False),
        sa.Column("already_issued_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("merkle_root", sa.String(length=64), nullable=True),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issuing_started_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_batches_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_batches_file_sha256"), ["file_sha256"], unique=False)

    op.create_table(
        "batch_rows",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("holder_cnic", sa.String(length=13), nullable=True),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("natural_key", sa.Text(), nullable=True),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("document_digest", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_batch_rows_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_rows")),
        sa.UniqueConstraint("batch_id", "row_number", name="uq_batch_rows_row"),
    )
    with op.batch_alter_table("batch_rows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_batch_rows_status", ["batch_id", "status", "row_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_batch_rows_document_id"), ["document_id"])

    op.create_table(
        "batch_problems",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=100), nullable=False),
        sa.Column("msgid", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_batch_problems_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_problems")),
    )
    with op.batch_alter_table("batch_problems", schema=None) as batch_op:
        batch_op.create_index("ix_batch_problems_batch", ["batch_id", "row_number"])


def downgrade() -> None:
    op.drop_table("batch_problems")
    op.drop_table("batch_rows")
    op.drop_table("batches")
