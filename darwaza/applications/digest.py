"""The officers' daily digest: how many of their agency's applications are overdue.

A scheduled job (``applications.overdue_digest``, once a day by the worker's clock) counts
each agency's applications past their due date and still waiting on the agency, and
sends every active officer of that agency one message. The messages are written in the
job's own transaction, so a job run twice after a crash still sends one digest.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from darwaza.applications.models import Application
from darwaza.applications.workflow import OPEN_FOR_OFFICERS
from darwaza.clock import utcnow
from darwaza.identity.contact import link, staff_recipient
from darwaza.identity.models import Role, StaffMember
from darwaza.jobs import JobContext, JobRegistry
from darwaza.jobs.registry import Schedule
from darwaza.notifications.service import notify

OVERDUE_DIGEST = "applications.overdue_digest"
DIGEST_EVERY = timedelta(days=1)


def send_overdue_digest(context: JobContext) -> None:
    """Handler of ``applications.overdue_digest``: one message per officer with overdue work."""
    db = context.db
    overdue = db.execute(
        select(Application.agency_id, func.count())
        .where(
            Application.due_at < utcnow(),
            Application.state.in_(sorted(OPEN_FOR_OFFICERS)),
        )
        .group_by(Application.agency_id)
    ).all()
    for agency_id, count in overdue:
        officers = db.scalars(
            select(StaffMember).where(
                StaffMember.agency_id == agency_id,
                StaffMember.role.in_([Role.OFFICER, Role.AGENCY_ADMIN]),
                StaffMember.disabled_at.is_(None),
            )
        ).all()
        for officer in officers:
            notify(
                db,
                settings=context.settings,
                recipient=staff_recipient(officer),
                event="overdue_digest",
                values={
                    "name": officer.full_name,
                    "count": int(count),
                    "link": link(context.settings, "/console?overdue=1"),
                },
            )


def register_application_jobs(registry: JobRegistry) -> None:
    """The digest's handler and its daily schedule."""
    registry.add(OVERDUE_DIGEST, send_overdue_digest)
    registry.add_schedule(Schedule("overdue-digest", OVERDUE_DIGEST, DIGEST_EVERY))
