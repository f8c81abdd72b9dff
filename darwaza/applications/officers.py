"""What officers do with their agency's applications: the queue, claiming and deciding.

An officer sees only their own agency's submitted applications; anything else answers
404 exactly like a missing one. Each move goes through :mod:`darwaza.applications.workflow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from darwaza.applications.models import Application, Attachment
from darwaza.applications.service import clean_message, move
from darwaza.applications.workflow import OPEN_FOR_OFFICERS, Action, ApplicationState, Party
from darwaza.audit.access import record_staff_view
from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.errors import Conflict, Forbidden, IllegalTransition, NotFound
from darwaza.i18n import N_
from darwaza.identity.models import Role, StaffMember
from darwaza.numbers import InvalidAmount, parse_rupees
from darwaza.paging import Page, make_page, read_after
from darwaza.payments import service as payments
from darwaza.payments.models import PaymentRefund


def _require_officer(staff: StaffMember) -> str:
    if not staff.role.works_cases or not staff.agency_id:
        raise NotFound()
    return staff.agency_id


@dataclass(frozen=True)
class QueueFilter:
    """What an officer asked the queue to show."""

    state: str | None = None
    service_id: str | None = None
    overdue_only: bool = False
    mine_only: bool = False


QUEUE_PAGE_SIZE = 50


def _queue_position(application: Application) -> tuple[datetime, datetime, str]:
    # Every application in the queue was submitted, so both dates are set.
    assert application.due_at is not None and application.submitted_at is not None
    return application.due_at, application.submitted_at, application.id


def officer_queue(
    db: Session,
    *,
    officer: StaffMember,
    queue_filter: QueueFilter,
    after: str = "",
    page_size: int = QUEUE_PAGE_SIZE,
) -> Page[Application]:
    """A page of the agency's submitted applications, those due soonest first.

    ``after`` is the token of the page before (see :mod:`darwaza.paging`): the page is
    read by keyset on ``(due_at, submitted_at, id)``, which the open-queue indexes hold
    in that order (0014), so a page deep in a long queue costs what the first one does.
    """
    agency_id = _require_officer(officer)
    query: Select[Application] = select(Application).where(
        Application.agency_id == agency_id, Application.state != ApplicationState.DRAFT
    )
    if queue_filter.state:
        query = query.where(Application.state == queue_filter.state)
    else:
        query = query.where(Application.state.in_(sorted(OPEN_FOR_OFFICERS)))
    if queue_filter.service_id:
        query = query.where(Application.service_id == queue_filter.service_id)
    if queue_filter.overdue_only:
        query = query.where(
            Application.due_at < utcnow(),
            Application.state.in_(sorted(OPEN_FOR_OFFICERS)),
        )
    if queue_filter.mine_only:
        query = query.where(Application.assigned_officer_id == officer.id)
    position = read_after(after, datetime, datetime, str)
    ordering = tuple_(Application.due_at, Application.submitted_at, Application.id)
    if position is not None:
        query = query.where(ordering > tuple_(*position))
    query = query.order_by(
        Application.due_at.asc(), Application.submitted_at.asc(), Application.id.asc()
    ).limit(page_size + 1)
    return make_page(
        db.scalars(query).all(),
        size=page_size,
        key=_queue_position,
        continued=position is not None,
    )


def queue_counts(db: Session, *, officer: StaffMember) -> dict[str, int]:
    """How many of the agency's applications are in each open state, and overdue."""
    agency_id = _require_officer(officer)
    rows = db.execute(
        select(Application.state, func.count())
        .where(Application.agency_id == agency_id, Application.state != ApplicationState.DRAFT)
        .group_by(Application.state)
    ).all()
    counts: dict[str, int] = {state.value: count for state, count in rows}
    counts["overdue"] = (
        db.scalar(
            select(func.count())
            .select_from(Application)
            .where(
                Application.agency_id == agency_id,
                Application.due_at < utcnow(),
                Application.state.in_(sorted(OPEN_FOR_OFFICERS)),
            )
        )
        or 0
    )
    return counts


def officer_application(db: Session, *, officer: StaffMember, application_id: str) -> Application:
    """An application of the officer's own agency that has been submitted, or 404."""
    agency_id = _require_officer(officer)
    application = db.get(Application, application_id)
    if (
        application is None
        or application.agency_id != agency_id
        or application.state == ApplicationState.DRAFT
    ):
        raise NotFound()
    return application


def _require_assigned(officer: StaffMember, application: Application) -> None:
    if application.assigned_officer_id != officer.id:
        raise IllegalTransition(N_("Claim this application before acting on it."))


def claim_application(db: Session, *, officer: StaffMember, application: Application) -> None:
    """Take an application from the queue to review it."""
    if application.assigned_officer_id not in (None, officer.id):
        raise IllegalTransition(N_("Another officer is working on this application."))
    move(
        db,
        application=application,
        action=Action.CLAIM,
        by=Party.OFFICER,
        actor=Actor.staff(officer.id),
    )
    application.assigned_officer_id = officer.id


def release_application(db: Session, *, officer: StaffMember, application: Application) -> None:
    """Put a claimed application back in the queue for someone else."""
    _require_assigned(officer, application)
    move(
        db,
        application=application,
        action=Action.RELEASE,
        by=Party.OFFICER,
        actor=Actor.staff(officer.id),
    )
    application.assigned_officer_id = None


def request_information(
    db: Session, *, officer: StaffMember, application: Application, message: str
) -> None:
    """Ask the citizen for something more; they see the message and answer it."""
    _require_assigned(officer, application)
    text = clean_message(message, required=True, field="message")
    move(
        db,
        application=application,
        action=Action.REQUEST_INFO,
        by=Party.OFFICER,
        actor=Actor.staff(officer.id),
        message=text,
    )


def approve_application(
    db: Session, *, officer: StaffMember, application: Application, note: str | None = None
) -> None:
    """Approve the application."""
    _require_assigned(officer, application)
    text = clean_message(note, required=False, field="reason")
    move(
        db,
        application=application,
        action=Action.APPROVE,
        by=Party.OFFICER,
        actor=Actor.staff(officer.id),
        message=text,
    )
    application.decided_at = utcnow()
    application.decision_reason = text


def reject_application(
    db: Session,
    *,
    officer: StaffMember,
    application: Application,
    reason: str,
    refund_fee: bool = False,
) -> PaymentRefund | None:
    """Reject the application; the citizen sees the reason. ``refund_fee`` (the service's
    ``refund_fee_on`` names rejection) sends a paid fee back: the refund is returned."""
    _require_assigned(officer, application)
    text = clean_message(reason, required=True, field="reason")
    move(
        db,
        application=application,
        action=Action.REJECT,
        by=Party.OFFICER,
        actor=Actor.staff(officer.id),
        message=text,
    )
    application.decided_at = utcnow()
    application.decision_reason = text
    if refund_fee:
        return payments.refund_fee(
            db, application_id=application.id, reason="rejected", actor=Actor.staff(officer.id)
        )
    return None


def waive_fee(db: Session, *, officer: StaffMember, application: Application, reason: str) -> None:
    """Waive an application's unpaid fee, with a reason: it joins the queue at once."""
    agency_id = _require_officer(officer)
    if application.agency_id != agency_id:
        raise NotFound()
    text = clean_message(reason, required=True, field="reason")
    assert text is not None
    actor = Actor.staff(officer.id)
    move(
        db,
        application=application,
        action=Action.WAIVE_FEE,
        by=Party.OFFICER,
        actor=actor,
        message=text,
    )
    application.fee_waived_reason = text
    for payment in payments.live_payments(db, application_id=application.id):
        if not payment.state.settled:
            payments.cancel_for_waiver(db, payment=payment, reason=text, actor=actor)


def may_refund(officer: StaffMember) -> bool:
    """Money goes back only on an agency admin's word."""
    return officer.role is Role.AGENCY_ADMIN


def refund_part_of_fee(
    db: Session, *, officer: StaffMember, application: Application, amount: str, reason: str
) -> PaymentRefund:
    """An agency admin sends back part (or all) of a paid fee, with a reason; never more
    than was paid and not yet refunded."""
    agency_id = _require_officer(officer)
    if application.agency_id != agency_id:
        raise NotFound()
    if not may_refund(officer):
        raise Forbidden()
    text = clean_message(reason, required=True, field="reason")
    try:
        paisa = parse_rupees(amount)
    except InvalidAmount as error:
        raise InvalidAmount(fields={"amount": error.message}) from None
    actor = Actor.staff(officer.id)
    refund = payments.refund_fee(
        db, application_id=application.id, reason="officer", actor=actor, amount_paisa=paisa
    )
    if refund is None:
        raise Conflict(N_("There is no paid fee to refund."))
    record_event(
        db,
        actor=actor,
        action="application.fee_refunded_in_part",
        object_type="application",
        object_id=application.id,
        after={"refund_id": refund.id, "refund_paisa": paisa, "reason": text},
    )
    return refund


def is_overdue(application: Application) -> bool:
    """Past its service-level time and still waiting on the agency."""
    return bool(
        application.due_at and application.due_at < utcnow() and application.state.open_for_officers
    )


def record_officer_look(
    db: Session,
    *,
    officer: StaffMember,
    application: Application,
    attachment: Attachment | None = None,
) -> None:
    """Note that an officer opened the application (or one of its files): the citizen sees it."""
    record_staff_view(
        db,
        staff_id=officer.id,
        agency_id=officer.agency_id,
        object_type="attachment" if attachment else "application",
        object_id=attachment.id if attachment else application.id,
        subject_id=application.citizen_id,
    )
