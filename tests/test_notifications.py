"""Notifications: every state change a citizen must know reaches them, once, in their language.

Texts land in the outbox file, e-mails on a real SMTP server (aiosmtpd) on localhost, and
in-app messages in the inbox page and API. The tests play the worker's part with
`deliver_due_messages` or, where time matters, `run_due_jobs` at a chosen moment.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import shutil
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from darwaza.app import create_app
from darwaza.background_work import job_registry
from darwaza.cli import main
from darwaza.clock import KARACHI, utcnow
from darwaza.database import transaction
from darwaza.identity.contact import recipient_of
from darwaza.identity.models import Citizen
from darwaza.jobs.models import Job, JobStatus
from darwaza.jobs.worker import run_due_jobs
from darwaza.notifications.models import (
    Channel,
    DeliveryStatus,
    FailureKind,
    Notification,
    Suppression,
)
from darwaza.notifications.service import notify
from darwaza.notifications.sms import DeliveryFailed, OutboxSmsGateway, install_sms_gateway
from darwaza.notifications.templates import TEMPLATES_DIR, TemplateError, load_templates
from darwaza.settings import Settings
from tests.factories import create_citizen
from tests.journeys import (
    ClientFactory,
    create_officer,
    csrf_of,
    deliver_due_messages,
    fill_and_submit,
    forget_settings,
    post_form,
    sign_in_officer,
    sign_up,
    sms_messages,
    start_degree_application,
)

MOBILE = "0345 1112233"
E164 = "+923451112233"


# A real SMTP server on localhost.


class Mailbox:
    """What the SMTP server received; ``answers`` are refusals it gives first, one per try."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.answers: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answers:
            return self.answers.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, mailbox: tuple[Mailbox, int]) -> Settings:
    """The worker's settings: e-mail over SMTP to the test's server."""
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": mailbox[1], "smtp_from": "noreply@gov.pk"}
    )


def _body(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _messages(db: Session, citizen_id: str, channel: Channel) -> list[Notification]:
    db.commit()  # a fresh snapshot
    db.expire_all()
    return list(
        db.scalars(
            select(Notification)
            .where(Notification.recipient_id == citizen_id, Notification.channel == channel)
            .order_by(Notification.created_at)
        )
    )


def _citizen(db: Session, mobile: str = E164) -> Citizen:
    db.commit()
    citizen = db.scalar(select(Citizen).where(Citizen.mobile == mobile))
    assert citizen is not None
    return citizen


# Each state change sends its message, in both languages.

WORDS = {
    "en": {"dear": "Dear", "received": "we received", "ready": "is in your Darwaza wallet"},
    "ur": {"dear": "محترم", "received": "موصول ہو گئے", "ready": "دروازہ والیٹ میں ہے"},
}


@pytest.mark.parametrize("language", ["en", "ur"])
def test_each_state_change_tells_the_citizen_in_their_language(
    make_client: ClientFactory, settings: Settings, db: Session, language: str
) -> None:
    words = WORDS[language]
    # Eight texts in a few seconds: more than a number is sent in an hour (tested apart).
    settings.sms_per_number_per_hour = 20
    browser = make_client()
    sign_up(browser, settings, cnic="35202-1112233-5", full_name="Ayesha Siddiqui", mobile=MOBILE)
    citizen = _citizen(db)
    # She reads messages in her language; the pages stay in English for the test's checks.
    db.execute(update(Citizen).where(Citizen.id == citizen.id).values(preferred_language=language))
    db.commit()
    browser.cookies.set("dz_lang", "en")

    first = start_degree_application(browser)
    tracking = fill_and_submit(browser, first, settings=settings)
    officer = make_client()
    sign_in_officer(
        officer,
        settings,
        create_officer(db, username="hec.notify", agency_id="hec", mobile="03009998877"),
        "officer-pass-123",
    )
    case = f"/console/applications/{first}"
    post_form(officer, f"{case}/claim", {}, page=case)
    asked = post_form(
        officer, f"{case}/request-info", {"message": "A clearer scan of the degree"}, page=case
    )
    assert asked.status_code == 303, asked.text
    answered = post_form(
        browser,
        f"/applications/{first}/respond",
        {"message": "Attached again"},
        page=f"/applications/{first}",
    )
    assert answered.status_code == 303, answered.text
    post_form(officer, f"{case}/claim", {}, page=case)
    rejected = post_form(
        officer, f"{case}/reject", {"reason": "Not in the university register"}, page=case
    )
    assert rejected.status_code == 303, rejected.text

    second = start_degree_application(browser)
    fill_and_submit(browser, second, settings=settings)
    case = f"/console/applications/{second}"
    post_form(officer, f"{case}/claim", {}, page=case)
    assert post_form(officer, f"{case}/approve", {}, page=case).status_code == 303
    db.commit()
    from darwaza.documents.models import Document

    document = db.scalar(select(Document).where(Document.application_id == second))
    assert document is not None
    page = f"/console/documents/{document.id}"
    revoked = post_form(officer, f"{page}/revoke", {"reason": "Issued in error"}, page=page)
    assert revoked.status_code == 303, revoked.text

    texts = [m["text"] for m in sms_messages(settings) if m["to"] == E164]
    # Each fee's PSID came by text too (it is what she types at a bank).
    challans = [text for text in texts if "PSID" in text]
    assert len(challans) == 2 and all("1,000" in text for text in challans), challans
    texts = [text for text in texts if "PSID" not in text]
    # The code, then what must reach her: the request, the refusal, the document, the revocation.
    assert len(texts) == 5, texts
    request, refusal, issued, revocation = texts[1:]
    assert words["dear"] in request and "A clearer scan of the degree" in request
    assert tracking in request
    assert "Not in the university register" in refusal and tracking in refusal
    assert words["ready"] in issued and f"/wallet/{document.id}" in issued
    assert f"/wallet/{document.id}" in revocation
    if language == "ur":
        assert "منسوخ" in revocation
    else:
        assert "revoked" in revocation

    inbox = _messages(db, citizen.id, Channel.INBOX)
    assert [m.event for m in inbox] == [
        "new_sign_in",
        "fee_due",
        "fee_paid",
        "information_requested",
        "application_rejected",
        "fee_due",
        "fee_paid",
        "document_issued",
        "document_revoked",
    ]
    challan, paid = inbox[1], inbox[2]
    assert tracking in challan.body and "PSID" in challan.body
    assert words["received"] in paid.body and tracking in paid.body
    # All but the sign-in, sent before she chose her language.
    assert all(m.language == language for m in inbox[1:])

    # The timeline of the application shows that a text went out, and that it arrived.
    timeline = browser.get(f"/applications/{first}").text
    assert "Messages we sent you" in timeline
    assert timeline.count("Text message") == 3  # the challan, the request, the refusal
    assert "delivered" in timeline


def test_the_inbox_page_and_api_show_messages_and_mark_them_read(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    browser = make_client()
    sign_up(browser, settings, cnic="35202-1112233-5", full_name="Ayesha Siddiqui", mobile=MOBILE)
    citizen = _citizen(db)
    with transaction(settings) as session:
        notify(
            session,
            settings=settings,
            recipient=recipient_of(session.get(Citizen, citizen.id)),  # type: ignore[arg-type]
            event="document_suspended",
            values={"name": "Ayesha", "document": "Degree Attestation", "link": "http://x/w"},
        )
    home = browser.get("/services").text
    assert 'class="badge">2<' in home  # the sign-in and the suspension, unread

    page = browser.get("/notifications")
    assert "Your Degree Attestation is suspended" in page.text
    assert "New sign-in to your Darwaza account" in page.text

    listed = browser.get("/api/v1/notifications").json()
    assert listed["unread"] == 2
    newest = listed["notifications"][0]
    assert newest["subject"] == "Your Degree Attestation is suspended"
    assert newest["read_at"] is None
    token = csrf_of(page)
    read = browser.post(
        f"/api/v1/notifications/{newest['id']}/read", headers={"X-CSRF-Token": token}
    )
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert browser.get("/api/v1/notifications").json()["unread"] == 1

    other = listed["notifications"][1]["id"]
    marked = browser.post(
        f"/notifications/{other}/read", data={"csrf_token": token}, follow_redirects=False
    )
    assert marked.status_code == 303
    assert browser.get("/api/v1/notifications").json()["unread"] == 0
    assert 'class="badge"' not in browser.get("/services").text

    stranger = make_client()
    sign_up(stranger, settings, cnic="35202-2223344-7", full_name="Other", mobile="0345 2223344")
    listed_by_stranger = stranger.get("/api/v1/notifications").json()
    assert newest["id"] not in json.dumps(listed_by_stranger)
    refused = stranger.post(
        f"/api/v1/notifications/{newest['id']}/read",
        headers={"X-CSRF-Token": csrf_of(stranger.get("/notifications"))},
    )
    assert refused.status_code == 404


# E-mail over real SMTP.


def test_a_confirmed_email_address_receives_the_messages_over_smtp(
    make_client: ClientFactory,
    settings: Settings,
    mail_settings: Settings,
    mailbox: tuple[Mailbox, int],
    db: Session,
) -> None:
    box, _port = mailbox
    browser = make_client()
    sign_up(browser, settings, cnic="35202-1112233-5", full_name="Ayesha Siddiqui", mobile=MOBILE)
    asked = post_form(browser, "/account/email", {"email": "ayesha@example.pk"}, page="/account")
    assert asked.status_code == 200
    assert "We sent a link to that address" in asked.text
    deliver_due_messages(mail_settings)
    [confirmation] = box.received
    assert confirmation["To"] == "ayesha@example.pk"
    assert confirmation["Subject"] == "Confirm your e-mail address for Darwaza"
    link = re.search(r"http://127\.0\.0\.1:8000(/account/email/[\w-]+)", _body(confirmation))
    assert link, _body(confirmation)
    assert browser.get("/account/email/not-the-token").status_code == 404
    opened = browser.get(link.group(1))
    assert opened.status_code == 200 and "Your e-mail address is confirmed" in opened.text
    assert "ayesha@example.pk" in browser.get("/account").text

    application = start_degree_application(browser)
    # The worker that runs the payment's jobs sends mail through the SMTP server too.
    tracking = fill_and_submit(browser, application, settings=mail_settings)
    deliver_due_messages(mail_settings)
    # The challan (what to pay, and the PSID), then the payment received.
    assert len(box.received) == 3
    challan, received = box.received[1], box.received[2]
    assert challan["To"] == "ayesha@example.pk"
    assert challan["Subject"] == f"Pay Rs 1,000 for application {tracking}"
    assert "Dear Ayesha Siddiqui" in _body(challan) and "PSID" in _body(challan)
    assert received["Subject"] == "We received your payment of Rs 1,000"
    assert tracking in _body(received)
    rows = [
        m for m in _messages(db, _citizen(db).id, Channel.EMAIL) if m.event != "email_confirmation"
    ]
    assert [row.event for row in rows] == ["fee_due", "fee_paid"]
    for row in rows:
        assert row.status is DeliveryStatus.DELIVERED and row.attempts == 1
        assert row.provider_id and row.id in row.provider_id  # the Message-ID we gave the relay


def test_an_smtp_server_refusing_three_times_then_accepting_delivers_exactly_once(
    settings: Settings, mail_settings: Settings, mailbox: tuple[Mailbox, int], db: Session
) -> None:
    box, _port = mailbox
    box.answers = ["451 4.3.0 Try again later"] * 3
    citizen = create_citizen(db, mobile="03451112233")
    citizen.email, citizen.notify_by_email = "ayesha@example.pk", True
    db.commit()
    with transaction(settings) as session:
        notify(
            session,
            settings=settings,
            recipient=recipient_of(session.get(Citizen, citizen.id)),  # type: ignore[arg-type]
            event="document_revoked",
            values={"name": "Ayesha", "document": "Domicile Certificate", "link": "http://x/w"},
        )
    now = utcnow()
    for minutes in range(0, 200, 5):  # well past each back-off
        run_due_jobs(
            mail_settings, job_registry(mail_settings), now=now + timedelta(minutes=minutes)
        )
    assert len(box.received) == 1
    assert box.received[0]["Subject"] == "Your Domicile Certificate is revoked"
    [row] = _messages(db, citizen.id, Channel.EMAIL)
    assert (row.status, row.attempts, row.failure) == (DeliveryStatus.DELIVERED, 4, None)


def test_a_hard_bounce_is_not_retried_and_the_address_gets_nothing_more(
    settings: Settings, mail_settings: Settings, mailbox: tuple[Mailbox, int], db: Session
) -> None:
    box, _port = mailbox
    box.answers = ["550 5.1.1 No such user here"]
    citizen = create_citizen(db, mobile="03451112233")
    citizen.email, citizen.notify_by_email = "gone@example.pk", True
    db.commit()
    values = {"name": "Ayesha", "document": "Domicile Certificate", "link": "http://x/w"}
    for event in ("document_suspended", "document_revoked"):
        with transaction(settings) as session:
            notify(
                session,
                settings=settings,
                recipient=recipient_of(session.get(Citizen, citizen.id)),  # type: ignore[arg-type]
                event=event,
                values=values,
            )
        for minutes in range(0, 120, 10):
            run_due_jobs(
                mail_settings,
                job_registry(mail_settings),
                now=utcnow() + timedelta(minutes=minutes),
            )
    assert box.received == []
    assert box.answers == []  # the server was asked once, for the first message only
    first, second = _messages(db, citizen.id, Channel.EMAIL)
    assert (first.status, first.failure, first.attempts) == (
        DeliveryStatus.FAILED,
        FailureKind.PERMANENT,
        1,
    )
    assert (second.status, second.failure, second.attempts) == (
        DeliveryStatus.FAILED,
        FailureKind.PERMANENT,
        0,
    )
    assert db.get(Suppression, "gone@example.pk") is not None
    dead = db.scalars(select(Job).where(Job.status == JobStatus.DEAD)).all()
    assert [job.attempts for job in dead] == [1]
    # The texts still go out: the number did not bounce.
    assert len([m for m in sms_messages(settings) if m["to"] == "+923451112233"]) == 2


# SMS: retries, delivery reports, quiet hours.


class FlakySms:
    """A provider that times out ``failures`` times, then accepts (and reports later)."""

    reports_delivery = True

    def __init__(self, outbox: OutboxSmsGateway, failures: int) -> None:
        self.outbox, self.failures, self.calls = outbox, failures, 0

    def send(self, *, to: str, text: str, message_id: str | None = None) -> str | None:
        self.calls += 1
        if self.calls <= self.failures:
            raise TimeoutError("the provider did not answer")
        self.outbox.send(to=to, text=text, message_id=message_id)
        return f"provider-{message_id}"


class RefusingSms:
    reports_delivery = False

    def send(self, *, to: str, text: str, message_id: str | None = None) -> str | None:
        raise DeliveryFailed("invalid number", permanent=True)


def _tell_revoked(settings: Settings, citizen_id: str, *, now: datetime | None = None) -> str:
    with transaction(settings) as session:
        [*_, text] = notify(
            session,
            settings=settings,
            recipient=recipient_of(session.get(Citizen, citizen_id)),  # type: ignore[arg-type]
            event="document_revoked",
            values={"name": "Ayesha", "document": "Domicile Certificate", "link": "http://x/w"},
            now=now,
        )
        return text.id


def test_a_provider_failing_three_times_then_succeeding_delivers_once_and_reports_back(
    settings: Settings, db: Session
) -> None:
    citizen = create_citizen(db, mobile="03451112233")
    db.commit()
    flaky = FlakySms(OutboxSmsGateway(settings.outbox_dir), failures=3)
    install_sms_gateway(settings, flaky)
    secret = "a-callback-secret-shared-with-the-provider"
    signed = settings.model_copy(update={"sms_callback_secret": secret})
    try:
        text_id = _tell_revoked(settings, citizen.id)
        now = utcnow()
        for minutes in range(0, 200, 5):
            run_due_jobs(settings, job_registry(settings), now=now + timedelta(minutes=minutes))
    finally:
        install_sms_gateway(settings, None)
    assert flaky.calls == 4
    sent = [m for m in sms_messages(settings, deliver=False) if m["to"] == "+923451112233"]
    assert len(sent) == 1 and "revoked" in sent[0]["text"]
    db.commit()
    db.expire_all()
    row = db.get(Notification, text_id)
    assert row is not None
    # Handed over and waiting for the provider's report.
    assert (row.status, row.attempts, row.provider_id) == (
        DeliveryStatus.SENDING,
        4,
        f"provider-{text_id}",
    )

    with TestClient(create_app(signed), base_url="http://127.0.0.1:8000") as provider:
        body = json.dumps({"provider_id": f"provider-{text_id}", "status": "delivered"}).encode()
        forged = hmac.new(b"a-guess", body, hashlib.sha256).hexdigest()
        refused = provider.post(
            "/api/v1/notifications/sms-status",
            content=body,
            headers={"X-Darwaza-Signature": forged, "Content-Type": "application/json"},
        )
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "bad_signature"
        db.commit()
        db.expire_all()
        assert db.get(Notification, text_id).status is DeliveryStatus.SENDING  # type: ignore[union-attr]
        good = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        accepted = provider.post(
            "/api/v1/notifications/sms-status",
            content=body,
            headers={"X-Darwaza-Signature": good, "Content-Type": "application/json"},
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"id": text_id, "status": "delivered"}
    db.commit()
    db.expire_all()
    assert db.get(Notification, text_id).status is DeliveryStatus.DELIVERED  # type: ignore[union-attr]


def test_without_a_secret_every_delivery_report_is_refused(app_client: TestClient) -> None:
    body = b'{"provider_id": "x", "status": "delivered"}'
    answer = app_client.post(
        "/api/v1/notifications/sms-status",
        content=body,
        headers={"X-Darwaza-Signature": hmac.new(b"", body, hashlib.sha256).hexdigest()},
    )
    assert answer.status_code == 401


def test_an_invalid_number_is_not_retried_and_gets_nothing_more(
    settings: Settings, db: Session
) -> None:
    citizen = create_citizen(db, mobile="03451112233")
    db.commit()
    install_sms_gateway(settings, RefusingSms())
    try:
        first = _tell_revoked(settings, citizen.id)
        deliver_due_messages(settings)
        second = _tell_revoked(settings, citizen.id)
        deliver_due_messages(settings)
    finally:
        install_sms_gateway(settings, None)
    db.commit()
    db.expire_all()
    for text_id, attempts in ((first, 1), (second, 0)):
        row = db.get(Notification, text_id)
        assert row is not None
        assert (row.status, row.failure, row.attempts) == (
            DeliveryStatus.FAILED,
            FailureKind.PERMANENT,
            attempts,
        )


def test_quiet_hours_delay_a_message_until_morning_but_not_a_code(
    settings: Settings, db: Session
) -> None:
    quiet = settings.model_copy(update={"quiet_hours": "22:00-08:00"})
    citizen = create_citizen(db, mobile="03451112233")
    db.commit()
    late = datetime(2026, 12, 1, 23, 30, tzinfo=KARACHI).astimezone(utcnow().tzinfo)
    _tell_revoked(quiet, citizen.id, now=late)
    from darwaza.notifications.jobs import send_sms_later

    with transaction(quiet) as session:
        send_sms_later(
            session, to="+923451112233", text="Your code is 135790", urgent=True, now=late
        )
    run_due_jobs(quiet, job_registry(quiet), now=late + timedelta(seconds=1))
    texts = [m["text"] for m in sms_messages(quiet, deliver=False)]
    assert texts == ["Your code is 135790"]  # the code went; the news waits

    morning = datetime(2026, 12, 2, 8, 0, tzinfo=KARACHI)
    run_due_jobs(quiet, job_registry(quiet), now=morning - timedelta(minutes=1))
    assert len(sms_messages(quiet, deliver=False)) == 1
    run_due_jobs(quiet, job_registry(quiet), now=morning + timedelta(minutes=1))
    texts = [m["text"] for m in sms_messages(quiet, deliver=False)]
    assert len(texts) == 2 and "revoked" in texts[1]


# Templates are checked at start-up.


def _broken_templates(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, folder)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_placeholder_the_event_does_not_supply_stops_the_app_and_the_worker(
    settings: Settings, tmp_path: Path
) -> None:
    original = (TEMPLATES_DIR / "document_revoked.yaml").read_text(encoding="utf-8")
    folder = _broken_templates(
        tmp_path, "document_revoked.yaml", original.replace("{document}", "{amount}", 1)
    )
    broken = settings.model_copy(update={"notification_templates_dir": folder})
    with pytest.raises(TemplateError, match=r"document_revoked\.yaml: en\.subject uses \{amount\}"):
        create_app(broken)
    forget_settings()  # the worker reads the environment below, not an earlier test's
    result = CliRunner().invoke(
        main,
        ["worker"],
        env={
            "DARWAZA_NOTIFICATION_TEMPLATES_DIR": str(folder),
            "DARWAZA_DATABASE_URL": settings.resolved_database_url,
            "DARWAZA_ENV": "development",
        },
    )
    forget_settings()
    assert result.exit_code != 0
    assert "document_revoked.yaml" in result.output and "{amount}" in result.output


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("en: [not, a, mapping\n", "not readable YAML"),
        ("en:\n  subject: Hello\n  text: Hi {name\nur:\n  subject: x\n  text: y\n", "malformed"),
        ("en:\n  subject: Hello\n  text: Hi\n", "ur is missing"),
    ],
)
def test_a_malformed_template_is_named_with_its_field(
    tmp_path: Path, text: str, complaint: str
) -> None:
    folder = _broken_templates(tmp_path, "new_sign_in.yaml", text)
    with pytest.raises(TemplateError, match=r"new_sign_in\.yaml") as raised:
        load_templates(folder)
    assert complaint in str(raised.value)


def test_a_missing_value_sends_nothing_at_all(settings: Settings, db: Session) -> None:
    citizen = create_citizen(db, mobile="03451112233")
    db.commit()
    with pytest.raises(TemplateError, match="document"), transaction(settings) as session:
        notify(
            session,
            settings=settings,
            recipient=recipient_of(session.get(Citizen, citizen.id)),  # type: ignore[arg-type]
            event="document_revoked",
            values={"name": "Ayesha", "link": "http://x/w"},
        )
    assert _messages(db, citizen.id, Channel.INBOX) == []
    assert db.scalars(select(Job)).all() == []


def test_removing_a_citizens_passkeys_tells_them_by_sms(settings: Settings, db: Session) -> None:
    from darwaza.audit.actors import Actor
    from darwaza.identity.passkeys import remove_passkeys

    citizen = create_citizen(db, full_name="Ayesha Bibi", mobile="03451112233")
    db.commit()
    with transaction(settings) as session:
        holder = session.get(Citizen, citizen.id)
        assert holder is not None
        remove_passkeys(session, settings=settings, citizen=holder, actor=Actor.operator())
    [text] = [m["text"] for m in sms_messages(settings) if m["to"] == "+923451112233"]
    assert text.startswith("Dear Ayesha Bibi, every passkey of your Darwaza account was removed")
    [inbox] = _messages(db, citizen.id, Channel.INBOX)
    assert inbox.event == "passkeys_removed"


def test_texts_past_the_hourly_cap_of_a_number_wait_and_are_not_lost(
    settings: Settings, db: Session
) -> None:
    capped = settings.model_copy(update={"sms_per_number_per_hour": 1})
    citizen = create_citizen(db, mobile="03451112233")
    db.commit()
    first, second = _tell_revoked(capped, citizen.id), _tell_revoked(capped, citizen.id)
    for _ in range(3):
        run_due_jobs(capped, job_registry(capped))
    assert len(sms_messages(capped, deliver=False)) == 1
    db.commit()
    db.expire_all()
    waiting = db.get(Notification, second)
    assert waiting is not None and waiting.status is DeliveryStatus.CREATED
    assert waiting.last_error is not None and "hourly cap" in waiting.last_error
    assert waiting.attempts == 0  # waiting is not a failed attempt
    assert db.get(Notification, first).status is DeliveryStatus.DELIVERED  # type: ignore[union-attr]
    # An hour passes: the first text leaves the window.
    an_hour_ago = utcnow() - timedelta(hours=1, minutes=1)
    db.execute(update(Notification).where(Notification.id == first).values(sent_at=an_hour_ago))
    db.commit()
    run_due_jobs(capped, job_registry(capped), now=utcnow() + timedelta(hours=1, minutes=1))
    db.expire_all()
    assert db.get(Notification, second).status is DeliveryStatus.DELIVERED  # type: ignore[union-attr]
    assert len(sms_messages(capped, deliver=False)) == 2


def test_officers_get_a_daily_digest_of_their_agencys_overdue_applications(
    settings: Settings, db: Session
) -> None:
    from darwaza.applications.digest import OVERDUE_DIGEST
    from darwaza.applications.models import Application
    from darwaza.applications.workflow import ApplicationState
    from darwaza.jobs.worker import enqueue_scheduled
    from tests.factories import create_application, create_staff

    [schedule] = [s for s in job_registry(settings).schedules if s.kind == OVERDUE_DIGEST]
    assert schedule.every == timedelta(days=1)
    citizen = create_citizen(db, mobile="03451112233")
    create_staff(db, settings, username="hec.reviewer")
    create_staff(db, settings, username="nadra.reviewer", agency_id="nadra")
    for _ in range(2):
        application = create_application(db, settings, citizen=citizen)
        db.execute(
            update(Application)
            .where(Application.id == application.id)
            .values(state=ApplicationState.SUBMITTED, due_at=utcnow() - timedelta(days=2))
        )
    db.commit()
    with transaction(settings) as session:
        enqueue_scheduled(session, schedule, now=utcnow())
        enqueue_scheduled(session, schedule, now=utcnow())  # a second worker's clock: no double
    texts = [m for m in sms_messages(settings) if m["to"] == "+923001239998"]
    assert [m["text"] for m in texts] == [
        "Dear Hec.Reviewer, 2 applications in your agency's queue are past their due date. "
        "Open the queue: http://127.0.0.1:8000/console?overdue=1"
    ]


class DownSms:
    """A provider that never answers."""

    reports_delivery = False

    def send(self, *, to: str, text: str, message_id: str | None = None) -> str | None:
        raise TimeoutError("the provider is down")


def test_sign_in_answers_alike_with_the_provider_down_for_known_and_unknown_cnics(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    create_citizen(db, cnic="35202-1112233-5", mobile="03451112233")
    db.commit()
    install_sms_gateway(settings, DownSms())
    try:
        answers = [
            app_client.post("/api/v1/auth/sign-in", json={"cnic": cnic})
            for cnic in ("35202-1112233-5", "35202-9998877-1")
        ]
        # One pass of the worker meets the provider's silence. (A second pass could retry
        # at once: the back-off's full jitter starts at zero.)
        run_due_jobs(settings, job_registry(settings))
    finally:
        install_sms_gateway(settings, None)
    assert [answer.status_code for answer in answers] == [202, 202]
    assert [sorted(answer.json()) for answer in answers] == [["challenge_token", "expires_at"]] * 2
    db.commit()
    [code_job] = db.scalars(select(Job)).all()  # only the known CNIC's code, queued
    assert code_job.status is JobStatus.QUEUED and code_job.attempts == 1
    assert "TimeoutError" in (code_job.last_error or "")
