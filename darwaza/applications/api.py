"""Applications in the JSON API, for citizens and for officers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from darwaza.applications import officers, service, workflow
from darwaza.applications.decisions import officer_acts
from darwaza.applications.models import Application, ApplicationEvent, Attachment
from darwaza.applications.views import attachment_response
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.errors import InvalidInput, Message
from darwaza.i18n import N_, translate
from darwaza.identity.dependencies import CitizenDep, OfficerDep
from darwaza.paging import MAX_TOKEN_LENGTH
from darwaza.payments import service as payments
from darwaza.payments.models import Payment
from darwaza.storage import file_store_for
from darwaza.web.api import FieldProblem, error_responses
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, LanguageDep, SettingsDep

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/api/v1",
    tags=["applications"],
    dependencies=CSRF_PROTECTED,
)


class StepRead(BaseModel):
    kind: str
    at: datetime
    from_state: str | None
    to_state: str | None
    actor: str
    message: str | None


class AttachmentRead(BaseModel):
    id: str
    requirement: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime


class PaymentRead(BaseModel):
    id: str
    state: str
    psid: str | None
    amount_paisa: int
    due_at: datetime
    paid_at: datetime | None


class ApplicationRead(BaseModel):
    id: str
    service_id: str
    agency_id: str
    state: str
    tracking_number: str | None
    answers: dict[str, Any]
    fee_paisa: int
    fee_tier: str | None = None
    payment: PaymentRead | None = None
    created_at: datetime
    submitted_at: datetime | None
    due_at: datetime | None
    decided_at: datetime | None
    decision_reason: str | None
    information_request: str | None
    allowed_actions: list[str]
    attachments: list[AttachmentRead]
    timeline: list[StepRead]
    problems: dict[str, FieldProblem] = Field(
        default_factory=dict, description="Answers saved but not yet acceptable, per field."
    )


class ApplicationSummary(BaseModel):
    """An application in a queue: what it is and where it stands, no personal data.

    Lists carry no answers, files or timeline, so reading a queue is not reading anyone's
    records; opening one application is, and the citizen sees that look.
    """

    id: str
    service_id: str
    state: str
    tracking_number: str | None
    submitted_at: datetime | None
    due_at: datetime | None
    overdue: bool
    assigned_to_me: bool
    claimed: bool


class ApplicationCreate(BaseModel):
    service_id: str = Field(max_length=64)


class AnswersUpdate(BaseModel):
    answers: dict[str, str | int | float | None]


class MessageBody(BaseModel):
    message: str = Field(default="", max_length=4000)


class ReasonBody(BaseModel):
    reason: str = Field(default="", max_length=4000)


def _problems(language: str, errors: dict[str, Message]) -> dict[str, FieldProblem]:
    return {
        name: FieldProblem(code="invalid", message=translate(language, m.msgid, m.params))
        for name, m in errors.items()
    }


@dataclass(frozen=True)
class _Related:
    """What an application's answer shows besides its own row."""

    payment: Payment | None
    attachments: Sequence[Attachment]
    timeline: Sequence[ApplicationEvent]


def _related(db: DbDep, application: Application) -> _Related:
    return _Related(
        payment=payments.latest_payment(db, application_id=application.id),
        attachments=service.attachments_of(db, application=application),
        timeline=service.timeline_of(db, application=application),
    )


def _related_of_each(db: DbDep, applications: Sequence[Application]) -> dict[str, _Related]:
    """:func:`_related` of a list of applications, three statements however long it is."""
    ids = [application.id for application in applications]
    if not ids:
        return {}
    latest = payments.latest_payments(db, application_ids=ids)
    attachments = service.attachments_of_each(db, application_ids=ids)
    timelines = service.timelines_of_each(db, application_ids=ids)
    return {
        id_: _Related(latest.get(id_), attachments.get(id_, []), timelines.get(id_, []))
        for id_ in ids
    }


def _read(
    db: DbDep,
    application: Application,
    *,
    by: workflow.Party,
    language: str,
    problems: dict[str, Message] | None = None,
    related: _Related | None = None,
) -> ApplicationRead:
    """The application as the API shows it; ``related`` when read already for a list."""
    shown = related or _related(db, application)

    def step(event: ApplicationEvent) -> StepRead:
        return StepRead(
            kind=event.kind,
            at=event.at,
            from_state=event.from_state,
            to_state=event.to_state,
            actor=event.actor_kind,
            message=event.message,
        )

    def attachment(item: Attachment) -> AttachmentRead:
        return AttachmentRead.model_validate(item, from_attributes=True)

    payment = shown.payment
    return ApplicationRead(
        id=application.id,
        service_id=application.service_id,
        agency_id=application.agency_id,
        state=application.state,
        tracking_number=application.tracking_number,
        answers=application.answers or {},
        fee_paisa=application.fee_paisa,
        fee_tier=application.fee_tier,
        payment=PaymentRead.model_validate(payment, from_attributes=True) if payment else None,
        created_at=application.created_at,
        submitted_at=application.submitted_at,
        due_at=application.due_at,
        decided_at=application.decided_at,
        decision_reason=application.decision_reason,
        information_request=service.open_information_request(application, shown.timeline),
        allowed_actions=workflow.allowed_actions(application.state, by),
        attachments=[attachment(a) for a in shown.attachments],
        timeline=[step(e) for e in shown.timeline],
        problems=_problems(language, problems or {}),
    )


# --- citizens ---------------------------------------------------------------------------


@router.get("/applications", responses=error_responses(401))
def list_my_applications(
    db: DbDep, citizen: CitizenDep, language: LanguageDep
) -> list[ApplicationRead]:
    """The signed-in citizen's applications, newest first."""
    applications = service.citizen_applications(db, citizen=citizen)
    related = _related_of_each(db, applications)
    return [
        _read(db, a, by=workflow.Party.CITIZEN, language=language, related=related[a.id])
        for a in applications
    ]


@router.post("/applications", status_code=201, responses=error_responses(401, 404))
def start_application(
    body: ApplicationCreate,
    db: DbDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
    language: LanguageDep,
) -> ApplicationRead:
    """Open a draft for a service."""
    definition = catalogue.service(body.service_id)
    application = service.start_application(db, citizen=citizen, service=definition)
    return _read(db, application, by=workflow.Party.CITIZEN, language=language)


@router.get("/applications/{application_id}", responses=error_responses(401, 404))
def get_application(
    application_id: str, db: DbDep, citizen: CitizenDep, language: LanguageDep
) -> ApplicationRead:
    """One of the citizen's applications with its timeline."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    return _read(db, application, by=workflow.Party.CITIZEN, language=language)


@router.patch("/applications/{application_id}", responses=error_responses(401, 404, 409))
def save_answers(
    application_id: str,
    body: AnswersUpdate,
    db: DbDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
    language: LanguageDep,
) -> ApplicationRead:
    """Save answers to a draft. Everything is kept; ``problems`` lists what is not yet right."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    definition = catalogue.service(application.service_id)
    raw = {k: "" if v is None else str(v) for k, v in body.answers.items()}
    problems = service.save_answers(
        db, citizen=citizen, application=application, service=definition, raw_answers=raw
    )
    return _read(db, application, by=workflow.Party.CITIZEN, language=language, problems=problems)


@router.post(
    "/applications/{application_id}/attachments",
    status_code=201,
    responses=error_responses(401, 404, 409),
)
def add_attachment(
    application_id: str,
    requirement: Annotated[str, Form(max_length=64)],
    file: Annotated[UploadFile, File()],
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> AttachmentRead:
    """Attach a file for one of the service's required documents (type and size checked)."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    definition = catalogue.service(application.service_id)
    content = file.file.read(settings.max_upload_bytes + 1)
    attachment = service.add_attachment(
        db,
        store=file_store_for(settings),
        citizen=citizen,
        application=application,
        service=definition,
        requirement_name=requirement,
        filename=file.filename or "",
        content=content,
    )
    return AttachmentRead.model_validate(attachment, from_attributes=True)


@router.get(
    "/applications/{application_id}/attachments/{attachment_id}",
    responses=error_responses(401, 404) | {200: {"content": {"application/octet-stream": {}}}},
    response_class=Response,
)
def download_attachment(
    application_id: str, attachment_id: str, db: DbDep, settings: SettingsDep, citizen: CitizenDep
) -> Response:
    """The bytes of an attachment."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    attachment = service.attachment_of(db, application=application, attachment_id=attachment_id)
    return attachment_response(file_store_for(settings), attachment)


@router.delete(
    "/applications/{application_id}/attachments/{attachment_id}",
    status_code=204,
    responses=error_responses(401, 404, 409),
)
def remove_attachment(
    application_id: str, attachment_id: str, db: DbDep, citizen: CitizenDep
) -> None:
    """Take back an attachment from a draft."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    attachment = service.attachment_of(db, application=application, attachment_id=attachment_id)
    service.remove_attachment(db, citizen=citizen, application=application, attachment=attachment)


@router.post("/applications/{application_id}/submit", responses=error_responses(401, 404, 409))
def submit_application(
    application_id: str,
    db: DbDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
    language: LanguageDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> ApplicationRead:
    """Submit a complete draft. Send an ``Idempotency-Key``: a retry never submits twice.

    A service with a fee answers ``awaiting_payment`` with a PSID in ``payment``."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    definition = catalogue.service(application.service_id)
    application = service.submit_application(
        db,
        settings=settings,
        citizen=citizen,
        application=application,
        service=definition,
        idempotency_key=idempotency_key,
    )
    return _read(db, application, by=workflow.Party.CITIZEN, language=language)


@router.post("/applications/{application_id}/withdraw", responses=error_responses(401, 404, 409))
def withdraw_application(
    application_id: str,
    body: ReasonBody,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    language: LanguageDep,
    catalogue: CatalogueDep,
) -> ApplicationRead:
    """Withdraw before a decision (a paid fee is refunded when the service says so)."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    service.withdraw_application(
        db,
        citizen=citizen,
        application=application,
        reason=body.reason,
        service=catalogue.service(application.service_id),
        settings=settings,
    )
    return _read(db, application, by=workflow.Party.CITIZEN, language=language)


@router.post("/applications/{application_id}/respond", responses=error_responses(401, 404, 409))
def respond(
    application_id: str, body: MessageBody, db: DbDep, citizen: CitizenDep, language: LanguageDep
) -> ApplicationRead:
    """Answer the agency's request for information."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    service.respond_to_request(db, citizen=citizen, application=application, message=body.message)
    return _read(db, application, by=workflow.Party.CITIZEN, language=language)


# --- officers ---------------------------------------------------------------------------


@router.get("/console/applications", responses=error_responses(401, 404))
def officer_queue(
    request: Request,
    response: Response,
    db: DbDep,
    officer: OfficerDep,
    state: str | None = None,
    service_id: str | None = None,
    overdue: bool = False,
    mine: bool = False,
    after: Annotated[str, Query(max_length=MAX_TOKEN_LENGTH)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = officers.QUEUE_PAGE_SIZE,
) -> list[ApplicationSummary]:
    """The officer's agency queue, due soonest first, as summaries (open one to read it).

    A page at a time: when more follow, the ``Link`` header names the next page
    (``rel="next"``), which carries an ``after`` token; follow it as it is.
    """
    if state is not None and state not in set(workflow.ApplicationState):
        raise InvalidInput(fields={"state": Message(N_("Choose one of the options."))})
    queue_filter = officers.QueueFilter(
        state=workflow.ApplicationState(state) if state else None,
        service_id=service_id,
        overdue_only=overdue,
        mine_only=mine,
    )
    page = officers.officer_queue(
        db, officer=officer, queue_filter=queue_filter, after=after, page_size=limit
    )
    if page.next_after:
        following = request.url.include_query_params(after=page.next_after)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [
        ApplicationSummary(
            id=a.id,
            service_id=a.service_id,
            state=a.state,
            tracking_number=a.tracking_number,
            submitted_at=a.submitted_at,
            due_at=a.due_at,
            overdue=officers.is_overdue(a),
            assigned_to_me=a.assigned_officer_id == officer.id,
            claimed=a.assigned_officer_id is not None,
        )
        for a in page.rows
    ]


@router.get("/console/applications/{application_id}", responses=error_responses(401, 404))
def officer_get_application(
    application_id: str, db: DbDep, officer: OfficerDep, language: LanguageDep
) -> ApplicationRead:
    """An application of the officer's agency."""
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    officers.record_officer_look(db, officer=officer, application=application)
    return _read(db, application, by=workflow.Party.OFFICER, language=language)


@router.get(
    "/console/applications/{application_id}/attachments/{attachment_id}",
    responses=error_responses(401, 404) | {200: {"content": {"application/octet-stream": {}}}},
    response_class=Response,
)
def officer_download_attachment(
    application_id: str, attachment_id: str, db: DbDep, settings: SettingsDep, officer: OfficerDep
) -> Response:
    """The bytes of an attachment of the officer's agency."""
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    attachment = service.attachment_of(db, application=application, attachment_id=attachment_id)
    officers.record_officer_look(
        db, officer=officer, application=application, attachment=attachment
    )
    return attachment_response(file_store_for(settings), attachment)


def _officer_action(
    request: Request,
    action: str,
    application_id: str,
    db: DbDep,
    officer: OfficerDep,
    language: str,
    text: str = "",
) -> ApplicationRead:
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    officer_acts(
        db,
        settings=request.app.state.settings,
        catalogue=request.app.state.catalogue,
        officer=officer,
        application=application,
        action=action,
        text=text,
    )
    return _read(db, application, by=workflow.Party.OFFICER, language=language)


@router.post(
    "/console/applications/{application_id}/claim", responses=error_responses(401, 404, 409)
)
def claim(
    request: Request, application_id: str, db: DbDep, officer: OfficerDep, language: LanguageDep
) -> ApplicationRead:
    """Take an application to review."""
    return _officer_action(request, "claim", application_id, db, officer, language)


@router.post(
    "/console/applications/{application_id}/release", responses=error_responses(401, 404, 409)
)
def release(
    request: Request, application_id: str, db: DbDep, officer: OfficerDep, language: LanguageDep
) -> ApplicationRead:
    """Put a claimed application back in the queue."""
    return _officer_action(request, "release", application_id, db, officer, language)


@router.post(
    "/console/applications/{application_id}/request-info", responses=error_responses(401, 404, 409)
)
def request_info(
    request: Request,
    application_id: str,
    body: MessageBody,
    db: DbDep,
    officer: OfficerDep,
    language: LanguageDep,
) -> ApplicationRead:
    """Ask the citizen for more information."""
    return _officer_action(
        request, "request_info", application_id, db, officer, language, text=body.message
    )


@router.post(
    "/console/applications/{application_id}/approve", responses=error_responses(401, 404, 409)
)
def approve(
    request: Request,
    application_id: str,
    body: ReasonBody,
    db: DbDep,
    officer: OfficerDep,
    language: LanguageDep,
) -> ApplicationRead:
    """Approve a claimed application."""
    return _officer_action(
        request, "approve", application_id, db, officer, language, text=body.reason
    )


@router.post(
    "/console/applications/{application_id}/reject", responses=error_responses(401, 404, 409)
)
def reject(
    request: Request,
    application_id: str,
    body: ReasonBody,
    db: DbDep,
    officer: OfficerDep,
    language: LanguageDep,
) -> ApplicationRead:
    """Reject a claimed application with a reason the citizen sees."""
    return _officer_action(
        request, "reject", application_id, db, officer, language, text=body.reason
    )
