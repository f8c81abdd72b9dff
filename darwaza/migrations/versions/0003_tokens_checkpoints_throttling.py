"""api tokens, audit checkpoints, throttling by address

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 07:23:15.301384
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import darwaza.database

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("last_event_id", name=op.f("uq_audit_checkpoints_last_event_id")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_api_tokens_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_agency_id"), ["agency_id"], unique=False)

    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client_hash", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.create_index(
            batch_op.f("ix_sign_in_challenges_client_hash"), ["client_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_challenges_client_hash"))
        batch_op.drop_column("client_hash")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_agency_id"))

    op.drop_table("api_tokens")
    op.drop_table("audit_checkpoints")
