"""foundation: citizens, staff, sessions, applications, audit

Revision ID: 0001
Revises:
Create Date: 2026-11-29 06:51:24.715649
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import darwaza.database

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_ur", sa.String(length=200), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
    )
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("event_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("event_hash", name=op.f("uq_audit_events_event_hash")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_object_id"), ["object_id"], unique=False)

    op.create_table(
        "citizens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("cnic", sa.String(length=13), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("mobile", sa.String(length=16), nullable=False),
        sa.Column("preferred_language", sa.String(length=5), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "mobile_confirmed_at", darwaza.database.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
        sa.UniqueConstraint("cnic", name=op.f("uq_citizens_cnic")),
    )
    op.create_table(
        "staff_members",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("mobile", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_staff_members_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_members_username")),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tracking_number", sa.String(length=20), nullable=True),
        sa.Column("citizen_id", sa.String(length=36), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("fee_paisa", sa.BigInteger(), nullable=False),
        sa.Column("assigned_officer_id", sa.String(length=36), nullable=True),
        sa.Column("submit_idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_applications_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_officer_id"],
            ["staff_members.id"],
            name=op.f("fk_applications_assigned_officer_id_staff_members"),
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_applications_citizen_id_citizens")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint(
            "citizen_id", "submit_idempotency_key", name="uq_applications_submit_key"
        ),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_applications_tracking_number")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_applications_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            "ix_applications_queue", ["agency_id", "state", "due_at"], unique=False
        )

    op.create_table(
        "sign_in_challenges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=True),
        sa.Column("staff_member_id", sa.String(length=36), nullable=True),
        sa.Column("pending_full_name", sa.String(length=200), nullable=True),
        sa.Column("pending_cnic", sa.String(length=13), nullable=True),
        sa.Column("pending_mobile", sa.String(length=16), nullable=True),
        sa.Column("binding_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_sign_in_challenges_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_sign_in_challenges_staff_member_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_challenges")),
        sa.UniqueConstraint("binding_hash", name=op.f("uq_sign_in_challenges_binding_hash")),
    )
    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_challenges_subject_hash"), ["subject_hash"], unique=False
        )

    op.create_table(
        "user_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("citizen_id", sa.String(length=36), nullable=True),
        sa.Column("staff_member_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", darwaza.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_user_sessions_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_user_sessions_staff_member_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("id", name=op.f("uq_user_sessions_id")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_sessions_citizen_id"), ["citizen_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_user_sessions_staff_member_id"), ["staff_member_id"], unique=False
        )

    op.create_table(
        "application_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=True),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_events_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_events")),
    )
    with op.batch_alter_table("application_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_events_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("requirement", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", darwaza.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_attachments_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attachments_application_id"), ["application_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_application_id"))

    op.drop_table("attachments")
    with op.batch_alter_table("application_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_events_application_id"))

    op.drop_table("application_events")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_staff_member_id"))
        batch_op.drop_index(batch_op.f("ix_user_sessions_citizen_id"))

    op.drop_table("user_sessions")
    with op.batch_alter_table("sign_in_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_challenges_subject_hash"))

    op.drop_table("sign_in_challenges")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index("ix_applications_queue")
        batch_op.drop_index(batch_op.f("ix_applications_citizen_id"))

    op.drop_table("applications")
    op.drop_table("staff_members")
    op.drop_table("citizens")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_object_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
    op.drop_table("audit_chain_head")
    op.drop_table("agencies")
