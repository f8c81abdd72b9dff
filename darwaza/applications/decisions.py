"""Where a decision becomes a document: approving an application issues what it promises."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from darwaza.applications import officers
from darwaza.applications.models import Application
from darwaza.applications.service import tell_applicant, tell_refund
from darwaza.applications.workflow import Action
from darwaza.audit.actors import Actor
from darwaza.catalogue import Catalogue, ServiceDefinition
from darwaza.documents.models import Document
from darwaza.documents.service import issue_document
from darwaza.errors import NotFound
from darwaza.identity.contact import link
from darwaza.identity.models import Citizen, StaffMember
from darwaza.payments.models import PaymentRefund
from darwaza.settings import Settings


def answers_for_claims(service: ServiceDefinition, answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as a document states them: a chosen option by its English label, not its code."""
    readable = dict(answers)
    for field in service.fields:
        if field.type == "select" and field.name in readable:
            option = field.option(str(readable[field.name]))
            if option is not None:
                readable[field.name] = option.label.en
    return readable


def approve_and_issue(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    officer: StaffMember,
    application: Application,
    note: str | None = None,
) -> Document | None:
    """Approve, and issue the service's document type to the applicant in the same transaction."""
    officers.approve_application(db, officer=officer, application=application, note=note)
    service = catalogue.service(application.service_id)
    citizen = db.get(Citizen, application.citizen_id)
    assert citizen is not None
    if service.issues_document_type is None:
        tell_applicant(
            db,
            settings=settings,
            citizen=citizen,
            application=application,
            service=service,
            event="application_approved",
        )
        return None
    document = issue_document(
        db,
        settings=settings,
        catalogue=catalogue,
        agency_id=application.agency_id,
        document_type_id=service.issues_document_type,
        holder_cnic=citizen.cnic,
        citizen=citizen,
        application_id=application.id,
        answers=answers_for_claims(service, application.answers or {}),
        actor=Actor.staff(officer.id),
    )
    # "Your document is ready" commits with the approval and the document, or not at all.
    document_type = catalogue.document_type(service.issues_document_type)
    tell_applicant(
        db,
        settings=settings,
        citizen=citizen,
        application=application,
        service=service,
        event="document_issued",
        values={
            "document": document_type.title.in_language(citizen.preferred_language),
            "link": link(settings, f"/wallet/{document.id}"),
        },
    )
    return document


def _applicant(db: Session, application: Application) -> Citizen:
    citizen = db.get(Citizen, application.citizen_id)
    assert citizen is not None
    return citizen


def _tell(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    application: Application,
    event: str,
    values: dict[str, Any],
) -> None:
    tell_applicant(
        db,
        settings=settings,
        citizen=_applicant(db, application),
        application=application,
        service=catalogue.service(application.service_id),
        event=event,
        values=values,
    )


def _tell_refund(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    application: Application,
    refund: PaymentRefund | None,
) -> None:
    tell_refund(
        db,
        settings=settings,
        citizen=_applicant(db, application),
        application=application,
        service=catalogue.service(application.service_id),
        refund=refund,
    )


def refund_part_and_tell(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    officer: StaffMember,
    application: Application,
    amount: str,
    reason: str,
) -> None:
    """An agency admin refunds part of a paid fee; the applicant is told."""
    refund = officers.refund_part_of_fee(
        db, officer=officer, application=application, amount=amount, reason=reason
    )
    _tell_refund(db, settings=settings, catalogue=catalogue, application=application, refund=refund)


def officer_acts(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    officer: StaffMember,
    application: Application,
    action: str,
    text: str = "",
) -> None:
    """One officer action, as the console and the API both name it; approval also issues."""
    if action == Action.CLAIM:
        officers.claim_application(db, officer=officer, application=application)
    elif action == Action.RELEASE:
        officers.release_application(db, officer=officer, application=application)
    elif action == Action.REQUEST_INFO:
        officers.request_information(db, officer=officer, application=application, message=text)
        _tell(
            db,
            settings=settings,
            catalogue=catalogue,
            application=application,
            event="information_requested",
            values={"request": text.strip()},
        )
    elif action == Action.APPROVE:
        approve_and_issue(
            db,
            settings=settings,
            catalogue=catalogue,
            officer=officer,
            application=application,
            note=text or None,
        )
    elif action == Action.REJECT:
        service = catalogue.service(application.service_id)
        refund = officers.reject_application(
            db,
            officer=officer,
            application=application,
            reason=text,
            refund_fee="rejected" in service.refund_fee_on,
        )
        _tell(
            db,
            settings=settings,
            catalogue=catalogue,
            application=application,
            event="application_rejected",
            values={"reason": text.strip()},
        )
        _tell_refund(
            db, settings=settings, catalogue=catalogue, application=application, refund=refund
        )
    elif action == Action.WAIVE_FEE:
        officers.waive_fee(db, officer=officer, application=application, reason=text)
    else:
        raise NotFound()
