"""Steps of the journeys, taken through HTTP as a browser would (forms, CSRF, cookies)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.background_work import job_registry
from darwaza.catalogue.loading import load_catalogue
from darwaza.demo.accounts import load_demo_data
from darwaza.documents.models import Document
from darwaza.identity.models import StaffMember
from darwaza.identity.proofing import SimRegistryFile, demo_sim_registry
from darwaza.identity.staff import create_staff_member
from darwaza.jobs.worker import run_due_jobs
from darwaza.numbers import parse_cnic, parse_mobile
from darwaza.settings import Settings, get_settings, get_verifier_settings

TEST_SECRET = "test-secret-key-with-enough-length-0123456789"
TEST_SEALING = TEST_SECRET + "-sealing"
DEGREE = "hec-degree-attestation"
STAFF_PASSWORD = "a-long-staff-password"
GOOD_ANSWERS = {
    "full_name": "Fatima Khan",
    "university": "university-of-the-punjab",
    "degree_title": "Bachelor of Science (Honours)",
    "programme": "Computer Science",
    "registration_number": "2015-PU-1234",
    "year_of_completion": "2019",
    "date_of_birth": "1997-03-14",
}

ClientFactory = Callable[[], TestClient]
"""Makes a new, independent browser (its own cookies) on the app under test."""

CSRF_PATTERN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')

# Small but real files: a PDF and a PNG whose bytes say what they are.
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>"
    b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def csrf_of(response: Response) -> str:
    """The CSRF token of the form on a page."""
    match = CSRF_PATTERN.search(response.text)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def get_form(client: TestClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response)


def post_form(
    client: TestClient,
    path: str,
    data: dict[str, Any],
    *,
    page: str | None = None,
    files: Any = None,
) -> Response:
    """Open ``page`` (default: ``path``) for its CSRF token, then post the form."""
    token = get_form(client, page or path)
    return client.post(
        path, data={**data, "csrf_token": token}, files=files, follow_redirects=False
    )


def deliver_due_messages(settings: Settings) -> int:
    """Do what ``darwaza worker`` does, in this thread: run every job that is due now.

    Messages (codes included) are queued in the request's transaction and sent by a
    worker; the tests play the worker's part here. Returns how many jobs ran.
    """
    ran = 0
    while True:
        batch = run_due_jobs(settings, job_registry(settings))
        ran += batch
        if batch == 0:
            return ran


def sms_messages(settings: Settings, *, deliver: bool = True) -> list[dict[str, str]]:
    """The texts in the outbox, after a worker's pass unless ``deliver`` is False."""
    if deliver:
        deliver_due_messages(settings)
    path = settings.outbox_dir / "sms.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def latest_code(settings: Settings, to: str, *, wait_seconds: float = 5.0) -> str:
    """The code in the newest message to ``to`` (E.164).

    A worker sends the queued code (`deliver_due_messages` plays it); a live server's
    request may still be committing, so this looks again for a moment.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        for message in reversed(sms_messages(settings)):
            if message["to"] == to:
                match = re.search(r"\b(\d{6})\b", message["text"])
                if match:  # other texts (a new sign-in, a decision) carry no code
                    return match.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no message was sent to {to}")
        time.sleep(0.05)


def register_sim(settings: Settings, *, cnic: str, mobile: str) -> None:
    """The SIM registry says this number belongs to this CNIC, as for most real people."""
    SimRegistryFile(demo_sim_registry(settings)).register(
        cnic=parse_cnic(cnic), mobile=parse_mobile(mobile)
    )


def sign_up(
    client: TestClient,
    settings: Settings,
    *,
    cnic: str,
    full_name: str,
    mobile: str,
    sim_registered: bool = True,
) -> Response:
    """Sign up through the pages with the code from the outbox; returns the last answer.

    By default the number is registered to the CNIC, so the account is proven at once.
    """
    if sim_registered:
        register_sim(settings, cnic=cnic, mobile=mobile)
    response = post_form(
        client, "/sign-up", {"cnic": cnic, "full_name": full_name, "mobile": mobile}
    )
    assert response.status_code == 303, response.text
    e164 = "+92" + "".join(ch for ch in mobile if ch.isdigit())[-10:]
    return post_form(client, "/sign-in/code", {"code": latest_code(settings, e164)})


def authenticator_code(staff: StaffMember) -> str:
    """The officer's current authenticator-app code (the test keeps the seed it enrolled)."""
    return pyotp.TOTP(AUTHENTICATOR_SEEDS[staff.id]).now()


def sign_in_officer(
    client: TestClient, settings: Settings, staff: StaffMember, password: str
) -> None:
    response = post_form(
        client, "/console/sign-in", {"username": staff.username, "password": password}
    )
    assert response.status_code == 303, response.text
    response = post_form(client, "/console/sign-in/code", {"code": authenticator_code(staff)})
    assert response.status_code == 303, response.text


AUTHENTICATOR_SEEDS: dict[str, str] = {}


def create_officer(
    db: Session,
    *,
    username: str,
    agency_id: str,
    mobile: str,
    password: str = "officer-pass-123",
    role: str = "officer",
) -> StaffMember:
    enrolment = create_staff_member(
        db,
        settings=Settings(env="test", secret_key=TEST_SECRET, key_sealing_secret=TEST_SEALING),
        username=username,
        full_name=username.title(),
        role=role,
        agency_id=agency_id,
        mobile=mobile,
        password=password,
        actor=Actor.operator(),
    )
    db.commit()
    AUTHENTICATOR_SEEDS[enrolment.staff.id] = enrolment.authenticator_seed
    return enrolment.staff


def load_demo(db: Session, settings: Settings) -> None:
    load_demo_data(db, settings=settings, catalogue=load_catalogue(settings.catalogue_dir))
    db.commit()


def application_id_from(response: Response) -> str:
    location = response.headers["location"]
    match = re.match(r"/applications/([0-9a-f-]{36})", location)
    assert match, location
    return match.group(1)


def start_degree_application(client: TestClient) -> str:
    response = post_form(client, f"/services/{DEGREE}/apply", {}, page=f"/services/{DEGREE}")
    assert response.status_code == 303
    return application_id_from(response)


BANK_CHANNEL = {"Username": "sandbox", "Password": "sandbox-1bill"}


def bank_client(client: TestClient) -> TestClient:
    """1Bill calling the biller API from an allowed address (no cookies, no CSRF)."""
    return TestClient(client.app, base_url="http://127.0.0.1:8000", client=("127.0.0.1", 40000))


def psid_of(client: TestClient, application_id: str) -> tuple[str, int]:
    """The PSID and amount of an application's newest challan, as the citizen sees them."""
    response = client.get(f"/api/v1/applications/{application_id}")
    assert response.status_code == 200, response.text
    payment = response.json()["payment"]
    assert payment is not None, "the application has no challan"
    return payment["psid"], payment["amount_paisa"]


def bill_payment(
    bank: TestClient,
    psid: str,
    amount_paisa: int,
    *,
    tran_auth_id: str = "100001",
    mnemonic: str = "HBL",
    **overrides: str,
) -> dict[str, str]:
    """A BillPayment as 1Bill sends it; returns the JSON answer."""
    body = {
        **BANK_CHANNEL,
        "Consumer_Number": psid,
        "Bank_Mnemonic": mnemonic,
        "Tran_Auth_Id": tran_auth_id,
        "Transaction_Amount": f"+{amount_paisa:013d}",
        "Tran_Date": "20261201",
        "Tran_Time": "101500",
        "Reserved": "",
    } | overrides
    response = bank.post("/api/v1/onebill/bill-payment", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, str] = response.json()
    return answer


def run_jobs(settings: Settings) -> int:
    """Run the queued background work now, as the worker would."""
    return deliver_due_messages(settings)


def pay_fee(client: TestClient, settings: Settings, application_id: str) -> str:
    """Pay the application's fee at a bank by its PSID and let the worker move it on."""
    psid, amount = psid_of(client, application_id)
    # Each payment has its own transaction id at the bank, as two real payments would.
    answer = bill_payment(bank_client(client), psid, amount, tran_auth_id=psid[-6:])
    assert answer["Response_Code"] == "00", answer
    run_jobs(settings)
    return psid


def fill_and_submit(
    client: TestClient, application_id: str, *, settings: Settings | None = None
) -> str:
    """Fill the whole form with both attachments and submit; returns the tracking number.

    With ``settings``, the fee is then paid at a bank so the application reaches the queue.
    """
    page = f"/applications/{application_id}"
    token = csrf_of(client.get(page))
    response = client.post(
        page,
        data={**GOOD_ANSWERS, "action": "submit", "csrf_token": token},
        files={
            "file:degree": ("degree.pdf", PDF_BYTES, "application/pdf"),
            "file:transcript": ("transcript.png", PNG_BYTES, "image/png"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{page}?submitted=1"
    shown = client.get(response.headers["location"])
    assert "Application submitted" in shown.text
    tracking = shown.text.split('<strong dir="ltr">')[1].split("</strong>")[0]
    assert tracking.startswith("DZ-")
    if settings is not None:
        pay_fee(client, settings, application_id)
    return tracking


def approved_degree(
    make_client: ClientFactory, settings: Settings, db: Session, cnic: str, mobile: str
) -> tuple[TestClient, TestClient, Document]:
    citizen = make_client()
    sign_up(citizen, settings, cnic=cnic, full_name="Graduate Person", mobile=mobile)
    application_id = start_degree_application(citizen)
    fill_and_submit(citizen, application_id, settings=settings)
    officer_row = create_officer(
        db, username=f"hec.{mobile[-4:]}", agency_id="hec", mobile="0300" + mobile[-7:]
    )
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    case = f"/console/applications/{application_id}"
    post_form(officer, f"{case}/claim", {}, page=case)
    assert post_form(officer, f"{case}/approve", {}, page=case).status_code == 303
    db.commit()  # a fresh snapshot: see what the application wrote
    document = db.scalar(select(Document).where(Document.application_id == application_id))
    assert document is not None
    return citizen, officer, document


def staff_browser(
    make_client: ClientFactory,
    settings: Settings,
    db: Session,
    *,
    username: str,
    role: str,
    agency_id: str | None,
) -> TestClient:
    enrolment = create_staff_member(
        db,
        settings=Settings(env="test", secret_key=TEST_SECRET, key_sealing_secret=TEST_SEALING),
        username=username,
        full_name=username,
        role=role,
        agency_id=agency_id,
        mobile="03001239999",
        password=STAFF_PASSWORD,
        actor=Actor.operator(),
    )
    db.commit()
    AUTHENTICATOR_SEEDS[enrolment.staff.id] = enrolment.authenticator_seed
    browser = make_client()
    sign_in_officer(browser, settings, enrolment.staff, STAFF_PASSWORD)
    return browser


def forget_settings() -> None:
    """Make the next command read DARWAZA_* settings afresh (they are read once per process)."""
    get_settings.cache_clear()
    get_verifier_settings.cache_clear()


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement sent to a database, on any engine, while the block runs."""
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def wait_until(condition: Callable[[], object], *, seconds: float = 15) -> None:
    """Wait for ``condition`` to hold (a server hearing PostgreSQL, say), or fail."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.02)
