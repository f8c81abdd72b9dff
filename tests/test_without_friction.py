"""Journeys without friction: drafts told apart and discarded with a confirmation, decisions
confirmed by officers, the approved application leading to its document."""

from __future__ import annotations

from sqlalchemy.orm import Session

from darwaza.settings import Settings
from tests.journeys import (
    ClientFactory,
    approved_degree,
    authenticator_code,
    create_officer,
    csrf_of,
    fill_and_submit,
    post_form,
    sign_in_officer,
    sign_up,
    start_degree_application,
)


def test_a_draft_is_told_apart_and_a_discarded_draft_leaves_the_list(
    make_client: ClientFactory, settings: Settings
) -> None:
    client = make_client()
    sign_up(client, settings, cnic="35202-5151511-3", full_name="Sana", mobile="0321 5151511")
    draft = start_degree_application(client)
    page = f"/applications/{draft}"
    token = csrf_of(client.get(page))
    client.post(
        page,
        data={"action": "save", "full_name": "Sana Draft", "csrf_token": token},
    )
    listing = client.get("/applications").text
    assert "Last saved:" in listing and "Sana Draft" in listing
    form = client.get(page).text
    assert '<details class="confirm" id="discard">' in form
    assert "Yes, discard" in form
    assert post_form(client, f"{page}/withdraw", {}, page=page).status_code == 303
    assert draft not in client.get("/applications").text


def test_officers_confirm_decisions_and_the_citizen_reaches_the_document(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen, officer, document = approved_degree(
        make_client, settings, db, "35202-5151522-3", "0321 5151522"
    )
    queue = officer.get("/console").text
    assert 'class="tag">Overdue: 0' in queue  # a zero is not shown in red
    application = citizen.get(f"/applications/{document.application_id}").text
    assert f'href="/wallet/{document.id}"' in application


def test_approve_and_reject_take_two_steps(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-5151533-3", full_name="Sana", mobile="0321 5151533")
    application_id = start_degree_application(citizen)
    fill_and_submit(citizen, application_id, settings=settings)
    officer_row = create_officer(db, username="hec.two", agency_id="hec", mobile="03005151533")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    case = f"/console/applications/{application_id}"
    post_form(officer, f"{case}/claim", {}, page=case)
    page = officer.get(case).text
    assert '<details class="confirm" id="approve">' in page
    assert "Yes, approve" in page and "Yes, reject" in page
    refused = post_form(officer, f"{case}/reject", {"reason": ""}, page=case)
    assert refused.status_code >= 400
    assert '<details class="confirm" id="reject" open>' in refused.text


def test_an_officer_signing_in_twice_in_a_minute_hears_about_the_authenticator(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    officer_row = create_officer(db, username="hec.twice", agency_id="hec", mobile="03005151544")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    post_form(officer, "/sign-out", {}, page="/console")
    again = make_client()
    again.cookies.update(officer.cookies)  # the same browser
    assert 'value="hec.twice"' in again.get("/console/sign-in").text  # the username stays
    post_form(again, "/console/sign-in", {"username": "hec.twice", "password": "officer-pass-123"})
    refused = post_form(again, "/console/sign-in/code", {"code": authenticator_code(officer_row)})
    assert refused.status_code == 400
    assert "authenticator app" in refused.text
    assert "latest message" not in refused.text


def test_after_approving_the_officer_is_told_and_led_to_the_document(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    _citizen, officer, document = approved_degree(
        make_client, settings, db, "35202-5151555-3", "0321 5151555"
    )
    page = officer.get(f"/console/applications/{document.application_id}?done=approve").text
    assert "Approved. The applicant has the signed document" in page
    assert f'href="/console/documents/{document.id}"' in page
    assert "You approved" in page and "You started the review" in page
    assert "The applicant submitted" in page
