"""passkeys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 07:37:57.385412
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import darwaza.database

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "passkeys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=True),
        sa.Column("staff_member_id", sa.String(length=36), nullable=True),
        sa.Column("credential_id", sa.String(length=700), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_passkeys_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_passkeys_staff_member_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passkeys_citizen_id"), ["citizen_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_passkeys_staff_member_id"), ["staff_member_id"], unique=False
        )
    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ceremony_owner_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.drop_column("ceremony_owner_id")
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkeys_staff_member_id"))
        batch_op.drop_index(batch_op.f("ix_passkeys_citizen_id"))

    op.drop_table("passkeys")
