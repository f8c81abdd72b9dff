"""audit events: three indexes that repeated another's first column

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 16:30:00.000000

Every state change in the platform writes an audit event, and every event written
updates every index of ``audit_events``. Three of them repeated the first column of an
index added in 0014, which answers the same look-ups and also gives the newest first:

- ``ix_audit_events_action`` by ``ix_audit_events_action_newest (action, id)``;
- ``ix_audit_events_object_id`` by ``ix_audit_events_object_newest (object_id, id)``;
- ``ix_audit_events_subject_id`` by ``ix_audit_events_subject_newest (subject_id, id)``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPEATED: tuple[tuple[str, str], ...] = (
    ("ix_audit_events_action", "action"),
    ("ix_audit_events_object_id", "object_id"),
    ("ix_audit_events_subject_id", "subject_id"),
)


def upgrade() -> None:
    for name, _column in REPEATED:
        op.drop_index(name, table_name="audit_events")


def downgrade() -> None:
    for name, column in reversed(REPEATED):
        op.create_index(name, "audit_events", [column])
