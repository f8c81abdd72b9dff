"""Every time staff open a citizen's record, the citizen can see it: documents issued to
their CNIC, applications, and each attached file by its own id."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.audit.models import AuditEvent
from darwaza.identity.models import Citizen, Role
from darwaza.settings import Settings
from tests.factories import create_application, create_document, create_staff
from tests.journeys import (
    GOOD_ANSWERS,
    PDF_BYTES,
    STAFF_PASSWORD,
    ClientFactory,
    csrf_of,
    sign_in_officer,
    sign_up,
)


def test_an_officer_opening_a_document_issued_to_a_cnic_shows_on_the_holders_account(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen_browser = make_client()
    sign_up(
        citizen_browser,
        settings,
        cnic="35202-5556667-1",
        full_name="Zara Ali",
        mobile="03015556667",
    )
    document = create_document(
        db,
        settings,
        holder_cnic="3520255566671",
        claims={"father_name": "Ali Raza", "gender": "Female", "date_of_birth": "1990-01-01"},
    )
    officer = create_staff(db, settings, username="nadra.looker", agency_id="nadra")
    officer_browser = make_client()
    sign_in_officer(officer_browser, settings, officer, STAFF_PASSWORD)

    assert officer_browser.get(f"/console/documents/{document.id}").status_code == 200

    account = citizen_browser.get("/account")
    assert "Nadra.Looker" in account.text
    assert "opened a document" in account.text


def test_an_officer_download_is_audited_with_the_files_own_id(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen_browser = make_client()
    sign_up(
        citizen_browser,
        settings,
        cnic="35202-5556668-9",
        full_name="Omar Aziz",
        mobile="03015556668",
    )
    citizen = db.scalar(select(Citizen).where(Citizen.cnic == "3520255566689"))
    assert citizen is not None
    application = create_application(db, settings, citizen=citizen, answers=GOOD_ANSWERS)
    page = citizen_browser.get(f"/applications/{application.id}")
    files = {
        "file:degree": ("degree.pdf", PDF_BYTES, "application/pdf"),
        "file:transcript": ("transcript.pdf", PDF_BYTES, "application/pdf"),
    }
    submitted = citizen_browser.post(
        f"/applications/{application.id}",
        data={"action": "submit", "csrf_token": csrf_of(page)},
        files=files,
        follow_redirects=False,
    )
    assert submitted.status_code == 303, submitted.text
    officer = create_staff(db, settings, username="hec.reader", role=Role.OFFICER)
    officer_browser = make_client()
    sign_in_officer(officer_browser, settings, officer, STAFF_PASSWORD)
    case = officer_browser.get(f"/console/applications/{application.id}")
    attachment_id = case.text.split(f"/console/applications/{application.id}/attachments/")[1][:36]

    download = officer_browser.get(
        f"/console/applications/{application.id}/attachments/{attachment_id}"
    )

    assert download.status_code == 200
    db.commit()
    looks = db.scalars(select(AuditEvent).where(AuditEvent.action == "attachment.viewed")).all()
    assert [look.object_id for look in looks] == [attachment_id]
    assert looks[0].subject_id == citizen.id
