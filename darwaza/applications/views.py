"""The citizen's pages: start, fill, attach, save, submit, track, answer, withdraw."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from darwaza.applications import service, workflow
from darwaza.applications.models import Application, Attachment
from darwaza.catalogue import ServiceDefinition
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.documents.service import documents_of
from darwaza.errors import DarwazaError, IllegalTransition, Message
from darwaza.i18n import N_
from darwaza.identity.dependencies import CitizenDep
from darwaza.identity.models import Citizen
from darwaza.notifications.service import messages_about
from darwaza.payments import service as payments
from darwaza.storage import FileStore, file_store_for
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, form_file, form_text, redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)


def attachment_response(store: FileStore, attachment: Attachment) -> Response:
    """Send an attachment as a download, never rendered inline by the browser."""
    filename = attachment.filename.encode("ascii", "replace").decode().replace('"', "")
    return Response(
        service.attachment_bytes(store, attachment),
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/applications", response_class=HTMLResponse)
def my_applications(
    request: Request, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep
) -> Response:
    # A discarded draft (withdrawn before it was ever sent) leaves the list.
    shown = [
        application
        for application in service.citizen_applications(db, citizen=citizen)
        if not (
            application.state == workflow.ApplicationState.WITHDRAWN
            and application.submitted_at is None
        )
    ]
    return render(
        request,
        "applications/list.html",
        {
            "applications": shown,
            "services": catalogue.services,
            "first_answers": {a.id: _first_answers(a) for a in shown if a.answers},
        },
    )


def _first_answers(application: Application) -> str:
    """The first two answers of a draft, to tell drafts apart (never a CNIC in full)."""
    texts = [
        str(value)
        for value in application.answers.values()
        if value not in (None, "") and not (isinstance(value, str) and value.isdigit())
    ]
    return " · ".join(text[:40] for text in texts[:2])


@router.post("/services/{service_id}/apply")
def apply(service_id: str, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep) -> Response:
    definition = catalogue.service(service_id)
    application = service.start_application(db, citizen=citizen, service=definition)
    return redirect(f"/applications/{application.id}")


@router.get("/services/{service_id}/apply")
def apply_after_sign_in(
    service_id: str, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep
) -> Response:
    """Where "Sign in to apply" comes back to: the citizen's open empty draft, or a new one.

    Safe to repeat: starting reuses an empty draft, so a reload opens the same one.
    """
    definition = catalogue.service(service_id)
    application = service.start_application(db, citizen=citizen, service=definition)
    return redirect(f"/applications/{application.id}")


def _page(
    request: Request,
    db: DbDep,
    application: Application,
    definition: ServiceDefinition,
    catalogue: CatalogueDep,
    *,
    errors: dict[str, Message] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    owner = db.get(Citizen, application.citizen_id)
    held = documents_of(db, citizen=owner) if owner is not None else []
    context: dict[str, Any] = {
        "application": application,
        "service": definition,
        "agency": catalogue.agencies[definition.agency],
        "attachments": service.attachments_of(db, application=application),
        "wallet_attached": service.wallet_documents_of(db, application=application),
        "wallet_choices": {
            document.name: [
                d
                for d in held
                if d.document_type == document.wallet_document_type and d.status == "valid"
            ]
            for document in definition.required_documents
            if document.wallet_document_type
        },
        "document_types": catalogue.document_types,
        "errors": errors or {},
        "answers": application.answers or {},
    }
    context.update(extra)
    if application.state == workflow.ApplicationState.DRAFT:
        return render(request, "applications/draft.html", context, status_code=status_code)
    timeline = service.timeline_of(db, application=application)
    context.update(
        timeline=timeline,
        messages_sent=messages_about(
            db, reference=application.id, recipient_id=application.citizen_id
        ),
        information_request=service.open_information_request(application, timeline),
        can_withdraw="withdraw"
        in workflow.allowed_actions(application.state, workflow.Party.CITIZEN),
        just_submitted=request.query_params.get("submitted") == "1",
        payment=payments.latest_payment(db, application_id=application.id),
        # The approved application leads to the document it brought.
        issued_document=next((d for d in held if d.application_id == application.id), None),
    )
    return render(request, "applications/detail.html", context, status_code=status_code)


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application_page(
    request: Request, application_id: str, db: DbDep, citizen: CitizenDep, catalogue: CatalogueDep
) -> Response:
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    definition = catalogue.service(application.service_id)
    return _page(
        request,
        db,
        application,
        definition,
        catalogue,
        saved=request.query_params.get("saved") == "1",
    )


def _attach_files(
    form: FormData,
    db: DbDep,
    settings: SettingsDep,
    citizen: Citizen,
    application: Application,
    definition: ServiceDefinition,
) -> dict[str, Message]:
    """Store each chosen file; a refused file is reported next to its slot."""
    errors: dict[str, Message] = {}
    store = file_store_for(settings)
    for document in definition.required_documents:
        upload = form_file(form, f"file:{document.name}")
        if upload is None or document.upload is None:
            continue
        content = upload.file.read(document.upload.max_bytes + 1)
        try:
            service.add_attachment(
                db,
                store=store,
                citizen=citizen,
                application=application,
                service=definition,
                requirement_name=document.name,
                filename=upload.filename or "",
                content=content,
            )
        except DarwazaError as error:
            errors.update(errors_of(error) if error.fields else {document.name: error.message})
    return errors


@router.post("/applications/{application_id}")
def save_or_submit(
    request: Request,
    form: FormDep,
    application_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> Response:
    """One form for the whole draft: save keeps everything typed; submit checks it all."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    definition = catalogue.service(application.service_id)
    if application.state != workflow.ApplicationState.DRAFT:
        return redirect(f"/applications/{application.id}")
    removal = form_text(form, "remove_attachment")
    typed = {
        field.name: form_text(form, field.name) for field in definition.fields if field.name in form
    }
    errors = service.save_answers(
        db, citizen=citizen, application=application, service=definition, raw_answers=typed
    )
    errors.update(_attach_files(form, db, settings, citizen, application, definition))
    for document in definition.required_documents:
        if document.wallet_document_type is not None and f"wallet:{document.name}" in form:
            try:
                service.choose_wallet_document(
                    db,
                    citizen=citizen,
                    application=application,
                    service=definition,
                    requirement_name=document.name,
                    document_id=form_text(form, f"wallet:{document.name}") or None,
                )
            except DarwazaError as error:
                errors.update(errors_of(error))
    if definition.fee_tiers and form_text(form, "fee_tier"):
        try:
            service.choose_fee_tier(
                db,
                citizen=citizen,
                application=application,
                service=definition,
                tier_id=form_text(form, "fee_tier"),
            )
        except DarwazaError as error:
            errors.update(errors_of(error))
    if removal:
        attachment = service.attachment_of(db, application=application, attachment_id=removal)
        service.remove_attachment(
            db, citizen=citizen, application=application, attachment=attachment
        )
        return redirect(f"/applications/{application.id}?saved=1")
    if form_text(form, "action") != "submit":
        if errors:
            return _page(
                request,
                db,
                application,
                definition,
                catalogue,
                errors=errors,
                status_code=422,
                saved=True,
            )
        return redirect(f"/applications/{application.id}?saved=1")
    try:
        service.submit_application(
            db,
            settings=settings,
            citizen=citizen,
            application=application,
            service=definition,
            idempotency_key=form_text(form, "idempotency_key") or None,
        )
    except DarwazaError as error:
        errors.update(errors_of(error))
        return _page(
            request,
            db,
            application,
            definition,
            catalogue,
            errors=errors,
            status_code=error.status_code,
            # A failed submit only says what needs attention; saving is said on save.
        )
    if errors:  # a file was refused even though the rest was complete
        return _page(
            request, db, application, definition, catalogue, errors=errors, status_code=422
        )
    return redirect(f"/applications/{application.id}?submitted=1")


@router.post("/applications/{application_id}/respond")
def respond(
    request: Request,
    form: FormDep,
    application_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> Response:
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    definition = catalogue.service(application.service_id)
    text = form_text(form, "message")
    if application.state != workflow.ApplicationState.INFO_REQUESTED:
        raise IllegalTransition()
    errors = _attach_files(form, db, settings, citizen, application, definition)
    status_code = 422
    if not errors:
        try:
            service.respond_to_request(db, citizen=citizen, application=application, message=text)
        except DarwazaError as error:
            errors, status_code = errors_of(error), error.status_code
    if errors:
        return _page(
            request,
            db,
            application,
            definition,
            catalogue,
            errors=errors,
            status_code=status_code,
            response_text=text,
        )
    return redirect(f"/applications/{application.id}")


@router.post("/applications/{application_id}/withdraw")
def withdraw(
    request: Request,
    form: FormDep,
    application_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> Response:
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    was_draft = application.state == workflow.ApplicationState.DRAFT
    service.withdraw_application(
        db,
        citizen=citizen,
        application=application,
        reason=form_text(form, "reason"),
        service=catalogue.service(application.service_id),
        settings=settings,
    )
    return redirect("/applications" if was_draft else f"/applications/{application.id}")


@router.post("/applications/{application_id}/challan")
def new_challan(
    application_id: str,
    db: DbDep,
    settings: SettingsDep,
    citizen: CitizenDep,
    catalogue: CatalogueDep,
) -> Response:
    """A new PSID once the last one expired unpaid (the old one stays dead)."""
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    latest = payments.latest_payment(db, application_id=application.id)
    if latest is None or not payments.expire_if_due(db, payment=latest):
        raise IllegalTransition(N_("This challan can still be paid, or the fee is no longer due."))
    fresh = service.issue_challan(
        db,
        settings=settings,
        citizen=citizen,
        application=application,
        service=catalogue.service(application.service_id),
    )
    return redirect(f"/payments/{fresh.id}")


@router.get("/applications/{application_id}/attachments/{attachment_id}")
def download_attachment(
    application_id: str, attachment_id: str, db: DbDep, settings: SettingsDep, citizen: CitizenDep
) -> Response:
    application = service.citizen_application(db, citizen=citizen, application_id=application_id)
    attachment = service.attachment_of(db, application=application, attachment_id=attachment_id)
    return attachment_response(file_store_for(settings), attachment)
