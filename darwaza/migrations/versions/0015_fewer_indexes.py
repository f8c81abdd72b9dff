"""documents and register rows: fewer indexes to write, better ones to read

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 14:00:00.000000

Every document written updates every index of ``documents``, and a register of a
million rows writes a million documents. Four of its indexes repeated the first column
of another one, which answers the same look-ups:

- ``ix_documents_citizen_id`` by ``ix_documents_citizen_newest (citizen_id, issued_at)``;
- ``ix_documents_holder_cnic`` by ``ix_documents_holder_cnic_newest (holder_cnic, issued_at)``;
- ``ix_documents_status_list_id`` by ``uq_documents_status_slot (status_list_id, status_index)``;
- ``ix_documents_agency_id`` gives way to ``ix_documents_agency_newest (agency_id,
  issued_at)``: the console lists an agency's newest documents, which the one-column
  index could only find and then sort.

``ix_batch_rows_status`` repeated ``uq_batch_rows_row (batch_id, row_number)`` with the
status in between; every row's change of status rewrote it. The chunk and report reads
go by batch and row number and filter the status on the way.

A shard's published status list names only its slots that are not valid; it read every
row of the shard (65,536 when full, 0.2-1 s for a shard of a million-document table).
``ix_documents_not_valid`` is a partial index of just those rows.

On PostgreSQL a document (about 2.7 kB: the SD-JWT, the QR text, the claims) is over
the 2 kB at which a row is compressed and moved to a TOAST table, so every document
written was also a failed compression of base64 text and a second row and index entry
elsewhere. ``toast_tuple_target`` keeps rows up to a page (8 kB) where they are; a
larger one is still moved out as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPEATED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ix_documents_citizen_id", "documents", ("citizen_id",)),
    ("ix_documents_holder_cnic", "documents", ("holder_cnic",)),
    ("ix_documents_status_list_id", "documents", ("status_list_id",)),
    ("ix_documents_agency_id", "documents", ("agency_id",)),
    ("ix_batch_rows_status", "batch_rows", ("batch_id", "status", "row_number")),
)


ROW_KEPT_IN_PAGE = 8160  # the largest toast_tuple_target PostgreSQL accepts
NOT_VALID = "status <> 'valid'"


def upgrade() -> None:
    op.create_index("ix_documents_agency_newest", "documents", ["agency_id", "issued_at"])
    op.create_index(
        "ix_documents_not_valid",
        "documents",
        ["status_list_id", "status_index"],
        postgresql_where=sa.text(NOT_VALID),
        sqlite_where=sa.text(NOT_VALID),
    )
    for name, table, _columns in REPEATED:
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE documents SET (toast_tuple_target = {ROW_KEPT_IN_PAGE})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE documents RESET (toast_tuple_target)")
    for name, table, columns in reversed(REPEATED):
        op.create_index(name, table, list(columns))
    op.drop_index("ix_documents_not_valid", table_name="documents")
    op.drop_index("ix_documents_agency_newest", table_name="documents")
