"""keys and shards: PostgreSQL tells every server when what verifiers download changes

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 01:00:00.000000

Servers keep what they publish for verifiers (the trust bundle, each agency's keys and
issuer metadata) in memory beside the statuses (``darwaza.documents.statuses``), and
must hear of every change to it: a key made, retired, resealed or removed, and a status
list shard added or removed. These triggers send ``*`` on the ``darwaza_status_lists``
channel, which no shard's id can be, whatever made the change. A shard's other updates
(a slot allocated, a status changed) do not change what is published and send nothing
here; a status change sends the shard's id (0017).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION darwaza_published_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('darwaza_status_lists', '*');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER signing_keys_changed
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON signing_keys
        FOR EACH STATEMENT EXECUTE FUNCTION darwaza_published_changed()
        """
    )
    op.execute(
        """
        CREATE TRIGGER status_lists_added_or_removed
        AFTER INSERT OR DELETE OR TRUNCATE ON status_lists
        FOR EACH STATEMENT EXECUTE FUNCTION darwaza_published_changed()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER status_lists_added_or_removed ON status_lists")
    op.execute("DROP TRIGGER signing_keys_changed ON signing_keys")
    op.execute("DROP FUNCTION darwaza_published_changed()")
