"""documents: found by the key that signed them and their expiry

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 22:30:00.000000

An agency's published keys (its JWKS, its issuer metadata and the trust bundle) keep a
retired key while a document it signed is still in use: one that never expires, or has
not expired yet. Without an index that question read the ``documents`` table, and for
a key whose documents have all expired it read every row to prove there was none: a
full scan of a national table on every download of the trust bundle once any key had
been rotated. ``ix_documents_kid_expiry (kid, expires_at)`` answers it with two probes.

Building it holds writes to ``documents`` back meanwhile (2.3 s for 3 million rows on 2
cores). On a large live table build it first without holding them back, under the same
name, and this migration keeps it::

    CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_documents_kid_expiry
        ON documents (kid, expires_at);
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_documents_kid_expiry", "documents", ["kid", "expires_at"], if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index("ix_documents_kid_expiry", table_name="documents")
