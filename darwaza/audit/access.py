"""Staff looking at a citizen's records: each look is an audit event the citizen can read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditEvent
from darwaza.audit.trail import record_event
from darwaza.i18n import N_

VIEW_ACTIONS = ("application.viewed", "document.viewed", "attachment.viewed")
OBJECT_LABELS = {
    "application": N_("opened an application"),
    "attachment": N_("opened an attached file"),
    "document": N_("opened a document"),
}


def record_staff_view(
    db: Session,
    *,
    staff_id: str,
    agency_id: str | None,
    object_type: str,
    object_id: str,
    subject_id: str | None,
) -> None:
    """Note that a staff member opened a citizen's application, attachment or document.

    ``subject_id`` is the citizen the record belongs to: they see the look on their account.
    """
    record_event(
        db,
        actor=Actor.staff(staff_id),
        action=f"{object_type}.viewed",
        object_type=object_type,
        object_id=object_id,
        after={"agency_id": agency_id},
        subject_id=subject_id,
    )


@dataclass(frozen=True)
class StaffView:
    at: datetime
    staff_id: str | None
    agency_id: str | None
    object_type: str
    object_id: str | None


def views_of(db: Session, *, subject_id: str, limit: int = 200) -> list[StaffView]:
    """Who from which agency opened this citizen's records, newest first."""
    events = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_id == subject_id, AuditEvent.action.in_(VIEW_ACTIONS))
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [
        StaffView(
            at=event.at,
            staff_id=event.actor_id,
            agency_id=(event.after or {}).get("agency_id"),
            object_type=event.object_type,
            object_id=event.object_id,
        )
        for event in events
    ]


SECURITY_EVENTS = {
    "citizen.signed_up": N_("Account created"),
    "session.started": N_("Signed in"),
    "session.ended_by_owner": N_("Signed out elsewhere"),
    "passkey.added": N_("A passkey was added"),
    "passkey.used": N_("Signed in with a passkey"),
    "passkey.removed_all": N_("Passkeys removed after an identity check"),
    "staff.authenticator_enrolled": N_("Authenticator app set up"),
}


def security_events_of(db: Session, *, person_id: str, limit: int = 20) -> list[AuditEvent]:
    """What happened to a person's account: sign-ins, passkeys, sessions ended."""
    return list(
        db.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action.in_(list(SECURITY_EVENTS)),
                (AuditEvent.actor_id == person_id) | (AuditEvent.object_id == person_id),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )
