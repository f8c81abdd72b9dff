"""The JSON API: the same journeys as the pages, one error shape, a complete OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.audit.models import AuditEvent
from darwaza.settings import Settings
from tests.journeys import (
    PDF_BYTES,
    PNG_BYTES,
    authenticator_code,
    bank_client,
    bill_payment,
    create_officer,
    latest_code,
    run_jobs,
    statements,
)

ANSWERS = {
    "full_name": "Fatima Khan",
    "university": "university-of-karachi",
    "degree_title": "Master of Science",
    "programme": "Mathematics",
    "registration_number": "KU-2012-778",
    "year_of_completion": 2014,
    "date_of_birth": "1990-07-01",
}


def api_sign_up(client: TestClient, settings: Settings, cnic: str, mobile: str) -> dict[str, str]:
    challenge = client.post(
        "/api/v1/auth/sign-up", json={"cnic": cnic, "full_name": "API Citizen", "mobile": mobile}
    )
    assert challenge.status_code == 202, challenge.text
    e164 = "+92" + mobile[-10:]
    session = client.post(
        "/api/v1/auth/confirm",
        json={
            "challenge_token": challenge.json()["challenge_token"],
            "code": latest_code(settings, e164),
        },
    )
    assert session.status_code == 200, session.text
    return {"Authorization": f"Bearer {session.json()['session_token']}"}


def api_officer(
    client: TestClient, settings: Settings, db: Session, username: str, agency: str, mobile: str
) -> dict[str, str]:
    officer = create_officer(db, username=username, agency_id=agency, mobile=mobile)
    challenge = client.post(
        "/api/v1/auth/staff/sign-in", json={"username": username, "password": "officer-pass-123"}
    )
    assert challenge.status_code == 202, challenge.text
    session = client.post(
        "/api/v1/auth/confirm",
        json={
            "challenge_token": challenge.json()["challenge_token"],
            "code": authenticator_code(officer),
        },
    )
    return {"Authorization": f"Bearer {session.json()['session_token']}"}


def test_catalogue_lists_every_service(app_client: TestClient) -> None:
    services = app_client.get("/api/v1/services").json()
    ids = {service["id"] for service in services}
    assert {
        "hec-degree-attestation",
        "nadra-cnic-renewal",
        "nadra-family-registration-certificate",
    } <= ids
    found = app_client.get("/api/v1/services", params={"q": "ڈگری"}).json()
    assert found[0]["id"] == "hec-degree-attestation"
    missing = app_client.get("/api/v1/services/no-such-service")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_citizen_applies_through_the_api_and_a_retried_submit_counts_once(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    citizen = api_sign_up(app_client, settings, "42101-1234567-9", "03111234567")
    assert app_client.get("/api/v1/auth/me", headers=citizen).json()["cnic_masked"] == (
        "42101-*******-9"
    )
    created = app_client.post(
        "/api/v1/applications", headers=citizen, json={"service_id": "hec-degree-attestation"}
    )
    assert created.status_code == 201
    application_id = created.json()["id"]

    saved = app_client.patch(
        f"/api/v1/applications/{application_id}",
        headers=citizen,
        json={"answers": {**ANSWERS, "year_of_completion": "nineteen"}},
    )
    assert saved.status_code == 200
    assert "year_of_completion" in saved.json()["problems"]
    assert saved.json()["answers"]["year_of_completion"] == "nineteen"  # kept as typed

    early = app_client.post(f"/api/v1/applications/{application_id}/submit", headers=citizen)
    assert early.status_code == 422
    assert {"year_of_completion", "degree", "transcript"} <= set(early.json()["error"]["fields"])

    app_client.patch(
        f"/api/v1/applications/{application_id}", headers=citizen, json={"answers": ANSWERS}
    )
    for requirement, name, content in (
        ("degree", "degree.pdf", PDF_BYTES),
        ("transcript", "t.png", PNG_BYTES),
    ):
        uploaded = app_client.post(
            f"/api/v1/applications/{application_id}/attachments",
            headers=citizen,
            data={"requirement": requirement},
            files={"file": (name, content)},
        )
        assert uploaded.status_code == 201, uploaded.text

    key = {"Idempotency-Key": "submit-once-1"}
    first = app_client.post(f"/api/v1/applications/{application_id}/submit", headers=citizen | key)
    retry = app_client.post(f"/api/v1/applications/{application_id}/submit", headers=citizen | key)
    assert first.status_code == retry.status_code == 200
    assert first.json()["tracking_number"] == retry.json()["tracking_number"]
    assert [s["kind"] for s in retry.json()["timeline"]].count("submit_with_fee") == 1
    # The fee comes first: a PSID, paid at a bank, and the worker moves the case on.
    assert retry.json()["state"] == "awaiting_payment"
    payment = retry.json()["payment"]
    paid = bill_payment(bank_client(app_client), payment["psid"], payment["amount_paisa"])
    assert paid["Response_Code"] == "00"
    run_jobs(settings)

    officer = api_officer(app_client, settings, db, "hec.api", "hec", "03009990011")
    looks_before = db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("%.viewed"))
    )
    db.commit()
    queue = app_client.get("/api/v1/console/applications", headers=officer).json()
    assert application_id in [a["id"] for a in queue]
    # A queue is a list of summaries: nobody's answers are read without it being recorded.
    listed = next(a for a in queue if a["id"] == application_id)
    assert "answers" not in listed and "timeline" not in listed and "attachments" not in listed
    assert ANSWERS["registration_number"] not in str(queue)
    db.commit()
    assert looks_before == db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("%.viewed"))
    )
    db.commit()
    case = f"/api/v1/console/applications/{application_id}"
    assert app_client.post(f"{case}/approve", headers=officer, json={}).status_code == 409
    assert app_client.post(f"{case}/claim", headers=officer).status_code == 200
    asked = app_client.post(
        f"{case}/request-info", headers=officer, json={"message": "Which campus?"}
    )
    assert asked.json()["state"] == "info_requested"
    mine = app_client.get(f"/api/v1/applications/{application_id}", headers=citizen).json()
    assert mine["information_request"] == "Which campus?"
    app_client.post(
        f"/api/v1/applications/{application_id}/respond",
        headers=citizen,
        json={"message": "Main campus"},
    )
    app_client.post(f"{case}/claim", headers=officer)
    approved = app_client.post(f"{case}/approve", headers=officer, json={})
    assert approved.json()["state"] == "approved"

    other_agency = api_officer(app_client, settings, db, "nadra.api", "nadra", "03009990012")
    assert app_client.get(case, headers=other_agency).status_code == 404
    stranger = api_sign_up(app_client, settings, "42101-7654321-1", "03117654321")
    assert (
        app_client.get(f"/api/v1/applications/{application_id}", headers=stranger).status_code
        == 404
    )


def test_a_citizens_list_shows_each_application_as_it_reads_alone_in_a_few_statements(
    app_client: TestClient, settings: Settings
) -> None:
    citizen = api_sign_up(app_client, settings, "42101-2223334-5", "03112223334")
    path = "/api/v1/applications"
    assert app_client.get(path, headers=citizen).json() == []  # a new citizen's empty list
    submitted = app_client.post(
        path, headers=citizen, json={"service_id": "hec-degree-attestation"}
    )
    application = f"{path}/{submitted.json()['id']}"
    app_client.patch(application, headers=citizen, json={"answers": ANSWERS})
    for requirement, content in (("degree", PDF_BYTES), ("transcript", PNG_BYTES)):
        app_client.post(
            f"{application}/attachments",
            headers=citizen,
            data={"requirement": requirement},
            files={"file": (f"{requirement}.bin", content)},
        )
    assert app_client.post(f"{application}/submit", headers=citizen).status_code == 200

    def listed() -> tuple[list[dict[str, object]], int]:
        with statements() as sent:
            answer = app_client.get(path, headers=citizen)
        assert answer.status_code == 200
        return answer.json(), len(sent)

    _one, with_one = listed()
    others = ["nadra-cnic-renewal", "dgip-passport-renewal", "fbr-ntn-registration"]
    for service_id in others:
        app_client.post(path, headers=citizen, json={"service_id": service_id})
    items, with_four = listed()
    # Payment, attachments and timeline as each application's own answer shows them...
    assert items == [
        app_client.get(f"{path}/{item['id']}", headers=citizen).json() for item in items
    ]
    assert items[-1]["payment"]["state"] and len(items[-1]["attachments"]) == 2
    assert [item["service_id"] for item in items] == [*reversed(others), "hec-degree-attestation"]
    # ...read for the whole list at once: as many statements for four as for one.
    assert with_four == with_one


def test_errors_share_one_shape_in_the_readers_language(app_client: TestClient) -> None:
    english = app_client.post("/api/v1/auth/sign-in", json={"cnic": "123"})
    urdu = app_client.post(
        "/api/v1/auth/sign-in", json={"cnic": "123"}, headers={"Accept-Language": "ur"}
    )
    assert english.status_code == urdu.status_code == 422
    assert english.json()["error"]["fields"]["cnic"]["message"].startswith("Enter a valid CNIC")
    assert (
        english.json()["error"]["fields"]["cnic"]["message"]
        != (urdu.json()["error"]["fields"]["cnic"]["message"])
    )
    broken = app_client.post(
        "/api/v1/auth/sign-in", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "invalid_input"
    anonymous = app_client.get("/api/v1/applications")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_signed_in"


def test_cookie_sessions_need_a_csrf_token_for_the_api(app_client: TestClient) -> None:
    app_client.cookies.set("dz_session", "whatever")
    refused = app_client.post("/api/v1/applications", json={"service_id": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"


def test_openapi_documents_every_error_answer(app_client: TestClient) -> None:
    spec = app_client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "422"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)


def test_health_and_readiness(app_client: TestClient) -> None:
    assert app_client.get("/healthz").json() == {"status": "ok"}
    assert app_client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok"}}
