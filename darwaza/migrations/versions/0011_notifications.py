"""notifications: every message and its delivery, suppressed addresses, citizens' e-mail

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import darwaza.database

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = darwaza.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=36), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("failure", sa.String(length=10), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("delivered_at", WHEN, nullable=True),
        sa.Column("read_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_inbox", "notifications", ["recipient_id", "channel", "created_at"]
    )
    op.create_index("ix_notifications_address_sent", "notifications", ["address", "sent_at"])
    op.create_index(op.f("ix_notifications_reference"), "notifications", ["reference"])
    op.create_index(op.f("ix_notifications_provider_id"), "notifications", ["provider_id"])
    op.create_table(
        "notification_suppressions",
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_notification_suppressions")),
    )
    with op.batch_alter_table("citizens") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("email_pending", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("email_token_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("email_token_expires_at", WHEN, nullable=True))
        batch.add_column(
            sa.Column("notify_by_sms", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("notify_by_email", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.create_index(batch.f("ix_citizens_email_token_hash"), ["email_token_hash"])


def downgrade() -> None:
    with op.batch_alter_table("citizens") as batch:
        batch.drop_index(batch.f("ix_citizens_email_token_hash"))
        for column in (
            "notify_by_email",
            "notify_by_sms",
            "email_token_expires_at",
            "email_token_hash",
            "email_pending",
            "email",
        ):
            batch.drop_column(column)
    op.drop_table("notification_suppressions")
    op.drop_index(op.f("ix_notifications_provider_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_reference"), table_name="notifications")
    op.drop_index("ix_notifications_address_sent", table_name="notifications")
    op.drop_index("ix_notifications_inbox", table_name="notifications")
    op.drop_table("notifications")
