"""indexes for ten million: the audit page, the citizen's wallet, the filtered officer queue

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 06:30:00.000000

Found with bench/seed_scale.py (10 million citizens and documents, 1 million
applications): each read below sorted or filtered rows after fetching them by a
one-column index. A composite index in the read's own order lets PostgreSQL stop
after the first page.

- The audit page and the "who looked" view read the newest events of one action, one
  object, one subject or one actor: ``(column, id)``.
- The wallet lists a citizen's documents newest first, by account or by CNIC:
  ``(citizen_id, issued_at)`` and ``(holder_cnic, issued_at)``.
- The officer queue shows open applications (four states) due soonest first: with
  ``ix_applications_queue`` PostgreSQL fetched every open application of the agency
  and sorted them. Partial indexes over the open states, in the queue's own order
  ``(due_at, submitted_at, id)``, with and without the service filter, give a page
  (and the next page, by keyset) straight from the index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_audit_events_action_newest", "audit_events", ("action", "id")),
    ("ix_audit_events_object_newest", "audit_events", ("object_id", "id")),
    ("ix_audit_events_subject_newest", "audit_events", ("subject_id", "id")),
    ("ix_audit_events_actor_newest", "audit_events", ("actor_id", "id")),
    ("ix_documents_citizen_newest", "documents", ("citizen_id", "issued_at")),
    ("ix_documents_holder_cnic_newest", "documents", ("holder_cnic", "issued_at")),
)
OPEN_STATES = "state IN ('submitted', 'in_review', 'info_requested', 'resubmitted')"
PARTIAL_INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_applications_open_queue", "applications", ("agency_id", "due_at", "submitted_at", "id")),
    (
        "ix_applications_open_queue_by_service",
        "applications",
        ("agency_id", "service_id", "due_at", "submitted_at", "id"),
    ),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))
    for name, table, columns in PARTIAL_INDEXES:
        op.create_index(
            name,
            table,
            list(columns),
            postgresql_where=sa.text(OPEN_STATES),
            sqlite_where=sa.text(OPEN_STATES),
        )


def downgrade() -> None:
    for name, table, _columns in reversed(PARTIAL_INDEXES + INDEXES):
        op.drop_index(name, table_name=table)
