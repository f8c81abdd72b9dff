"""What citizens and officers do with applications.

Every function takes the acting person and checks that they may see and change the
application: someone else's application answers 404 exactly like a missing one.
Every change moves through :mod:`darwaza.applications.workflow`, adds a step to the
timeline and writes an audit event. Nothing here commits: the request does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import filetype
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from darwaza.applications import workflow
from darwaza.applications.models import Application, ApplicationEvent, Attachment
from darwaza.applications.tracking import new_tracking_number
from darwaza.applications.workflow import Action, ApplicationState, Party
from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.catalogue import ServiceDefinition
from darwaza.catalogue.answers import check_upload, validate_answers
from darwaza.clock import KARACHI, utcnow
from darwaza.documents import service as documents
from darwaza.documents.models import Document, DocumentStatus
from darwaza.errors import IllegalTransition, InvalidInput, Message, NotFound
from darwaza.i18n import N_, rupees
from darwaza.identity.contact import link, local_date, tell_citizen
from darwaza.identity.models import Citizen
from darwaza.payments import service as payments
from darwaza.payments.models import Payment, PaymentRefund
from darwaza.settings import Settings
from darwaza.storage import FileStore

MAX_MESSAGE_LENGTH = 4000
ATTACHMENTS = "attachments"  # their folder in the file store


def add_working_days(start: datetime, working_days: int) -> datetime:
    """``start`` plus ``working_days`` Monday-to-Friday days, counted in Pakistan."""
    local = start.astimezone(KARACHI)
    remaining = working_days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    return local.astimezone(start.tzinfo)


def today_in_pakistan() -> date:
    """Today's date in Asia/Karachi, against which dates in forms are checked."""
    return utcnow().astimezone(KARACHI).date()


def _snapshot(application: Application) -> dict[str, Any]:
    return {
        "state": application.state,
        "assigned_officer_id": application.assigned_officer_id,
        "tracking_number": application.tracking_number,
    }


def move(
    db: Session,
    *,
    application: Application,
    action: Action,
    by: Party,
    actor: Actor,
    message: str | None = None,
) -> None:
    before = _snapshot(application)
    previous_state = application.state
    application.state = workflow.next_state(current=previous_state, action=action, by=by)
    application.updated_at = utcnow()
    db.add(
        ApplicationEvent(
            application_id=application.id,
            kind=action,
            from_state=previous_state,
            to_state=application.state,
            actor_kind=actor.kind,
            actor_id=actor.id,
            message=message,
        )
    )
    record_event(
        db,
        actor=actor,
        action=f"application.{action}",
        object_type="application",
        object_id=application.id,
        before=before,
        after=_snapshot(application) | ({"message": message} if message else {}),
    )


def clean_message(text: str | None, *, required: bool, field: str) -> str | None:
    cleaned = (text or "").strip()
    if required and not cleaned:
        raise InvalidInput(fields={field: Message(N_("Please write a message."))})
    if len(cleaned) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            fields={
                field: Message(
                    N_("A message can be at most {limit} characters."),
                    {"limit": MAX_MESSAGE_LENGTH},
                )
            }
        )
    return cleaned or None


# --- citizens ---------------------------------------------------------------------------


# A citizen's own requests ask these: built once with bound parameters, as the
# statements of an application's reads below.
_DRAFTS_OF = (
    select(Application)
    .where(
        Application.citizen_id == bindparam("citizen_id"),
        Application.service_id == bindparam("service_id"),
        Application.state == ApplicationState.DRAFT,
    )
    .order_by(Application.created_at.desc())
)
_ANY_ATTACHMENT_OF = (
    select(Attachment.id).where(Attachment.application_id == bindparam("application_id")).limit(1)
)
_APPLICATIONS_OF = (
    select(Application)
    .where(Application.citizen_id == bindparam("citizen_id"))
    .order_by(Application.created_at.desc())
)
_SUBMITTED_WITH_KEY = select(Application).where(
    Application.citizen_id == bindparam("citizen_id"),
    Application.submit_idempotency_key == bindparam("key"),
)


def start_application(db: Session, *, citizen: Citizen, service: ServiceDefinition) -> Application:
    """Open a draft application for ``service``, or the citizen's open one nothing was put in.

    Pressing "Start" twice, or coming back after signing in, gives one draft, not two.
    """
    empty = _empty_draft(db, citizen=citizen, service_id=service.id)
    if empty is not None:
        return empty
    application = Application(
        citizen_id=citizen.id,
        service_id=service.id,
        agency_id=service.agency,
        state=ApplicationState.DRAFT,
        answers={},
        fee_paisa=service.fee_paisa,
    )
    db.add(application)
    db.flush()
    actor = Actor.citizen(citizen.id)
    db.add(
        ApplicationEvent(
            application_id=application.id,
            kind=Action.START,
            to_state=ApplicationState.DRAFT,
            actor_kind=actor.kind,
            actor_id=actor.id,
        )
    )
    record_event(
        db,
        actor=actor,
        action="application.created",
        object_type="application",
        object_id=application.id,
        after={"service_id": service.id, "state": ApplicationState.DRAFT},
    )
    return application


def _empty_draft(db: Session, *, citizen: Citizen, service_id: str) -> Application | None:
    """The citizen's newest draft of this service with no answer and nothing attached."""
    drafts = db.scalars(_DRAFTS_OF, {"citizen_id": citizen.id, "service_id": service_id})
    for draft in drafts:
        if draft.answers or draft.wallet_documents:
            continue
        attached = db.scalar(_ANY_ATTACHMENT_OF, {"application_id": draft.id})
        if attached is None:
            return draft
    return None


def citizen_application(db: Session, *, citizen: Citizen, application_id: str) -> Application:
    """The citizen's own application, or 404."""
    application = db.get(Application, application_id)
    if application is None or application.citizen_id != citizen.id:
        raise NotFound()
    return application


def citizen_applications(db: Session, *, citizen: Citizen) -> Sequence[Application]:
    """The citizen's applications, newest first."""
    return db.scalars(_APPLICATIONS_OF, {"citizen_id": citizen.id}).all()


def _editable_by_citizen(application: Application) -> None:
    if application.state not in (ApplicationState.DRAFT, ApplicationState.INFO_REQUESTED):
        raise IllegalTransition(N_("This application can no longer be changed."))


def save_answers(
    db: Session,
    *,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
    raw_answers: Mapping[str, str],
) -> dict[str, Message]:
    """Keep what the citizen typed (even if not yet valid) and return the problems found.

    Saving a draft never loses an answer: a value that does not pass yet is kept as typed
    and shown again with its error next to it.
    """
    if application.state != ApplicationState.DRAFT:
        raise IllegalTransition(N_("This application can no longer be changed."))
    known = {field.name for field in service.fields}
    typed = {name: str(value) for name, value in raw_answers.items() if name in known}
    check = validate_answers(service, typed, today=today_in_pakistan(), partial=True)
    merged = dict(application.answers or {})
    merged.update(typed)
    merged.update(check.values)
    before = {"answered": sorted(k for k, v in (application.answers or {}).items() if v)}
    application.answers = merged
    application.updated_at = utcnow()
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="application.saved",
        object_type="application",
        object_id=application.id,
        before=before,
        after={"answered": sorted(k for k, v in merged.items() if v)},
    )
    return {name: Message(error.msgid, error.params) for name, error in check.errors.items()}


def add_attachment(
    db: Session,
    *,
    store: FileStore,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
    requirement_name: str,
    filename: str,
    content: bytes,
) -> Attachment:
    """Attach a file for one of the service's required documents, after checking it."""
    _editable_by_citizen(application)
    requirement = service.required_document(requirement_name)
    if requirement is None or requirement.upload is None:
        raise InvalidInput(
            fields={requirement_name or "file": Message(N_("Choose which document this is."))}
        )
    problem = check_upload(requirement, filename, content)
    if problem is not None:
        raise InvalidInput(fields={requirement_name: Message(problem.msgid, problem.params)})

    kind = filetype.guess(content)
    safe_name = "".join(
        ch for ch in filename.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable()
    )
    attachment = Attachment(
        application_id=application.id,
        requirement=requirement.name,
        filename=(safe_name or "file")[:255],
        content_type=kind.mime if kind else "application/octet-stream",
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        storage_key=store.put(ATTACHMENTS, content),
    )
    db.add(attachment)
    db.flush()
    application.updated_at = utcnow()
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="attachment.added",
        object_type="attachment",
        object_id=attachment.id,
        after={
            "application_id": application.id,
            "requirement": requirement.name,
            "size_bytes": attachment.size_bytes,
            "sha256": attachment.sha256,
        },
    )
    return attachment


def choose_wallet_document(
    db: Session,
    *,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
    requirement_name: str,
    document_id: str | None,
) -> None:
    """Attach (or, with ``None``, detach) a document the citizen already holds: once-only."""
    _editable_by_citizen(application)
    requirement = service.required_document(requirement_name)
    if requirement is None or requirement.wallet_document_type is None:
        raise InvalidInput(fields={requirement_name: Message(N_("Choose one of the options."))})
    chosen = dict(application.wallet_documents or {})
    if document_id:
        document = documents.citizen_document(db, citizen=citizen, document_id=document_id)
        if (
            document.document_type != requirement.wallet_document_type
            or document.status != DocumentStatus.VALID
        ):
            raise InvalidInput(fields={requirement_name: Message(N_("Choose one of the options."))})
        chosen[requirement_name] = document.id
    else:
        chosen.pop(requirement_name, None)
    if chosen != (application.wallet_documents or {}):
        application.wallet_documents = chosen
        record_event(
            db,
            actor=Actor.citizen(citizen.id),
            action="application.wallet_document_chosen",
            object_type="application",
            object_id=application.id,
            after={"requirement": requirement_name, "document_id": document_id},
        )


def issued_document_of(db: Session, *, application: Application) -> Document | None:
    """The document an approved application brought, if any."""
    return db.scalar(select(Document).where(Document.application_id == application.id))


def wallet_documents_of(db: Session, *, application: Application) -> list[tuple[str, Document]]:
    """The wallet documents attached to an application, by requirement name."""
    attached = []
    for name, document_id in (application.wallet_documents or {}).items():
        document = db.get(Document, document_id)
        if document is not None:
            attached.append((name, document))
    return attached


# Every read of an application asks these two; built once (see payments.service).
_ATTACHMENTS_OF = (
    select(Attachment)
    .where(Attachment.application_id == bindparam("application_id"))
    .order_by(Attachment.uploaded_at)
)
_TIMELINE_OF = (
    select(ApplicationEvent)
    .where(ApplicationEvent.application_id == bindparam("application_id"))
    .order_by(ApplicationEvent.at, ApplicationEvent.id)
)
# The same for a list of applications (a citizen's, through the API): one statement each,
# not one for each application.
_ATTACHMENTS_OF_EACH = (
    select(Attachment)
    .where(Attachment.application_id.in_(bindparam("ids", expanding=True)))
    .order_by(Attachment.uploaded_at)
)
_TIMELINES_OF_EACH = (
    select(ApplicationEvent)
    .where(ApplicationEvent.application_id.in_(bindparam("ids", expanding=True)))
    .order_by(ApplicationEvent.at, ApplicationEvent.id)
)
RowOfApplication = TypeVar("RowOfApplication", Attachment, ApplicationEvent)


def attachments_of(db: Session, *, application: Application) -> Sequence[Attachment]:
    """An application's attachments, oldest first."""
    return db.scalars(_ATTACHMENTS_OF, {"application_id": application.id}).all()


def attachments_of_each(
    db: Session, *, application_ids: Collection[str]
) -> dict[str, list[Attachment]]:
    """:func:`attachments_of` for several applications in one statement, by application."""
    return _by_application(db.scalars(_ATTACHMENTS_OF_EACH, {"ids": list(application_ids)}))


def _by_application(rows: Iterable[RowOfApplication]) -> dict[str, list[RowOfApplication]]:
    grouped: dict[str, list[RowOfApplication]] = {}
    for row in rows:
        grouped.setdefault(row.application_id, []).append(row)
    return grouped


def attachment_bytes(store: FileStore, attachment: Attachment) -> bytes:
    """The bytes of an attachment, from the file store."""
    return store.get(attachment.storage_key)


def attachment_of(db: Session, *, application: Application, attachment_id: str) -> Attachment:
    """One attachment of an application the caller may already see, or 404."""
    attachment = db.get(Attachment, attachment_id)
    if attachment is None or attachment.application_id != application.id:
        raise NotFound()
    return attachment


def remove_attachment(
    db: Session, *, citizen: Citizen, application: Application, attachment: Attachment
) -> None:
    """Take back an attachment while the application is still being prepared."""
    if application.state != ApplicationState.DRAFT:
        raise IllegalTransition(N_("This application can no longer be changed."))
    db.delete(attachment)
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="attachment.removed",
        object_type="attachment",
        object_id=attachment.id,
        before={"application_id": application.id, "sha256": attachment.sha256},
    )


def submit_application(
    db: Session,
    *,
    settings: Settings,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
    idempotency_key: str | None = None,
) -> Application:
    """Submit a complete draft and tell the citizen its tracking number.

    A service with a fee issues a PSID challan and waits in ``awaiting_payment`` until the
    fee is paid (or waived); one without goes straight to the agency's queue. A retry
    with the same idempotency key changes nothing and sends nothing.
    """
    if idempotency_key:
        earlier = db.scalar(
            _SUBMITTED_WITH_KEY, {"citizen_id": citizen.id, "key": idempotency_key[:100]}
        )
        if earlier is not None:
            if earlier.id != application.id:
                raise InvalidInput(N_("This idempotency key was already used for another request."))
            return earlier
    if application.state != ApplicationState.DRAFT:
        raise IllegalTransition()
    stored = {k: "" if v is None else str(v) for k, v in (application.answers or {}).items()}
    check = validate_answers(service, stored, today=today_in_pakistan(), partial=False)
    errors = {name: Message(error.msgid, error.params) for name, error in check.errors.items()}
    present = {attachment.requirement for attachment in attachments_of(db, application=application)}
    present |= set(application.wallet_documents or {})
    for document in service.required_documents:
        if document.required and document.name not in present:
            errors[document.name] = Message(
                N_("Attach {label}."), {"label": document.label.model_dump()}
            )
    if errors:
        raise InvalidInput(fields=errors)
    tier = service.fee_tier(application.fee_tier) if application.fee_tier else None
    if service.fee_tiers and tier is None:
        tier = service.fee_tiers[0]  # the catalogue's first tier is the default choice
    application.fee_tier = tier.id if tier else None
    application.fee_paisa = tier.fee_paisa if tier else service.fee_paisa
    application.answers = dict(stored) | check.values
    application.tracking_number = new_tracking_number()
    application.submitted_at = utcnow()
    application.due_at = add_working_days(
        application.submitted_at, service.service_level_days_for(tier)
    )
    application.submit_idempotency_key = idempotency_key[:100] if idempotency_key else None
    actor = Actor.citizen(citizen.id)
    if application.fee_paisa <= 0:
        move(db, application=application, action=Action.SUBMIT, by=Party.CITIZEN, actor=actor)
    else:
        move(
            db,
            application=application,
            action=Action.SUBMIT_WITH_FEE,
            by=Party.CITIZEN,
            actor=actor,
        )
        # The challan's message (with the PSID) says it was received and what to pay.
        issue_challan(
            db, settings=settings, citizen=citizen, application=application, service=service
        )
        return application
    tell_applicant(
        db,
        settings=settings,
        citizen=citizen,
        application=application,
        service=service,
        event="application_submitted",
        values={"due_date": local_date(application.due_at, citizen.preferred_language)},
    )
    return application


def tell_applicant(
    db: Session,
    *,
    settings: Settings,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
    event: str,
    values: dict[str, Any] | None = None,
) -> None:
    """Send the applicant ``event`` about this application, in the caller's transaction."""
    tell_citizen(
        db,
        settings=settings,
        citizen=citizen,
        event=event,
        values={
            "service": service.title.in_language(citizen.preferred_language),
            "tracking_number": application.tracking_number or "",
            "link": link(settings, f"/applications/{application.id}"),
            **(values or {}),
        },
        reference=application.id,
    )


def choose_fee_tier(
    db: Session,
    *,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
    tier_id: str,
) -> None:
    """Keep the fee tier the citizen chose (normal, urgent...) on their draft."""
    if application.state != ApplicationState.DRAFT:
        raise IllegalTransition(N_("This application can no longer be changed."))
    tier = service.fee_tier(tier_id)
    if tier is None:
        raise InvalidInput(fields={"fee_tier": Message(N_("Choose one of the options."))})
    if application.fee_tier != tier.id:
        application.fee_tier = tier.id
        application.fee_paisa = tier.fee_paisa
        record_event(
            db,
            actor=Actor.citizen(citizen.id),
            action="application.fee_tier_chosen",
            object_type="application",
            object_id=application.id,
            after={"fee_tier": tier.id, "fee_paisa": tier.fee_paisa},
        )


def issue_challan(
    db: Session,
    *,
    settings: Settings,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
) -> Payment:
    """A PSID challan for the application's fee; an earlier unpaid one dies. The citizen
    is sent the PSID, the amount and the date to pay by."""
    if application.state != ApplicationState.AWAITING_PAYMENT:
        raise IllegalTransition(N_("There is no fee to pay."))
    payment = payments.issue_challan(
        db,
        settings=settings,
        application_id=application.id,
        citizen_id=citizen.id,
        payer_name=citizen.full_name or "",
        agency_id=application.agency_id,
        service_id=application.service_id,
        tracking_number=application.tracking_number,
        fee_tier=application.fee_tier,
        amount_paisa=application.fee_paisa,
        actor=Actor.citizen(citizen.id),
    )
    language = citizen.preferred_language
    tell_citizen(
        db,
        settings=settings,
        citizen=citizen,
        event="fee_due",
        values={
            "service": service.title.in_language(language),
            "tracking_number": application.tracking_number or "",
            "link": link(settings, f"/payments/{payment.id}"),
            "amount": rupees(payment.amount_paisa, language),
            "psid": payment.psid,
            "pay_by": local_date(payment.due_at, language),
        },
        reference=application.id,
    )
    return payment


def tell_refund(
    db: Session,
    *,
    settings: Settings,
    citizen: Citizen,
    application: Application,
    service: ServiceDefinition,
    refund: PaymentRefund | None,
) -> None:
    """Tell the applicant a refund of their fee has started (nothing when none has)."""
    if refund is None:
        return
    tell_applicant(
        db,
        settings=settings,
        citizen=citizen,
        application=application,
        service=service,
        event="fee_refunded",
        values={"amount": rupees(refund.amount_paisa, citizen.preferred_language)},
    )


def withdraw_application(
    db: Session,
    *,
    settings: Settings,
    citizen: Citizen,
    application: Application,
    reason: str | None,
    service: ServiceDefinition,
) -> None:
    """Withdraw before a decision: an unpaid challan dies, and a paid fee is refunded (and
    the citizen told) when the service's ``refund_fee_on`` says so."""
    message = clean_message(reason, required=False, field="reason")
    actor = Actor.citizen(citizen.id)
    move(
        db,
        application=application,
        action=Action.WITHDRAW,
        by=Party.CITIZEN,
        actor=actor,
        message=message,
    )
    application.assigned_officer_id = None
    payments.cancel_unpaid(db, application_id=application.id, actor=actor)
    if "withdrawn" in service.refund_fee_on:
        refund = payments.refund_fee(
            db, application_id=application.id, reason="withdrawn", actor=actor
        )
        tell_refund(
            db,
            settings=settings,
            citizen=citizen,
            application=application,
            service=service,
            refund=refund,
        )


def respond_to_request(
    db: Session, *, citizen: Citizen, application: Application, message: str
) -> None:
    """Answer an officer's request for information; the case returns to the officer."""
    text = clean_message(message, required=True, field="message")
    move(
        db,
        application=application,
        action=Action.RESPOND,
        by=Party.CITIZEN,
        actor=Actor.citizen(citizen.id),
        message=text,
    )


def timeline_of(db: Session, *, application: Application) -> Sequence[ApplicationEvent]:
    """Every step of an application with its time and reason, oldest first."""
    return db.scalars(_TIMELINE_OF, {"application_id": application.id}).all()


def timelines_of_each(
    db: Session, *, application_ids: Collection[str]
) -> dict[str, list[ApplicationEvent]]:
    """:func:`timeline_of` for several applications in one statement, by application."""
    return _by_application(db.scalars(_TIMELINES_OF_EACH, {"ids": list(application_ids)}))


def open_information_request(
    application: Application, timeline: Sequence[ApplicationEvent]
) -> str | None:
    """The officer's latest request for information, while it is waiting for an answer,
    from the application's timeline (:func:`timeline_of`)."""
    if application.state != ApplicationState.INFO_REQUESTED:
        return None
    asked = [event.message for event in timeline if event.kind == "request_info"]
    return asked[-1] if asked else None
