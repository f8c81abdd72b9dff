"""Bad input gets a clear error in the page's language and loses nothing already saved."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from darwaza.app import create_app
from darwaza.applications.models import Application
from darwaza.catalogue import CatalogueError
from darwaza.cli import main
from darwaza.i18n import translate
from darwaza.settings import Settings
from tests.journeys import PDF_BYTES, ClientFactory, csrf_of, post_form, sign_up, sms_messages

DEMO_CATALOGUE = Path(__file__).resolve().parent.parent / "darwaza" / "demo" / "catalogue"


def switch_to_urdu(client: TestClient) -> None:
    response = post_form(client, "/language", {"language": "ur", "next": "/"}, page="/")
    assert response.status_code == 303


def test_a_wrong_cnic_is_explained_in_english_and_in_urdu(make_client: ClientFactory) -> None:
    english = make_client()
    response = post_form(
        english, "/sign-up", {"cnic": "1234", "full_name": "A", "mobile": "0300 1234567"}
    )
    assert response.status_code == 422
    assert "Enter a valid CNIC: 13 digits, like 12345-1234567-1." in response.text
    assert 'value="A"' in response.text  # what was typed is still in the form

    urdu = make_client()
    switch_to_urdu(urdu)
    response = post_form(
        urdu, "/sign-up", {"cnic": "1234", "full_name": "A", "mobile": "0300 1234567"}
    )
    assert response.status_code == 422
    assert 'dir="rtl"' in response.text and 'lang="ur"' in response.text
    urdu_message = translate("ur", "Enter a valid CNIC: 13 digits, like 12345-1234567-1.")
    assert urdu_message != "Enter a valid CNIC: 13 digits, like 12345-1234567-1."
    assert urdu_message in response.text


def test_a_wrong_code_and_an_unknown_cnic_get_the_same_answer(
    make_client: ClientFactory, settings: Settings
) -> None:
    known = make_client()
    sign_up(
        known, settings, cnic="35202-8888888-8", full_name="Known Person", mobile="0308 8888888"
    )
    sent_before = len(sms_messages(settings))

    answers = []
    for cnic in ("35202-8888888-8", "35202-9999999-1"):  # known, unknown
        browser = make_client()
        asked = post_form(browser, "/sign-in", {"cnic": cnic})
        assert asked.status_code == 303 and asked.headers["location"] == "/sign-in/code"
        answer = post_form(browser, "/sign-in/code", {"code": "000000"})
        # Each browser has its own CSRF token; everything else must be identical.
        answers.append((answer.status_code, re.sub(r"[0-9a-f]{64}", "", answer.text)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    assert "That code is not right, or it has expired." in answers[0][1]
    # Only the known account was sent a code.
    assert len(sms_messages(settings)) == sent_before + 1


def test_a_code_dies_after_five_wrong_tries(make_client: ClientFactory, settings: Settings) -> None:
    browser = make_client()
    post_form(
        browser,
        "/sign-up",
        {"cnic": "35202-7777777-7", "full_name": "Try Hard", "mobile": "0309 7777777"},
    )
    right = sms_messages(settings)[-1]["text"].split("code is ")[1][:6]
    wrong = "111111" if right != "111111" else "222222"
    for _ in range(5):
        assert post_form(browser, "/sign-in/code", {"code": wrong}).status_code == 400
    assert post_form(browser, "/sign-in/code", {"code": right}).status_code == 400
    assert "dz_session" not in browser.cookies


def test_uploads_are_checked_and_the_draft_survives(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(
        citizen, settings, cnic="35202-1212121-2", full_name="Upload Tester", mobile="0310 1212121"
    )
    started = post_form(
        citizen,
        "/services/hec-degree-attestation/apply",
        {},
        page="/services/hec-degree-attestation",
    )
    page = started.headers["location"]
    application_id = page.rsplit("/", 1)[1]

    token = csrf_of(citizen.get(page))
    too_big = b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 10)
    response = citizen.post(
        page,
        data={"full_name": "Upload Tester", "action": "save", "csrf_token": token},
        files={"file:degree": ("degree.pdf", too_big, "application/pdf")},
    )
    assert response.status_code == 422
    assert "The file is too large." in response.text
    assert 'value="Upload Tester"' in response.text

    token = csrf_of(citizen.get(page))
    response = citizen.post(
        page,
        data={"action": "save", "csrf_token": token},
        files={"file:degree": ("degree.pdf", b"just some text, not a PDF", "application/pdf")},
    )
    assert response.status_code == 422
    assert "This kind of file cannot be used here." in response.text

    token = csrf_of(citizen.get(page))
    response = citizen.post(
        page,
        data={"action": "submit", "year_of_completion": "1900", "csrf_token": token},
        files={"file:degree": ("degree.pdf", PDF_BYTES, "application/pdf")},
    )
    assert response.status_code == 422
    text = response.text
    assert "There is a problem" in text
    assert 'id="error-university"' in text and 'id="error-year_of_completion"' in text
    draft = db.get(Application, application_id)
    assert draft is not None and draft.state == "draft"
    assert draft.answers["full_name"] == "Upload Tester"
    assert draft.answers["year_of_completion"] == "1900"  # kept as typed
    # The good file was kept even though the submission was refused.
    assert "degree.pdf" in citizen.get(page).text


def test_an_oversized_request_is_refused_before_it_is_read(app_client: TestClient) -> None:
    response = app_client.post(
        "/api/v1/auth/sign-in",
        content=b"x" * (11 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_an_unknown_service_is_a_clear_404(make_client: ClientFactory) -> None:
    browser = make_client()
    response = browser.get("/services/no-such-service")
    assert response.status_code == 404 and "Page not found" in response.text
    switch_to_urdu(browser)
    urdu = browser.get("/services/no-such-service")
    assert urdu.status_code == 404 and translate("ur", "Page not found") in urdu.text


def test_a_form_without_its_csrf_token_is_refused(app_client: TestClient) -> None:
    app_client.get("/sign-in")
    response = app_client.post("/sign-in", data={"cnic": "35202-1234567-1"})
    assert response.status_code == 403
    forged = app_client.post("/sign-in", data={"cnic": "35202-1234567-1", "csrf_token": "0" * 64})
    assert forged.status_code == 403


def test_a_form_with_files_keeps_its_csrf_token_out_of_the_address(
    app_client: TestClient,
) -> None:
    page = app_client.get("/verify")
    token = csrf_of(page)
    action = re.search(r'<form method="post" action="([^"]*)"[^>]*id="verify-form"', page.text)
    assert action is not None and action.group(1) == "/verify"
    assert all(token not in address for address in re.findall(r'action="([^"]*)"', page.text))
    picture = {"image": ("qr.png", b"not a picture", "image/png")}
    # A token that leaked through an address (a proxy's log, a browser's history) does
    # not admit the form: the token is read from the form itself.
    from_the_address = app_client.post("/verify", params={"csrf_token": token}, files=picture)
    assert from_the_address.status_code == 403
    from_the_form = app_client.post("/verify", data={"csrf_token": token}, files=picture)
    assert from_the_form.status_code == 422
    assert "No QR code could be read in that picture." in from_the_form.text


def broken_copy(tmp_path: Path) -> Path:
    catalogue = tmp_path / "catalogue"
    shutil.copytree(DEMO_CATALOGUE, catalogue)
    service = catalogue / "services" / "hec-degree-attestation.yaml"
    service.write_text(
        service.read_text(encoding="utf-8").replace("type: select", "type: dropdown", 1),
        encoding="utf-8",
    )
    return catalogue


def test_a_broken_catalogue_is_named_by_file_and_field(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["catalogue", "validate", str(broken_copy(tmp_path))])
    assert result.exit_code == 1
    assert "services/hec-degree-attestation.yaml" in result.output
    assert "fields[1].type" in result.output
    ok = CliRunner().invoke(main, ["catalogue", "validate", str(DEMO_CATALOGUE)])
    assert ok.exit_code == 0 and "Catalogue is valid" in ok.output


def test_the_server_refuses_to_start_on_a_broken_catalogue(
    tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(CatalogueError):
        create_app(settings.model_copy(update={"catalogue_dir": broken_copy(tmp_path)}))


def test_language_choice_is_remembered_and_urdu_is_right_to_left(
    make_client: ClientFactory,
) -> None:
    browser = make_client()
    assert 'lang="en" dir="ltr"' in browser.get("/").text
    switch_to_urdu(browser)
    for path in ("/", "/services", "/sign-in", "/services/hec-degree-attestation"):
        page = browser.get(path).text
        assert 'lang="ur" dir="rtl"' in page, path
    assert "ڈگری کی تصدیق" in browser.get("/services").text
    css = browser.get("/static/css/darwaza.css").text
    assert "Noto Nastaliq Urdu" in css
    font = browser.get("/static/fonts/noto-nastaliq-urdu-arabic-400.woff2")
    assert font.status_code == 200 and font.content[:4] == b"wOF2"
    back = post_form(browser, "/language", {"language": "en", "next": "/services"}, page="/")
    assert back.headers["location"] == "/services"
    assert 'lang="en"' in browser.get("/services").text


def test_pages_carry_security_headers(app_client: TestClient) -> None:
    headers = app_client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
