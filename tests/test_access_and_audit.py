"""Tokens for agency systems, sessions a person controls, staff looks the citizen can see,
and an audit trail that a rewritten history cannot fool."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from darwaza.audit.models import AuditEvent
from darwaza.audit.trail import event_hash
from darwaza.cli import main
from darwaza.clock import utcnow
from darwaza.documents.models import Document
from darwaza.identity.models import ApiToken, StaffMember, UserSession
from darwaza.settings import Settings
from tests.journeys import (
    ClientFactory,
    authenticator_code,
    create_officer,
    csrf_of,
    fill_and_submit,
    forget_settings,
    post_form,
    sign_in_officer,
    sign_up,
    sms_messages,
    staff_browser,
    start_degree_application,
)


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DARWAZA_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DARWAZA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DARWAZA_BASE_URL", settings.base_url)
    monkeypatch.setenv("DARWAZA_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("DARWAZA_KEY_SEALING_SECRET", settings.key_sealing_secret)
    forget_settings()
    yield CliRunner()
    forget_settings()


def make_token(cli: CliRunner, scopes: str) -> tuple[str, str]:
    created = cli.invoke(
        main,
        [
            "tokens",
            "create",
            "--agency",
            "hec",
            "--name",
            "Registry",
            "--scopes",
            scopes,
            "--days",
            "30",
        ],
    )
    assert created.exit_code == 0, created.output
    lines = created.output.strip().splitlines()
    return lines[0].split()[1], lines[-1]


def degree_for_registry_graduate(year: object) -> dict[str, object]:
    """What a university's system sends to issue one degree attestation."""
    return {
        "document_type": "hec-degree-attestation",
        "cnic": "35202-9090909-1",
        "claims": {
            "full_name": "Registry Graduate",
            "degree_title": "BS",
            "programme": "CS",
            "university": "LUMS",
            "year_of_completion": year,
        },
    }


@pytest.mark.parametrize("year", ["NaN", "Infinity", "-inf"])
def test_a_year_that_is_not_a_number_is_refused_and_nothing_is_issued(
    cli: CliRunner, app_client: TestClient, db: Session, year: str
) -> None:
    _token_id, secret = make_token(cli, "documents:issue")
    answer = app_client.post(
        "/api/v1/documents",
        json=degree_for_registry_graduate(year),
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert answer.status_code == 422, answer.text
    assert "year_of_completion" in answer.json()["error"]["fields"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Document)) == 0


def test_an_agency_system_issues_with_a_scoped_token_until_it_is_revoked(
    cli: CliRunner, app_client: TestClient, db: Session
) -> None:
    token_id, secret = make_token(cli, "documents:issue")
    assert secret.startswith("dzt_")
    stored = db.get(ApiToken, token_id)
    assert stored is not None and secret not in stored.token_hash
    bearer = {"Authorization": f"Bearer {secret}"}
    body = degree_for_registry_graduate(2021)
    key = {"Idempotency-Key": "row-17"}
    first = app_client.post("/api/v1/documents", json=body, headers=bearer | key)
    again = app_client.post("/api/v1/documents", json=body, headers=bearer | key)
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"]
    document_id = first.json()["id"]

    # The token may issue but not revoke.
    refused = app_client.post(
        f"/api/v1/documents/{document_id}/revoke", json={"reason": "x"}, headers=bearer
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"

    db.commit()
    db.expire_all()
    used = db.get(ApiToken, token_id)
    assert used is not None and used.last_used_at is not None
    uses = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "api_token.used", AuditEvent.object_id == token_id
        )
    ).all()
    assert len(uses) >= 2

    assert cli.invoke(main, ["tokens", "revoke", token_id]).exit_code == 0
    gone = app_client.post("/api/v1/documents", json=body, headers=bearer)
    assert gone.status_code == 401


def test_sign_out_everywhere_ends_every_session(
    make_client: ClientFactory, settings: Settings
) -> None:
    phone = make_client()
    sign_up(phone, settings, cnic="35202-7070707-7", full_name="Two Devices", mobile="0332 7070707")
    laptop = make_client()
    post_form(laptop, "/sign-in", {"cnic": "35202-7070707-7"})
    code = sms_messages(settings)[-1]["text"].split("code is ")[1][:6]
    assert post_form(laptop, "/sign-in/code", {"code": code}).status_code == 303
    page = phone.get("/account")
    assert page.text.count("Sign out there") == 2
    assert post_form(phone, "/account/sessions/end-all", {}, page="/account").status_code == 303
    for device in (phone, laptop):
        assert device.get("/applications", follow_redirects=False).status_code == 303


def test_citizen_sees_which_officer_opened_their_application(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(
        citizen, settings, cnic="35202-8080808-8", full_name="Watched Person", mobile="0333 8080808"
    )
    application_id = start_degree_application(citizen)
    fill_and_submit(citizen, application_id, settings=settings)
    officer_row = create_officer(db, username="hec.looker", agency_id="hec", mobile="03009990099")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    assert "Nobody has opened your records yet." in citizen.get("/account").text
    officer.get(f"/console/applications/{application_id}")
    account = citizen.get("/account").text
    assert "Hec.Looker" in account and "opened an application" in account


def test_a_rewritten_audit_chain_is_caught_by_the_signed_checkpoint(
    cli: CliRunner, db: Session, app_client: TestClient
) -> None:
    app_client.get("/trust-bundle")  # makes keys: a few audit events
    assert cli.invoke(main, ["audit", "checkpoint"]).exit_code == 0
    assert cli.invoke(main, ["audit", "verify"]).exit_code == 0
    # An insider edits the first event and recomputes every hash after it.
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.sequence.is_not(None)).order_by(AuditEvent.sequence)
    ).all()
    previous = "0" * 64
    for index, event in enumerate(events):
        action = "agency.renamed" if index == 0 else event.action
        digest = event_hash(
            previous_hash=previous,
            event_id=event.sequence or 0,
            at=event.at,
            actor_kind=event.actor_kind,
            actor_id=event.actor_id,
            action=action,
            object_type=event.object_type,
            object_id=event.object_id,
            before=event.before,
            after=event.after,
            subject_id=event.subject_id,
        )
        db.execute(
            text(
                "UPDATE audit_events SET action = :a, previous_hash = :p, "
                "event_hash = :h WHERE id = :i"
            ),
            {"a": action, "p": previous, "h": digest, "i": event.id},
        )
        previous = digest
    db.execute(text("UPDATE audit_chain_head SET last_hash = :h"), {"h": previous})
    db.commit()
    result = cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert "rewritten" in result.output


def test_deleting_checkpoints_from_the_database_is_caught_by_the_anchored_copies(
    cli: CliRunner, db: Session, app_client: TestClient
) -> None:
    app_client.get("/trust-bundle")  # makes keys: a few audit events
    assert cli.invoke(main, ["audit", "checkpoint"]).exit_code == 0
    verified = cli.invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0
    assert "Every event is covered by a checkpoint anchored outside the database." in (
        verified.output
    )
    published = app_client.get("/transparency/checkpoints")
    assert published.status_code == 200
    assert published.text.count('{"checkpoint": "ey') == 1  # a witness can mirror it

    app_client.get("/agencies/hec/jwks.json")  # nothing new: reading writes no event
    app_client.get("/api/v1/services")
    rotated = cli.invoke(main, ["keys", "rotate", "--agency", "hec"])
    assert rotated.exit_code == 0
    later = cli.invoke(main, ["audit", "verify"])
    assert later.exit_code == 0
    assert "not yet covered by a checkpoint anchored outside the database" in later.output

    # An insider deletes the checkpoints from the database to hide a rewrite.
    db.execute(text("DELETE FROM audit_checkpoints"))
    db.commit()
    result = cli.invoke(main, ["audit", "verify"])
    assert result.exit_code == 1
    assert "was deleted from the database" in result.output


def test_secrets_never_reach_the_logs(
    make_client: ClientFactory,
    settings: Settings,
    db: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    citizen = make_client()
    sign_up(
        citizen, settings, cnic="35202-1357913-5", full_name="Private Person", mobile="0334 1357913"
    )
    application_id = start_degree_application(citizen)
    fill_and_submit(citizen, application_id, settings=settings)
    codes = [m["text"] for m in sms_messages(settings) if "code is " in m["text"]]
    code = codes[-1].split("code is ")[1][:6]
    session_token = citizen.cookies.get("dz_session") or ""
    logged = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    for secret in (
        "3520213579135",
        "35202-1357913-5",
        code,
        session_token,
        hashlib.sha256(session_token.encode()).hexdigest(),
    ):
        assert secret and secret not in logged
    assert csrf_of(citizen.get("/account"))


def test_staff_need_their_authenticator_and_a_code_works_once(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    browser = make_client()  # starting the app brings the catalogue's agencies in
    officer = create_officer(db, username="hec.totp", agency_id="hec", mobile="03009990077")
    sent_before = len(sms_messages(settings))
    asked = post_form(
        browser, "/console/sign-in", {"username": "hec.totp", "password": "officer-pass-123"}
    )
    assert asked.status_code == 303
    assert len(sms_messages(settings)) == sent_before  # no text message for staff
    code = authenticator_code(officer)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert post_form(browser, "/console/sign-in/code", {"code": wrong}).status_code == 400
    assert post_form(browser, "/console/sign-in/code", {"code": code}).status_code == 303

    # The same code cannot sign in a second browser (replay).
    other = make_client()
    post_form(other, "/console/sign-in", {"username": "hec.totp", "password": "officer-pass-123"})
    assert post_form(other, "/console/sign-in/code", {"code": code}).status_code == 400

    # A disabled officer's session stops working at once.
    db.commit()
    officer_row = db.get(StaffMember, officer.id)
    assert officer_row is not None
    officer_row.disabled_at = utcnow()
    db.commit()
    assert browser.get("/console", follow_redirects=False).status_code == 303
    wrong_password = post_form(
        make_client(), "/console/sign-in", {"username": "hec.totp", "password": "officer-pass-123"}
    )
    assert wrong_password.status_code == 422


def test_share_secrets_are_kept_out_of_the_access_log(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="darwaza.access")
    app_client.get("/s/a-secret-share-token")
    app_client.get("/api/v1/shares/another-secret-token")
    assert "a-secret-share-token" not in caplog.text
    assert "another-secret-token" not in caplog.text
    assert "GET /s/… 404" in caplog.text


def test_other_peoples_shares_sessions_and_tokens_answer_404(
    make_client: ClientFactory, settings: Settings, db: Session, cli: CliRunner
) -> None:
    stranger = make_client()
    sign_up(stranger, settings, cnic="35202-1122334-4", full_name="Stranger", mobile="0337 1122334")
    owner = make_client()
    sign_up(owner, settings, cnic="35202-5566778-8", full_name="Owner", mobile="0338 5566778")
    owner_session = owner.get("/account").text.split("/account/sessions/")[1].split("/end")[0]
    assert (
        post_form(
            stranger, f"/account/sessions/{owner_session}/end", {}, page="/account"
        ).status_code
        == 404
    )
    assert owner.get("/account").status_code == 200  # still signed in
    assert (
        post_form(
            stranger, "/wallet/shares/00000000-0000-4000-8000-000000000000/end", {}, page="/account"
        ).status_code
        == 404
    )
    token_id, _secret = make_token(cli, "documents:issue")
    nadra_admin = staff_browser(
        make_client, settings, db, username="x.nadraadmin", role="agency_admin", agency_id="nadra"
    )
    assert (
        post_form(nadra_admin, f"/admin/tokens/{token_id}/revoke", {}, page="/admin").status_code
        == 404
    )


def test_a_session_id_brought_by_the_browser_is_never_kept(
    make_client: ClientFactory, settings: Settings
) -> None:
    browser = make_client()
    browser.cookies.set("dz_session", "attacker-chosen-session-id", domain="127.0.0.1", path="/")
    sign_up(
        browser,
        settings,
        cnic="35202-2323232-3",
        full_name="Fixation Target",
        mobile="0339 2323232",
    )
    assert browser.cookies.get("dz_session") not in (None, "attacker-chosen-session-id")


def test_an_idle_session_ends(make_client: ClientFactory, settings: Settings, db: Session) -> None:
    browser = make_client()
    sign_up(
        browser, settings, cnic="35202-3434343-4", full_name="Idle Person", mobile="0339 3434343"
    )
    assert browser.get("/applications", follow_redirects=False).status_code == 200
    db.commit()
    for session in db.scalars(select(UserSession)):
        session.last_seen_at -= timedelta(minutes=settings.citizen_session_idle_minutes + 1)
    db.commit()
    assert browser.get("/applications", follow_redirects=False).status_code == 303


def test_the_worker_chains_events_and_signs_checkpoints_by_itself(
    settings: Settings, db: Session, app_client: TestClient
) -> None:
    from darwaza.agencies.jobs import register_audit_jobs
    from darwaza.audit.models import AuditCheckpoint
    from darwaza.jobs.registry import JobRegistry
    from darwaza.jobs.worker import Worker

    app_client.get("/trust-bundle")  # a few events: nothing chains them in the request
    db.commit()
    waiting = select(AuditEvent).where(AuditEvent.sequence.is_(None))
    assert db.scalars(waiting).first() is not None
    quick = settings.model_copy(
        update={"audit_checkpoint_minutes": 0.005, "audit_sequence_seconds": 0.2}
    )
    registry = JobRegistry()
    register_audit_jobs(registry, quick)
    worker = Worker(quick, registry, concurrency=1, worker_id="clock", housekeeping_every=0.1)
    running = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    running.start()
    try:
        deadline = time.monotonic() + 15
        while not db.scalars(select(AuditCheckpoint)).first():
            db.commit()
            assert time.monotonic() < deadline, "no checkpoint was signed"
            time.sleep(0.1)
    finally:
        worker.stop()
        running.join(timeout=30)
    db.commit()
    assert db.scalars(waiting).first() is None
