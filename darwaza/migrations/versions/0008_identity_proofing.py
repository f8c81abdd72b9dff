"""proven identities, and throttles by recipient

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from darwaza.database import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_proven_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("identity_proof", sa.String(length=20), nullable=True))
    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recipient_hash", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.create_index(
            "ix_sign_in_challenges_recipient_hash", ["recipient_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_challenges_recipient_hash")
        batch_op.drop_column("recipient_hash")
    with op.batch_alter_table("citizens", schema=None) as batch_op:
        batch_op.drop_column("identity_proof")
        batch_op.drop_column("identity_proven_at")
