"""Fees end to end over HTTP: challan, 1Bill BillInquiry/BillPayment, the application moving
on, the receipt, refunds, online payment webhooks and reconciliation."""

from __future__ import annotations

import html
import json
import re
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.app import create_app
from darwaza.applications.models import Application
from darwaza.audit.models import AuditEvent
from darwaza.clock import utcnow
from darwaza.database import session_factory
from darwaza.documents.models import Document
from darwaza.i18n import translate
from darwaza.payments import biller
from darwaza.payments.models import Payment, PaymentCredit, PaymentRefund
from darwaza.payments.providers import SIGNATURE_HEADER, sign_body
from darwaza.payments.psid import is_well_formed_psid, luhn_digit, new_psid
from darwaza.payments.reconciliation import _cell, read_settlement, reconcile, report_csv
from darwaza.payments.workflow import (
    TRANSITIONS,
    IllegalPaymentTransition,
    PaymentAction,
    PaymentState,
    next_payment_state,
)
from darwaza.settings import Settings
from tests.journeys import (
    BANK_CHANNEL,
    GOOD_ANSWERS,
    PDF_BYTES,
    PNG_BYTES,
    ClientFactory,
    bank_client,
    bill_payment,
    create_officer,
    csrf_of,
    post_form,
    psid_of,
    run_jobs,
    sign_in_officer,
    sign_up,
    sms_messages,
    start_degree_application,
)
from tests.test_bad_input import switch_to_urdu

# --- the state machine and PSIDs --------------------------------------------------------


def test_every_payment_move_not_in_the_table_is_refused() -> None:
    allowed = {(t.action, s) for t in TRANSITIONS.values() for s in t.sources}
    for state in PaymentState:
        for action in PaymentAction:
            if (action, state) in allowed:
                assert (
                    next_payment_state(current=state, action=action) == TRANSITIONS[action].target
                )
            else:
                with pytest.raises(IllegalPaymentTransition):
                    next_payment_state(current=state, action=action)


def test_psids_are_digits_with_a_check_digit_and_unguessable() -> None:
    psids = {new_psid() for _ in range(2000)}
    assert len(psids) == 2000
    for psid in list(psids)[:200]:
        assert is_well_formed_psid(psid) and len(psid) == 18 and psid.isdigit()
        wrong = psid[:5] + str((int(psid[5]) + 1) % 10) + psid[6:]
        assert not is_well_formed_psid(wrong)
    assert not is_well_formed_psid("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧")  # Arabic-Indic digits are not ASCII
    assert luhn_digit("7992739871") == "3"


# --- the loop ---------------------------------------------------------------------------


def _submit(citizen: TestClient, application_id: str, *, tier: str | None = None) -> None:
    page = f"/applications/{application_id}"
    token = csrf_of(citizen.get(page))
    response = citizen.post(
        page,
        data={**GOOD_ANSWERS, "action": "submit", "csrf_token": token}
        | ({"fee_tier": tier} if tier else {}),
        files={
            "file:degree": ("degree.pdf", PDF_BYTES, "application/pdf"),
            "file:transcript": ("transcript.png", PNG_BYTES, "image/png"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def _apply_and_get_challan(citizen: TestClient) -> tuple[str, str, int]:
    """Apply for a degree attestation and submit it: its id, its challan's PSID and amount."""
    application_id = start_degree_application(citizen)
    _submit(citizen, application_id)
    return (application_id, *psid_of(citizen, application_id))


def _inquiry(bank: TestClient, psid: str, **overrides: str) -> dict[str, str]:
    body = {**BANK_CHANNEL, "Consumer_Number": psid, "Bank_Mnemonic": "HBL"} | overrides
    response = bank.post("/api/v1/onebill/bill-inquiry", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, str] = response.json()
    return answer


def test_citizen_chooses_urgent_pays_at_a_bank_and_the_application_moves_on(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-1122334-5", full_name="Sana Iqbal", mobile="03001122334")
    application_id = start_degree_application(citizen)
    _submit(citizen, application_id, tier="urgent")

    page = citizen.get(f"/applications/{application_id}")
    assert "Waiting for the fee" in page.text and "Rs 4,000" in page.text
    psid, amount = psid_of(citizen, application_id)
    assert amount == 400000 and is_well_formed_psid(psid)
    # The PSID reaches the phone: it is what the citizen types at a bank.
    to_sana = [m["text"] for m in sms_messages(settings) if m["to"] == "+923001122334"]
    assert any(psid in text and "Rs 4,000" in text for text in to_sana), to_sana
    payment_id = db.scalar(select(Payment.id).where(Payment.psid == psid))
    db.commit()  # end the read: the app under test writes meanwhile
    challan_page = citizen.get(f"/payments/{payment_id}")
    assert psid in challan_page.text and "How to pay" in challan_page.text
    for language in ("en", "ur"):
        citizen.cookies.set("dz_lang", language)
        pdf = citizen.get(f"/payments/{payment_id}/challan.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    citizen.cookies.set("dz_lang", "ur")
    assert "روپے" in citizen.get(f"/payments/{payment_id}").text
    citizen.cookies.set("dz_lang", "en")

    officer_row = create_officer(db, username="hec.fees", agency_id="hec", mobile="03001239876")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    assert application_id not in officer.get("/console").text  # unpaid: not in the queue

    bank = bank_client(citizen)
    asked = _inquiry(bank, psid)
    assert asked["Response_Code"] == "00" and asked["Bill_Status"] == "U"
    assert asked["Amount_Within_DueDate"] == "+0000000400000"
    assert asked["Consumer_Detail"] == "Sana Iqbal"

    assert bill_payment(bank, psid, 100000)["Response_Code"] == "06"  # amount mismatch
    paid = bill_payment(bank, psid, 400000, tran_auth_id="555001")
    assert paid["Response_Code"] == "00"
    assert bill_payment(bank, psid, 400000, tran_auth_id="555001")["Response_Code"] == "07"
    assert bill_payment(bank, psid, 400000, tran_auth_id="555002")["Response_Code"] == "08"
    assert _inquiry(bank, psid)["Bill_Status"] == "P"

    run_jobs(settings)
    db.commit()
    application = db.get(Application, application_id)
    assert application is not None and application.state == "submitted"
    assert db.scalar(select(func.count()).select_from(PaymentCredit)) == 1
    receipt = db.scalar(select(Document).where(Document.document_type == "darwaza-payment-receipt"))
    assert receipt is not None
    assert receipt.claims["psid"] == psid and receipt.claims["amount_paisa"] == 400000
    assert receipt.claims["tracking_number"] == application.tracking_number
    assert receipt.qr_text.startswith("DZ1:")
    queue = officer.get("/console")
    assert application_id in queue.text
    # The payment is confirmed in her messages (the bank texts its own confirmation).
    inbox = citizen.get("/notifications")
    assert "We received your payment of Rs 4,000" in inbox.text
    case = officer.get(f"/console/applications/{application_id}")
    assert "Paid" in case.text
    actions = set(db.scalars(select(AuditEvent.action)).all())
    assert {"onebill.bill_inquiry", "onebill.bill_payment", "payment.pay"} <= actions


def test_bad_biller_calls_get_their_code_and_change_nothing(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(
        citizen, settings, cnic="35202-2233445-6", full_name="Omar Farooq", mobile="03002233445"
    )
    application_id, psid, amount = _apply_and_get_challan(citizen)
    bank = bank_client(citizen)

    assert bill_payment(bank, psid, amount, Password="wrong")["Response_Code"] == "04"
    elsewhere = TestClient(citizen.app, base_url="http://127.0.0.1:8000", client=("10.1.2.3", 5))
    assert bill_payment(elsewhere, psid, amount)["Response_Code"] == "04"
    typo = psid[:-1] + str((int(psid[-1]) + 1) % 10)
    assert bill_payment(bank, typo, amount)["Response_Code"] == "03"
    body = new_psid()
    assert bill_payment(bank, body, amount)["Response_Code"] == "01"
    assert bill_payment(bank, psid, amount, Transaction_Amount="1000.00")["Response_Code"] == "03"
    assert bill_payment(bank, psid, amount, Tran_Date="20261341")["Response_Code"] == "03"
    assert bill_payment(bank, psid, amount, Tran_Auth_Id="'; drop")["Response_Code"] == "03"
    assert _inquiry(bank, "12345")["Response_Code"] == "03"
    unreadable = bank.post("/api/v1/onebill/bill-payment", content=b"not json")
    assert unreadable.status_code == 422

    db.commit()
    payment = db.scalar(select(Payment).where(Payment.psid == psid))
    assert payment is not None and payment.state == "pending" and payment.paid_paisa == 0
    assert db.scalar(select(func.count()).select_from(PaymentCredit)) == 0

    # Past its due date the PSID is expired; a new one can be issued, and the old stays dead.
    payment.due_at = utcnow() - timedelta(minutes=1)
    db.commit()
    assert bill_payment(bank, psid, amount)["Response_Code"] == "05"
    renewed = post_form(
        citizen, f"/applications/{application_id}/challan", {}, page=f"/payments/{payment.id}"
    )
    assert renewed.status_code == 303
    new, _ = psid_of(citizen, application_id)
    assert new != psid
    assert bill_payment(bank, psid, amount, tran_auth_id="1")["Response_Code"] == "05"
    assert bill_payment(bank, new, amount, tran_auth_id="2")["Response_Code"] == "00"


def test_twenty_concurrent_bill_payments_for_one_psid_credit_once(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-3344556-7", full_name="Hina Shah", mobile="03003344556")
    _, psid, amount = _apply_and_get_challan(citizen)

    sessions = session_factory(settings)
    answers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def pay(index: int) -> None:
        request = biller.BillPaymentRequest(
            **BANK_CHANNEL,
            Consumer_Number=psid,
            Bank_Mnemonic="MCB" if index % 2 else "HBL",
            Tran_Auth_Id=f"T{index % 5}",  # several calls share a transaction id
            Transaction_Amount=biller.format_amount(amount),
            Tran_Date="20261201",
            Tran_Time="120000",
        )
        barrier.wait()
        try:
            with sessions.begin() as session:
                answer = biller.bill_payment(
                    session, settings=settings, request=request, address="127.0.0.1"
                )
            answers.append(answer.Response_Code)
        except BaseException as error:  # a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert answers.count("00") == 1
    assert set(answers) <= {"00", "07", "08"}
    db.commit()
    assert db.scalar(select(func.count()).select_from(PaymentCredit)) == 1
    payment = db.scalar(select(Payment).where(Payment.psid == psid))
    assert payment is not None and payment.state == "paid" and payment.paid_paisa == amount


# --- refunds and waivers ----------------------------------------------------------------


@pytest.fixture
def refunding_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The demo catalogue, with HEC refunding the fee on rejection and withdrawal."""
    directory = tmp_path / "catalogue"
    shutil.copytree(settings.catalogue_dir, directory)
    service = directory / "services" / "hec-degree-attestation.yaml"
    service.write_text(
        service.read_text(encoding="utf-8") + "refund_fee_on: [rejected, withdrawn]\n",
        encoding="utf-8",
    )
    return settings.model_copy(update={"catalogue_dir": directory})


def test_a_rejected_application_gets_its_fee_back_once(
    refunding_settings: Settings, db: Session
) -> None:
    settings = refunding_settings
    app = create_app(settings)
    with (
        TestClient(app, base_url="http://127.0.0.1:8000") as citizen,
        TestClient(app, base_url="http://127.0.0.1:8000") as officer,
    ):
        sign_up(citizen, settings, cnic="35202-4455667-8", full_name="Ali", mobile="03004455667")
        application_id, psid, amount = _apply_and_get_challan(citizen)
        assert bill_payment(bank_client(citizen), psid, amount)["Response_Code"] == "00"
        run_jobs(settings)
        row = create_officer(db, username="hec.refunds", agency_id="hec", mobile="03001230000")
        sign_in_officer(officer, settings, row, "officer-pass-123")
        case = f"/console/applications/{application_id}"
        post_form(officer, f"{case}/claim", {}, page=case)
        rejected = post_form(officer, f"{case}/reject", {"reason": "Not attested"}, page=case)
        assert rejected.status_code == 303
        run_jobs(settings)
    db.commit()
    payment = db.scalar(select(Payment).where(Payment.psid == psid))
    assert payment is not None and payment.state == "refunded"
    assert payment.refunded_paisa == amount == payment.paid_paisa
    assert db.scalar(select(func.count()).select_from(PaymentRefund)) == 1
    to_ali = [m["text"] for m in sms_messages(settings) if m["to"] == "+923004455667"]
    assert sum("is being refunded" in text for text in to_ali) == 1, to_ali
    from darwaza.audit.actors import Actor
    from darwaza.payments import service as payments

    # A second refund for any reason finds nothing paid and not yet refunded.
    assert (
        payments.refund_fee(db, application_id=application_id, reason="x", actor=Actor.system())
        is None
    )


def test_an_agency_admin_refunds_part_of_a_paid_fee_and_only_what_is_left(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-5566778-9", full_name="Hina", mobile="03005566778")
    application_id, psid, amount = _apply_and_get_challan(citizen)
    assert bill_payment(bank_client(citizen), psid, amount)["Response_Code"] == "00"
    run_jobs(settings)
    case = f"/console/applications/{application_id}"

    officer = make_client()
    row = create_officer(db, username="hec.clerk", agency_id="hec", mobile="03001230001")
    sign_in_officer(officer, settings, row, "officer-pass-123")
    assert "Refund part of the fee" not in officer.get(case).text  # money is an admin's call
    refused = post_form(officer, f"{case}/refund", {"amount": "100", "reason": "x"}, page=case)
    assert refused.status_code == 403

    admin = make_client()
    row = create_officer(
        db, username="hec.head", agency_id="hec", mobile="03001230002", role="agency_admin"
    )
    sign_in_officer(admin, settings, row, "officer-pass-123")
    assert "Refund part of the fee" in admin.get(case).text
    bad = post_form(admin, f"{case}/refund", {"amount": "four hundred", "reason": "x"}, page=case)
    assert bad.status_code == 422 and "such as 500 or 1,250.50" in bad.text
    admin.cookies.set("dz_lang", "ur")
    bad = post_form(admin, f"{case}/refund", {"amount": "abc", "reason": "x"}, page=case)
    assert bad.status_code == 422 and "روپوں میں رقم لکھیں" in bad.text
    admin.cookies.set("dz_lang", "en")
    too_much = post_form(admin, f"{case}/refund", {"amount": "1,000.01", "reason": "x"}, page=case)
    assert too_much.status_code == 409 and "more than what was paid" in too_much.text
    done = post_form(
        admin,
        f"{case}/refund",
        {"amount": "Rs 400", "reason": "Counter fee taken twice"},
        page=case,
    )
    assert done.status_code == 303, done.text
    assert "The refund is on its way" in admin.get(done.headers["location"]).text
    run_jobs(settings)
    db.commit()
    payment = db.scalar(select(Payment).where(Payment.psid == psid))
    assert payment is not None and payment.state == "refunded"
    assert (payment.refunded_paisa, payment.paid_paisa) == (40000, 100000)
    to_hina = [m["text"] for m in sms_messages(settings) if m["to"] == "+923005566778"]
    assert sum("Rs 400 for your" in text and "being refunded" in text for text in to_hina) == 1
    actions = set(db.scalars(select(AuditEvent.action)).all())
    assert "application.fee_refunded_in_part" in actions
    # Nothing paid is left in a refundable state: a second refund finds none.
    again = post_form(admin, f"{case}/refund", {"amount": "1", "reason": "x"}, page=case)
    assert again.status_code == 409


def test_an_officer_waives_a_fee_with_a_reason(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-5566778-9", full_name="Zara", mobile="03005566778")
    application_id, psid, amount = _apply_and_get_challan(citizen)
    row = create_officer(db, username="hec.waiver", agency_id="hec", mobile="03001230001")
    officer = make_client()
    sign_in_officer(officer, settings, row, "officer-pass-123")
    case = f"/console/applications/{application_id}"
    refused = post_form(officer, f"{case}/waive-fee", {"reason": ""}, page=case)
    assert refused.status_code == 422
    waived = post_form(officer, f"{case}/waive-fee", {"reason": "Flood relief"}, page=case)
    assert waived.status_code == 303
    db.commit()
    application = db.get(Application, application_id)
    assert application is not None and application.state == "submitted"
    assert application.fee_waived_reason == "Flood relief"
    assert bill_payment(bank_client(citizen), psid, amount)["Response_Code"] == "02"  # blocked


# --- online payment (PSP) webhooks ------------------------------------------------------


def test_psp_webhooks_are_signed_idempotent_and_accepted_out_of_order(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-6677889-1", full_name="Bilal", mobile="03006677889")
    application_id, psid, amount = _apply_and_get_challan(citizen)
    db.commit()
    challan = db.scalar(select(Payment).where(Payment.psid == psid))
    assert challan is not None
    from darwaza.audit.actors import Actor
    from darwaza.payments import service as payments

    with session_factory(settings).begin() as session:
        fresh = session.get(Payment, challan.id)
        assert fresh is not None
        online = payments.start_online_payment(
            session,
            citizen_id=fresh.citizen_id,
            challan=fresh,
            idempotency_key="key-1",
            actor=Actor.system(),
        )
        online.provider_reference = "psp-123"
        payments.apply_provider_status(
            session,
            payment=online,
            status="pending",
            amount_paisa=amount,
            transaction_id="",
            actor=Actor.system(),
        )
        online_id = online.id

    hook = TestClient(citizen.app, base_url="http://127.0.0.1:8000")

    def send(event: dict[str, object], secret: str = settings.psp_webhook_secret) -> int:
        body = json.dumps(event).encode()
        response = hook.post(
            "/api/v1/payments/webhooks/psp",
            content=body,
            headers={SIGNATURE_HEADER: sign_body(secret, body), "Content-Type": "application/json"},
        )
        return response.status_code

    success = {"event_id": "e2", "payment_id": "psp-123", "state": "success", "amount": amount}
    assert send(success, secret="wrong-secret") == 401
    assert send({"event_id": "e0"}) == 400
    assert send(success) == 204
    assert send(success) == 204  # a replay changes nothing
    late = {"event_id": "e1", "payment_id": "psp-123", "state": "pending", "amount": amount}
    assert send(late) == 204  # an older event after the newer one changes nothing
    db.commit()
    paid = db.get(Payment, online_id)
    assert paid is not None and paid.state == "paid"
    assert db.scalar(select(func.count()).select_from(PaymentCredit)) == 1
    # The PSID for the same fee died when the fee was paid online: no bank takes it twice.
    assert bill_payment(bank_client(citizen), psid, amount)["Response_Code"] == "02"
    run_jobs(settings)
    db.commit()
    application = db.get(Application, application_id)
    assert application is not None and application.state == "submitted"


# --- reconciliation ---------------------------------------------------------------------


def test_reconciliation_reports_each_day_and_its_csv_is_formula_safe(
    make_client: ClientFactory, settings: Settings, db: Session, tmp_path: Path
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-7788990-2", full_name="Nida", mobile="03007788990")
    psids = []
    for _ in range(2):
        psids.append(_apply_and_get_challan(citizen)[1:])
    bank = bank_client(citizen)
    (first, amount), (second, _) = psids
    assert bill_payment(bank, first, amount, tran_auth_id="900001")["Response_Code"] == "00"
    assert bill_payment(bank, second, amount, tran_auth_id="900002")["Response_Code"] == "00"
    settlement = (
        "psid,amount,transaction_id,bank,paid_at\n"
        f"{first},1000.00,900001,HBL,2026-12-01T10:15:00\n"
        f"{second},999.00,900002,HBL,2026-12-01T10:15:00\n"
        '=HYPERLINK("http://evil"),5,1,X,2026-12-01T11:00:00\n'
    )
    db.commit()
    reports = reconcile(db, read_settlement(settlement))
    db.commit()
    assert len(reports) == 1
    day = reports[0]
    assert day.matched == 1 and len(day.amount_mismatches) == 1 and len(day.missing_here) == 1
    text = report_csv(reports)
    assert "\n=" not in text and ",=" not in text and "'=HYPERLINK" in text
    assert _cell("-1") == "'-1" and _cell("ok") == "ok"

    path = tmp_path / "settlement.csv"
    path.write_text(settlement, encoding="utf-8")
    from darwaza.cli import main

    result = CliRunner().invoke(
        main,
        ["payments", "reconcile", str(path)],
        env={
            "DARWAZA_ENV": "development",
            "DARWAZA_DATABASE_URL": settings.resolved_database_url,
            "DARWAZA_DATA_DIR": str(settings.data_dir),
        },
    )
    assert result.exit_code == 0, result.output
    assert "matched 1" in result.output and "amount mismatches 1" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\n1,2\n", encoding="utf-8")
    refused = CliRunner().invoke(
        main,
        ["payments", "reconcile", str(bad)],
        env={"DARWAZA_ENV": "development", "DARWAZA_DATABASE_URL": settings.resolved_database_url},
    )
    assert refused.exit_code != 0 and "header" in refused.output

    admin = make_client()
    from darwaza.identity.models import Role
    from tests.factories import create_staff
    from tests.journeys import STAFF_PASSWORD

    admin_row = create_staff(db, settings, username="hec.admin", role=Role.AGENCY_ADMIN)
    sign_in_officer(admin, settings, admin_row, STAFF_PASSWORD)
    token = csrf_of(admin.get("/console/payments/reconcile"))
    shown = admin.post(
        "/console/payments/reconcile",
        data={"format": "csv", "csrf_token": token},
        files={"file": ("settlement.csv", settlement.encode(), "text/csv")},
    )
    assert shown.status_code == 200 and shown.headers["content-type"].startswith("text/csv")
    assert "'=HYPERLINK" in shown.text


# --- the sandbox bank -------------------------------------------------------------------


def _seen(page: Response) -> str:
    """A page's text as its reader sees it: without tags, one space between words."""
    inline = re.sub(r"</?(?:a|bdi|strong)\b[^>]*>", "", page.text)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def test_citizen_pays_at_the_sandbox_bank_and_each_failure_path_shows(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    from darwaza.payments.sandbox import create_sandbox_app

    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-8899001-3", full_name="Amna", mobile="03008899001")
    darwaza = bank_client(citizen)
    bank = TestClient(create_sandbox_app(settings, transport=darwaza._transport))
    assert "PSID" in _seen(bank.get("/"))

    application_id, psid, amount = _apply_and_get_challan(citizen)
    found = _seen(bank.post("/inquire", data={"psid": psid}))
    assert "Amount Rs 1,000 " in found and "Amna" in found
    declined = bank.post("/pay", data={"psid": psid, "amount": amount, "scenario": "decline"})
    assert "Declined: insufficient funds" in _seen(declined)
    wrong = bank.post("/pay", data={"psid": psid, "amount": amount, "scenario": "wrong_amount"})
    assert "Not paid. 1Bill answered 06" in _seen(wrong)
    assert "06: The amount does not match the bill." in _seen(wrong)
    retried = bank.post("/pay", data={"psid": psid, "amount": amount, "scenario": "timeout"})
    assert "Paid. 1Bill answered 00, 07 (transaction" in _seen(retried)
    assert "07: This transaction was already received; nothing changed." in _seen(retried)
    assert "This bill is already paid." in _seen(bank.post("/inquire", data={"psid": psid}))

    _, twice_psid, _ = _apply_and_get_challan(citizen)
    twice = bank.post("/pay", data={"psid": twice_psid, "amount": amount, "scenario": "twice"})
    assert "answered 00, 08" in _seen(twice)
    unknown = _seen(bank.post("/inquire", data={"psid": new_psid()}))
    assert "1Bill answered 01. No bill has this PSID." in unknown

    run_jobs(settings)
    db.commit()
    application = db.get(Application, application_id)
    assert application is not None and application.state == "submitted"
    assert db.scalar(select(func.count()).select_from(PaymentCredit)) == 2


def test_the_sandbox_bank_explains_an_unknown_psid_in_urdu(
    make_client: ClientFactory, settings: Settings
) -> None:
    from darwaza.payments.sandbox import create_sandbox_app

    darwaza = bank_client(make_client())
    bank = TestClient(create_sandbox_app(settings, transport=darwaza._transport))
    home = bank.get("/", headers={"Accept-Language": "ur-PK,ur;q=0.9,en;q=0.8"})
    assert '<html lang="ur" dir="rtl">' in home.text

    answer = bank.post("/inquire", data={"psid": new_psid()}, headers={"Accept-Language": "ur"})
    assert '<html lang="ur" dir="rtl">' in answer.text
    assert '1Bill کا جواب: <bdi dir="ltr">01</bdi>۔' in answer.text
    urdu = _seen(answer)
    assert "یہ بل ادا نہیں کیا جا سکتا۔" in urdu
    assert "اس پی ایس آئی ڈی کا کوئی بل نہیں ملا۔ نمبر چیک کر کے دوبارہ درج کریں۔" in urdu
    assert "No bill has this PSID" not in urdu and "answered" not in urdu


def test_the_sandbox_banks_language_switch_is_remembered_over_the_browsers(
    make_client: ClientFactory, settings: Settings
) -> None:
    from darwaza.payments.sandbox import create_sandbox_app

    darwaza = bank_client(make_client())
    bank = TestClient(
        create_sandbox_app(settings, transport=darwaza._transport),
        headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    psid = new_psid()
    english = bank.post("/inquire", data={"psid": psid})
    assert "No bill has this PSID." in _seen(english)
    switch = re.search(r'href="([^"]+)" lang="ur"[^>]*>اردو</a>', english.text)
    assert switch is not None, "no link to Urdu on the answer page"

    # The switch shows the same answer again, in Urdu, and the bank remembers the choice.
    again = bank.get(html.unescape(switch.group(1)))
    assert '<html lang="ur" dir="rtl">' in again.text and psid in again.text
    assert "اس پی ایس آئی ڈی کا کوئی بل نہیں ملا۔" in _seen(again)
    assert '<html lang="ur" dir="rtl">' in bank.get("/").text
    assert "English" in _seen(bank.get("/")) and "اردو" in _seen(bank.get("/"))
    assert '<html lang="en" dir="ltr">' in bank.get("/?lang=en").text
    assert '<html lang="en" dir="ltr">' in bank.get("/psp").text


def test_production_refuses_payments_on_the_development_channel_secrets() -> None:
    production = Settings(env="production", secret_key="s" * 40, key_sealing_secret="k" * 40)
    assert production.payment_secrets_are_defaults
    assert not biller.channel_allowed(
        production, username="sandbox", password="sandbox-1bill", address="127.0.0.1"
    )
    onboarded = production.model_copy(
        update={"onebill_channels": {"1link": "x" * 32}, "psp_webhook_secret": "y" * 32}
    )
    assert not onboarded.payment_secrets_are_defaults
    assert biller.channel_allowed(
        onboarded, username="1link", password="x" * 32, address="127.0.0.1"
    )


def _with_sandbox_psp(citizen: TestClient, settings: Settings) -> TestClient:
    """Point the citizen's Darwaza at the sandbox PSP, which calls it back in process."""
    from darwaza.payments.providers import SandboxPsp
    from darwaza.payments.sandbox import create_sandbox_app

    darwaza = TestClient(citizen.app, base_url="http://127.0.0.1:8000")
    psp = TestClient(
        create_sandbox_app(settings, transport=darwaza._transport), base_url="http://psp.test"
    )
    citizen.app.state.payment_provider = SandboxPsp(settings, transport=psp._transport)
    return psp


def test_citizen_pays_online_and_the_return_page_shows_the_servers_truth(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-9900112-4", full_name="Kiran", mobile="03009900112")
    application_id, psid, amount = _apply_and_get_challan(citizen)
    db.commit()
    challan_id = db.scalar(select(Payment.id).where(Payment.psid == psid))
    db.commit()
    psp = _with_sandbox_psp(citizen, settings)

    # The return address alone proves nothing: before paying, the page still says unpaid.
    started = post_form(
        citizen,
        f"/payments/{challan_id}/online",
        {"idempotency_key": "k1"},
        page=f"/payments/{challan_id}",
    )
    assert started.status_code == 303
    assert started.headers["location"].startswith(settings.psp_base_url + "/psp/pay/")
    psp_page = started.headers["location"].removeprefix(settings.psp_base_url)
    db.commit()
    online = db.scalar(select(Payment).where(Payment.provider == "psp"))
    assert online is not None and online.state == "pending"
    online_id = online.id
    db.commit()
    early = citizen.get(f"/payments/{online_id}/return")
    assert "Unpaid" in early.text

    # Paying sends a signed webhook to Darwaza, then the citizen comes back.
    assert "Pay by card" in psp.get(psp_page).text
    back = psp.post(psp_page, data={"outcome": "success"}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"].endswith(f"/{online_id}/return")
    shown = citizen.get(f"/payments/{online_id}/return")
    assert "Paid" in shown.text
    again = post_form(
        citizen,
        f"/payments/{challan_id}/online",
        {"idempotency_key": "k1"},
        page=f"/payments/{challan_id}",
    )
    assert again.headers["location"] == f"/payments/{online_id}/return"  # same key, same payment
    run_jobs(settings)
    db.commit()
    application = db.get(Application, application_id)
    assert application is not None and application.state == "submitted"
    assert bill_payment(bank_client(citizen), psid, amount)["Response_Code"] == "02"


def test_paying_the_psid_at_a_bank_closes_an_online_payment_left_open(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-9900113-4", full_name="Nida", mobile="03009900113")
    application_id, psid, amount = _apply_and_get_challan(citizen)
    challan_id = db.scalar(select(Payment.id).where(Payment.psid == psid))
    db.commit()
    _with_sandbox_psp(citizen, settings)
    # The citizen starts paying by card, leaves it there, and pays at a bank instead.
    started = post_form(
        citizen, f"/payments/{challan_id}/online", {"idempotency_key": "k2"}, page="/"
    )
    assert started.status_code == 303
    online_id = db.scalar(select(Payment.id).where(Payment.provider == "psp"))
    db.commit()

    assert bill_payment(bank_client(citizen), psid, amount)["Response_Code"] == "00"

    rows = db.execute(
        select(Payment.id, Payment.state).where(Payment.application_id == application_id)
    ).all()
    states = {payment_id: state for payment_id, state in rows}
    assert states == {challan_id: "paid", online_id: "cancelled"}
    db.commit()
    back = citizen.get(f"/payments/{online_id}/return").text
    assert "The fee was paid another way" in back
    assert f'href="/payments/{challan_id}"' in back
    switch_to_urdu(citizen)
    in_urdu = citizen.get(f"/payments/{online_id}/return").text
    closed = "The fee was paid another way, so this payment was closed and took nothing."
    assert html.escape(translate("ur", closed), quote=False) in in_urdu
