"""Small factories for the records tests need, made through the real service functions.

Each returns a row already flushed and committed, so the app under test sees it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from darwaza.applications import service as applications
from darwaza.applications.models import Application
from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.catalogue import load_catalogue
from darwaza.documents.models import Document
from darwaza.documents.service import issue_document
from darwaza.identity.models import Citizen, Role, StaffMember
from darwaza.identity.staff import create_staff_member
from darwaza.numbers import parse_cnic, parse_mobile
from darwaza.settings import Settings
from tests.journeys import AUTHENTICATOR_SEEDS, STAFF_PASSWORD


def create_citizen(
    db: Session,
    *,
    cnic: str = "35202-7654321-3",
    full_name: str = "Ayesha Bibi",
    mobile: str = "03001112233",
) -> Citizen:
    """A citizen whose mobile number was confirmed, as after sign-up."""
    citizen = Citizen(cnic=parse_cnic(cnic), full_name=full_name, mobile=parse_mobile(mobile))
    db.add(citizen)
    db.flush()
    record_event(
        db,
        actor=Actor.operator(),
        action="citizen.created",
        object_type="citizen",
        object_id=citizen.id,
    )
    db.commit()
    return citizen


def create_staff(
    db: Session,
    settings: Settings,
    *,
    username: str = "officer.one",
    role: Role = Role.OFFICER,
    agency_id: str | None = "hec",
) -> StaffMember:
    """A staff member with a known password; their authenticator seed is kept for tests."""
    enrolment = create_staff_member(
        db,
        settings=settings,
        username=username,
        full_name=username.title(),
        role=role,
        agency_id=agency_id,
        mobile="03001239998",
        password=STAFF_PASSWORD,
        actor=Actor.operator(),
    )
    db.commit()
    AUTHENTICATOR_SEEDS[enrolment.staff.id] = enrolment.authenticator_seed
    return enrolment.staff


def create_application(
    db: Session,
    settings: Settings,
    *,
    citizen: Citizen,
    service_id: str = "hec-degree-attestation",
    answers: dict[str, Any] | None = None,
) -> Application:
    """A draft application, with any answers saved as the citizen would save them."""
    service = load_catalogue(settings.catalogue_dir).service(service_id)
    application = applications.start_application(db, citizen=citizen, service=service)
    if answers:
        applications.save_answers(
            db, citizen=citizen, application=application, service=service, raw_answers=answers
        )
    db.commit()
    return application


def create_document(
    db: Session,
    settings: Settings,
    *,
    holder_cnic: str,
    agency_id: str = "nadra",
    document_type: str = "nadra-identity-card",
    claims: dict[str, Any] | None = None,
) -> Document:
    """A signed document issued straight to a CNIC, as an agency's own system would."""
    document = issue_document(
        db,
        settings=settings,
        catalogue=load_catalogue(settings.catalogue_dir),
        agency_id=agency_id,
        document_type_id=document_type,
        holder_cnic=holder_cnic,
        given_claims=claims or {},
        actor=Actor.operator(),
    )
    db.commit()
    return document
