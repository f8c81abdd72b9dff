"""status lists: PostgreSQL tells every server of a shard's change as it commits

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 07:00:00.000000

Servers keep the statuses of the shards they are asked about in memory
(``darwaza.documents.statuses``) and must hear of every change. Every status change
raises its shard's ``version``; this trigger sends the shard's id on the
``darwaza_status_lists`` channel whenever it does, whatever made the change (the
platform, a job, an operator's SQL). PostgreSQL delivers a notification only once its
transaction commits, and not at all if it rolls back. SQLite has no such channel: there
each check reads the status.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION darwaza_status_list_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('darwaza_status_lists', NEW.id);
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER status_list_changed
        AFTER UPDATE OF version ON status_lists
        FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
        EXECUTE FUNCTION darwaza_status_list_changed()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER status_list_changed ON status_lists")
    op.execute("DROP FUNCTION darwaza_status_list_changed()")
