"""The foundation journeys, walked through the pages as a citizen and an officer would."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.applications.models import Application
from darwaza.audit.models import AuditEvent
from darwaza.settings import Settings
from tests.journeys import (
    PDF_BYTES,
    PNG_BYTES,
    ClientFactory,
    create_officer,
    csrf_of,
    fill_and_submit,
    post_form,
    sign_in_officer,
    sign_up,
    start_degree_application,
)


def without_paths(html: str) -> str:
    """A page with the addresses it names taken out, to compare two answers' content."""
    return re.sub(r'name="next" value="[^"]*"', "", html)


def test_citizen_signs_up_saves_a_draft_resumes_attaches_and_submits(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    response = sign_up(
        citizen, settings, cnic="35202-7654321-3", full_name="Ali Raza", mobile="0301 2345678"
    )
    assert response.status_code == 303 and response.headers["location"] == "/applications"
    assert "dz_session" in citizen.cookies

    found = citizen.get("/services", params={"q": "degree"})
    assert "Degree attestation" in found.text
    application_id = start_degree_application(citizen)

    # Save half the form and come back later: what was typed is still there.
    page = f"/applications/{application_id}"
    token = csrf_of(citizen.get(page))
    saved = citizen.post(
        page,
        data={
            "full_name": "Ali Raza",
            "programme": "Physics",
            "action": "save",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    resumed = citizen.get(page)
    assert 'value="Ali Raza"' in resumed.text and 'value="Physics"' in resumed.text

    tracking = fill_and_submit(citizen, application_id, settings=settings)
    row = db.get(Application, application_id)
    assert row is not None and row.state == "submitted" and row.tracking_number == tracking
    assert row.due_at is not None and row.due_at > row.submitted_at  # type: ignore[operator]
    listing = citizen.get("/applications")
    assert tracking in listing.text and "Submitted" in listing.text


def test_officer_asks_for_information_citizen_answers_officer_approves(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(
        citizen, settings, cnic="35202-1111111-1", full_name="Sara Ahmed", mobile="0302 1111111"
    )
    application_id = start_degree_application(citizen)
    tracking = fill_and_submit(citizen, application_id, settings=settings)

    officer_row = create_officer(db, username="hec.reviewer", agency_id="hec", mobile="03009990001")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    queue = officer.get("/console")
    assert tracking in queue.text
    case = f"/console/applications/{application_id}"
    shown = officer.get(case)
    assert "Sara Ahmed" in shown.text and "degree.pdf" in shown.text
    # The officer sees the CNIC masked, never in full.
    assert "35202-1111111-1" not in shown.text

    assert post_form(officer, f"{case}/claim", {}, page=case).status_code == 303
    asked = post_form(
        officer,
        f"{case}/request-info",
        {"message": "Please attach a clearer scan of the degree."},
        page=case,
    )
    assert asked.status_code == 303

    seen = citizen.get(f"/applications/{application_id}")
    assert "Please attach a clearer scan of the degree." in seen.text
    assert "Information requested" in seen.text
    token = csrf_of(seen)
    answered = citizen.post(
        f"/applications/{application_id}/respond",
        data={"message": "A clearer scan is attached.", "csrf_token": token},
        files={"file:degree": ("degree-clear.pdf", PDF_BYTES, "application/pdf")},
        follow_redirects=False,
    )
    assert answered.status_code == 303

    assert "A clearer scan is attached." in officer.get(case).text
    assert post_form(officer, f"{case}/claim", {}, page=case).status_code == 303
    assert post_form(officer, f"{case}/approve", {}, page=case).status_code == 303

    final = citizen.get(f"/applications/{application_id}")
    assert "Approved" in final.text
    for step in (
        "Submitted",
        "An officer started the review",
        "The agency asked for information",
        "You answered",
    ):
        assert step in final.text
    actions = db.scalars(
        select(AuditEvent.action).where(AuditEvent.object_id == application_id)
    ).all()
    assert {
        "application.created",
        "application.submit_with_fee",
        "application.fee_paid",
        "application.claim",
        "application.request_info",
        "application.respond",
        "application.approve",
    } <= set(actions)


def test_officer_rejects_with_a_reason_the_citizen_reads(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-2222222-2", full_name="Hamza Ali", mobile="0303 2222222")
    application_id = start_degree_application(citizen)
    fill_and_submit(citizen, application_id, settings=settings)
    officer_row = create_officer(db, username="hec.second", agency_id="hec", mobile="03009990002")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    case = f"/console/applications/{application_id}"
    post_form(officer, f"{case}/claim", {}, page=case)
    empty = post_form(officer, f"{case}/reject", {"reason": "  "}, page=case)
    assert empty.status_code == 422 and "Please write a message." in empty.text
    post_form(
        officer,
        f"{case}/reject",
        {"reason": "The university has no record of this degree."},
        page=case,
    )
    seen = citizen.get(f"/applications/{application_id}")
    assert "Rejected" in seen.text
    assert "The university has no record of this degree." in seen.text


def test_citizen_withdraws_before_the_decision(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(
        citizen, settings, cnic="35202-3333333-3", full_name="Zainab Noor", mobile="0304 3333333"
    )
    application_id = start_degree_application(citizen)
    fill_and_submit(citizen, application_id, settings=settings)
    page = f"/applications/{application_id}"
    response = post_form(citizen, f"{page}/withdraw", {"reason": "Applied by mistake"}, page=page)
    assert response.status_code == 303
    seen = citizen.get(page)
    assert "Withdrawn" in seen.text and "Applied by mistake" in seen.text
    again = post_form(citizen, f"{page}/withdraw", {"reason": "again"}, page=page)
    assert again.status_code == 409


def test_officer_cannot_decide_without_claiming_and_citizen_cannot_resubmit(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(
        citizen, settings, cnic="35202-4444444-4", full_name="Omar Farooq", mobile="0305 4444444"
    )
    application_id = start_degree_application(citizen)
    fill_and_submit(citizen, application_id, settings=settings)
    officer_row = create_officer(db, username="hec.third", agency_id="hec", mobile="03009990003")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    case = f"/console/applications/{application_id}"
    refused = post_form(officer, f"{case}/approve", {}, page=case)
    assert refused.status_code == 409
    assert "Claim this application before acting on it." in refused.text
    answer = post_form(
        citizen,
        f"/applications/{application_id}/respond",
        {"message": "hello"},
        page=f"/applications/{application_id}",
    )
    assert answer.status_code == 409
    assert db.get(Application, application_id).state == "submitted"  # type: ignore[union-attr]


def test_other_citizens_and_other_agencies_get_404(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    owner = make_client()
    sign_up(owner, settings, cnic="35202-5555555-5", full_name="Ayesha Khan", mobile="0306 5555555")
    application_id = start_degree_application(owner)
    fill_and_submit(owner, application_id, settings=settings)
    attachment_link = (
        owner.get(f"/applications/{application_id}")
        .text.split(f'href="/applications/{application_id}/attachments/')[1]
        .split('"')[0]
    )
    own = owner.get(f"/applications/{application_id}/attachments/{attachment_link}")
    assert own.status_code == 200 and own.content in (PDF_BYTES, PNG_BYTES)
    assert own.headers["content-disposition"].startswith("attachment")

    stranger = make_client()
    sign_up(
        stranger, settings, cnic="35202-6666666-6", full_name="Bilal Shah", mobile="0307 6666666"
    )
    missing = stranger.get("/applications/00000000-0000-4000-8000-000000000000")
    for path in (
        f"/applications/{application_id}",
        f"/applications/{application_id}/attachments/{attachment_link}",
    ):
        response = stranger.get(path)
        assert response.status_code == 404 == missing.status_code
        assert without_paths(response.text) == without_paths(missing.text)
    assert (
        post_form(
            stranger, f"/applications/{application_id}/withdraw", {}, page="/applications"
        ).status_code
        == 404
    )

    nadra_row = create_officer(db, username="nadra.reader", agency_id="nadra", mobile="03009990004")
    nadra = make_client()
    sign_in_officer(nadra, settings, nadra_row, "officer-pass-123")
    assert nadra.get(f"/console/applications/{application_id}").status_code == 404
    assert (
        nadra.get(
            f"/console/applications/{application_id}/attachments/{attachment_link}"
        ).status_code
        == 404
    )
    assert application_id not in nadra.get("/console").text
    # An officer's session does not open citizens' pages either.
    assert nadra.get(f"/applications/{application_id}", follow_redirects=False).status_code in (
        303,
        404,
    )
