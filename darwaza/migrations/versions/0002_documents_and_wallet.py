"""Signed documents, status lists, signing keys and wallet shares

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 06:56:44.640723
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import darwaza.database

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_signing_keys_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "status_lists",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_status_lists_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
    )
    with op.batch_alter_table("status_lists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_status_lists_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=True),
        sa.Column("holder_cnic", sa.String(length=13), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=True),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_list_id", sa.String(length=36), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("sd_jwt", sa.Text(), nullable=False),
        sa.Column("qr_text", sa.Text(), nullable=False),
        sa.Column("issue_idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("issued_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_documents_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_documents_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_documents_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["status_list_id"],
            ["status_lists.id"],
            name=op.f("fk_documents_status_list_id_status_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("agency_id", "issue_idempotency_key", name="uq_documents_issue_key"),
        sa.UniqueConstraint("application_id", name=op.f("uq_documents_application_id")),
        sa.UniqueConstraint("status_list_id", "status_index", name="uq_documents_status_slot"),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_citizen_id"), ["citizen_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_holder_cnic"), ["holder_cnic"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_documents_status_list_id"), ["status_list_id"], unique=False
        )

    op.create_table(
        "shares",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("disclosed_claims", sa.JSON(), nullable=False),
        sa.Column("presentation", sa.Text(), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=True),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_shares_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name=op.f("fk_shares_document_id_documents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_shares_token_hash")),
    )
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shares_citizen_id"), ["citizen_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_shares_document_id"), ["document_id"], unique=False)

    op.create_table(
        "share_openings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("share_id", sa.String(length=36), nullable=False),
        sa.Column("opened_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["share_id"], ["shares.id"], name=op.f("fk_share_openings_share_id_shares")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_openings")),
    )
    with op.batch_alter_table("share_openings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_openings_share_id"), ["share_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_openings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_openings_share_id"))

    op.drop_table("share_openings")
    with op.batch_alter_table("shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shares_document_id"))
        batch_op.drop_index(batch_op.f("ix_shares_citizen_id"))

    op.drop_table("shares")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_status_list_id"))
        batch_op.drop_index(batch_op.f("ix_documents_holder_cnic"))
        batch_op.drop_index(batch_op.f("ix_documents_citizen_id"))
        batch_op.drop_index(batch_op.f("ix_documents_agency_id"))

    op.drop_table("documents")
    with op.batch_alter_table("status_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_lists_agency_id"))

    op.drop_table("status_lists")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_agency_id"))

    op.drop_table("signing_keys")
