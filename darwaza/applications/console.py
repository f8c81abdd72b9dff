"""The officer console: the agency's queue and the actions on one application."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from darwaza.applications import officers, service, workflow
from darwaza.applications.decisions import officer_acts, refund_part_and_tell
from darwaza.applications.models import Application
from darwaza.applications.views import attachment_response
from darwaza.catalogue import Catalogue
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.errors import DarwazaError, Message
from darwaza.identity.dependencies import OfficerDep
from darwaza.identity.models import Citizen, StaffMember
from darwaza.payments import service as payments
from darwaza.storage import file_store_for
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, form_text, pager_links, redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/console",
    dependencies=CSRF_PROTECTED,
    include_in_schema=False,
)


@router.get("", response_class=HTMLResponse)
def queue(
    request: Request,
    db: DbDep,
    officer: OfficerDep,
    catalogue: CatalogueDep,
    state: str = "",
    service_id: str = "",
    overdue: str = "",
    mine: str = "",
    after: str = "",
) -> Response:
    chosen_service = request.query_params.get("service", service_id)
    filters = officers.QueueFilter(
        state=workflow.ApplicationState(state) if state in set(workflow.ApplicationState) else None,
        service_id=chosen_service or None,
        overdue_only=overdue == "1",
        mine_only=mine == "1",
    )
    agency_services = catalogue.services_of(officer.agency_id or "")
    page = officers.officer_queue(db, officer=officer, queue_filter=filters, after=after)
    return render(
        request,
        "console/queue.html",
        {
            "officer": officer,
            "agency": catalogue.agencies[officer.agency_id or ""],
            "applications": page.rows,
            "fee_states": payments.payment_states_of(
                db, application_ids=[application.id for application in page.rows]
            ),
            "counts": officers.queue_counts(db, officer=officer),
            "filters": filters,
            "services": agency_services,
            "services_by_id": catalogue.services,
            "open_states": [
                s for s in workflow.ApplicationState if s in workflow.OPEN_FOR_OFFICERS
            ],
            "all_states": [
                s for s in workflow.ApplicationState if s != workflow.ApplicationState.DRAFT
            ],
            "is_overdue": officers.is_overdue,
        }
        | pager_links(request, page),
    )


def _application_page(
    request: Request,
    db: DbDep,
    officer: StaffMember,
    application: Application,
    catalogue: CatalogueDep,
    *,
    errors: dict[str, Message] | None = None,
    status_code: int = 200,
) -> Response:
    definition = catalogue.service(application.service_id)
    context: dict[str, Any] = {
        "application": application,
        "service": definition,
        "citizen": db.get(Citizen, application.citizen_id),
        "attachments": service.attachments_of(db, application=application),
        "wallet_attached": service.wallet_documents_of(db, application=application),
        "document_types": catalogue.document_types,
        "timeline": service.timeline_of(db, application=application),
        "actions": workflow.allowed_actions(application.state, workflow.Party.OFFICER),
        "assigned_to_me": application.assigned_officer_id == officer.id,
        "officer_id": officer.id,
        "issued_document": service.issued_document_of(db, application=application),
        "just_done": request.query_params.get("done", ""),
        "overdue": officers.is_overdue(application),
        "payment": payments.latest_payment(db, application_id=application.id),
        "may_refund": officers.may_refund(officer),
        "errors": errors or {},
    }
    return render(request, "console/application.html", context, status_code=status_code)


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application_page(
    request: Request, application_id: str, db: DbDep, officer: OfficerDep, catalogue: CatalogueDep
) -> Response:
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    officers.record_officer_look(db, officer=officer, application=application)
    return _application_page(request, db, officer, application, catalogue)


@router.get("/applications/{application_id}/attachments/{attachment_id}")
def download_attachment(
    application_id: str, attachment_id: str, db: DbDep, settings: SettingsDep, officer: OfficerDep
) -> Response:
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    attachment = service.attachment_of(db, application=application, attachment_id=attachment_id)
    officers.record_officer_look(
        db, officer=officer, application=application, attachment=attachment
    )
    return attachment_response(file_store_for(settings), attachment)


@router.post("/applications/{application_id}/refund")
def refund(
    request: Request,
    form: FormDep,
    application_id: str,
    db: DbDep,
    officer: OfficerDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> Response:
    """An agency admin refunds part of a paid fee; the applicant is told."""
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    try:
        refund_part_and_tell(
            db,
            settings=settings,
            catalogue=catalogue,
            officer=officer,
            application=application,
            amount=form_text(form, "amount"),
            reason=form_text(form, "reason"),
        )
    except DarwazaError as error:
        return _refused(request, db, officer, application_id, catalogue, error)
    return redirect(f"/console/applications/{application.id}?done=refund")


def _refused(
    request: Request,
    db: DbDep,
    officer: StaffMember,
    application_id: str,
    catalogue: Catalogue,
    error: DarwazaError,
) -> Response:
    """The application's page again, with what was wrong, and nothing of the attempt kept."""
    db.rollback()
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    return _application_page(
        request,
        db,
        officer,
        application,
        catalogue,
        errors=errors_of(error),
        status_code=error.status_code,
    )


@router.post("/applications/{application_id}/{action}")
def act(
    request: Request,
    form: FormDep,
    application_id: str,
    action: str,
    db: DbDep,
    officer: OfficerDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> Response:
    """Claim, release, request information, approve, reject or waive the fee."""
    application = officers.officer_application(db, officer=officer, application_id=application_id)
    text = form_text(form, "message") or form_text(form, "reason")
    try:
        officer_acts(
            db,
            settings=settings,
            catalogue=catalogue,
            officer=officer,
            application=application,
            action=action.replace("-", "_"),
            text=text,
        )
    except DarwazaError as error:
        return _refused(request, db, officer, application_id, catalogue, error)
    if action == "release":
        return redirect("/console")
    if action in ("approve", "reject"):
        return redirect(f"/console/applications/{application.id}?done={action}")
    return redirect(f"/console/applications/{application.id}")
