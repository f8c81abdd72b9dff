"""audit events are appended without a lock and chained later by a sequencer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.BigInteger(), nullable=True))
        batch_op.alter_column("previous_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("event_hash", existing_type=sa.String(length=64), nullable=True)
    # Until now every event was chained as it was written, in id order.
    op.execute("UPDATE audit_events SET sequence = id")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_audit_events_sequence", ["sequence"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_events_sequence", type_="unique")
        batch_op.drop_column("sequence")
