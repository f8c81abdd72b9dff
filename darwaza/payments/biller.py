"""The biller API that 1Link's 1Bill calls: ``BillInquiry`` and ``BillPayment``.

This module is the whole contract, so the exact specification given at onboarding
changes one file. A citizen types the PSID as the "consumer number" in any 1Link member
bank, at an ATM, over the counter or in a mobile wallet; 1Bill then calls us.

Fields (JSON, names as 1Bill spells them):

Request, both calls
    ``Username``, ``Password``  the channel's credentials (``DARWAZA_ONEBILL_CHANNELS``);
                                the caller's address must also be in
                                ``DARWAZA_ONEBILL_ALLOWED_NETWORKS``.
    ``Consumer_Number``         the PSID: 18 ASCII digits, the last a Luhn check digit.
    ``Bank_Mnemonic``           the paying bank, 1-8 letters or digits (``HBL``, ``MCB``).
    ``Reserved``                free text, up to 200 characters, ignored.

BillPayment also
    ``Tran_Auth_Id``            the bank's transaction id, 1-20 letters or digits
                                (1Bill sends 6 digits); unique per bank.
    ``Transaction_Amount``      an amount: ``+`` or ``-`` then 13 digits, in paisa
                                (``+0000000100000`` is Rs 1,000).
    ``Tran_Date``               ``YYYYMMDD``, Pakistan time.
    ``Tran_Time``               ``HHMMSS``, Pakistan time.

Response, BillInquiry
    ``Response_Code``, ``Consumer_Detail`` (payer name, up to 30 characters),
    ``Bill_Status`` (``U`` unpaid, ``P`` paid, ``B`` blocked), ``Due_Date`` (``YYYYMMDD``),
    ``Amount_Within_DueDate`` and ``Amount_After_DueDate`` (amounts as above; a PSID
    cannot be paid after its due date, so the second equals the first), ``Billing_Month``
    (``YYMM``), ``Date_Paid`` (``YYYYMMDD`` or blank), ``Amount_Paid`` (an amount or blank),
    ``Tran_Auth_Id`` (of the credited payment, or blank), ``Reserved``.

Response, BillPayment
    ``Response_Code``, ``Identification_parameter`` (the payment's receipt reference),
    ``Reserved``.

Response codes (`ResponseCode`): ``00`` OK; ``01`` unknown PSID; ``02`` blocked (the
fee was cancelled or waived); ``03`` invalid data; ``04`` the channel is not allowed;
``05`` expired; ``06`` amount mismatch; ``07`` duplicate (this ``Tran_Auth_Id`` was
already received: nothing changes); ``08`` already paid (by another transaction).

Every call is audited with its channel, consumer number and answer.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import KARACHI, utcnow
from darwaza.payments import service
from darwaza.payments.models import Payment
from darwaza.payments.psid import is_well_formed_psid
from darwaza.payments.workflow import PaymentState
from darwaza.settings import Settings

CHANNEL_PREFIX: Final = "1bill:"
AMOUNT_PATTERN: Final = re.compile(r"^[+-]\d{13}$")
TRAN_AUTH_PATTERN: Final = re.compile(r"^[A-Za-z0-9]{1,20}$")
MNEMONIC_PATTERN: Final = re.compile(r"^[A-Za-z0-9]{1,8}$")


class ResponseCode(StrEnum):
    """The answers 1Bill understands (placeholders until the onboarding spec fixes them)."""

    OK = "00"
    UNKNOWN_PSID = "01"
    BLOCKED = "02"
    INVALID_DATA = "03"
    NOT_ALLOWED = "04"
    EXPIRED = "05"
    AMOUNT_MISMATCH = "06"
    DUPLICATE = "07"
    ALREADY_PAID = "08"


class _Request(BaseModel):
    # Unknown fields are ignored: 1Bill may add some; the known ones are checked by hand so a
    # malformed value answers INVALID_DATA rather than an HTTP error 1Bill cannot read.
    model_config = ConfigDict(extra="ignore")

    Username: str = Field(default="", max_length=100)
    Password: str = Field(default="", max_length=200)
    Consumer_Number: str = Field(default="", max_length=40)
    Bank_Mnemonic: str = Field(default="", max_length=40)
    Reserved: str = Field(default="", max_length=200)


class BillInquiryRequest(_Request):
    """What 1Bill sends to ask what a PSID owes."""


class BillPaymentRequest(_Request):
    """What 1Bill sends when a bank took the money."""

    Tran_Auth_Id: str = Field(default="", max_length=40)
    Transaction_Amount: str = Field(default="", max_length=40)
    Tran_Date: str = Field(default="", max_length=20)
    Tran_Time: str = Field(default="", max_length=20)


class BillInquiryResponse(BaseModel):
    """Our answer to a BillInquiry."""

    Response_Code: str
    Consumer_Detail: str = ""
    Bill_Status: str = ""
    Due_Date: str = ""
    Amount_Within_DueDate: str = ""
    Amount_After_DueDate: str = ""
    Billing_Month: str = ""
    Date_Paid: str = ""
    Amount_Paid: str = ""
    Tran_Auth_Id: str = ""
    Reserved: str = ""


class BillPaymentResponse(BaseModel):
    """Our answer to a BillPayment."""

    Response_Code: str
    Identification_parameter: str = ""
    Reserved: str = ""


def format_amount(paisa: int) -> str:
    """An amount in 1Bill's format: sign and 13 digits of paisa."""
    return f"{'-' if paisa < 0 else '+'}{abs(paisa):013d}"


def parse_amount(text: str) -> int | None:
    """Paisa from 1Bill's amount format, or None if it is not in that format."""
    if not AMOUNT_PATTERN.match(text):
        return None
    return int(text)


def _local_date(moment: datetime) -> str:
    return moment.astimezone(KARACHI).strftime("%Y%m%d")


def channel_allowed(settings: Settings, *, username: str, password: str, address: str) -> bool:
    """The channel's credentials are right and it calls from an allowed address."""
    if settings.payment_secrets_are_defaults:
        return False
    expected = settings.onebill_channels.get(username)
    if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
        return False
    networks = [part.strip() for part in settings.onebill_allowed_networks.split(",")]
    if "*" in networks:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks if network)


def _audit(
    db: Session, *, call: str, request: _Request, answer: str, extra: dict[str, Any]
) -> None:
    record_event(
        db,
        actor=Actor.system(),
        action=f"onebill.{call}",
        object_type="psid",
        object_id=request.Consumer_Number[:40] or "-",
        after={
            "channel": request.Username[:100],
            "bank": request.Bank_Mnemonic[:40],
            "response_code": answer,
        }
        | extra,
    )


def bill_inquiry(
    db: Session, *, settings: Settings, request: BillInquiryRequest, address: str
) -> BillInquiryResponse:
    """Answer what a PSID owes (read-mostly: an overdue challan is marked expired)."""
    code, payment = _check_common(db, settings=settings, request=request, address=address)
    if payment is None:
        _audit(db, call="bill_inquiry", request=request, answer=code, extra={})
        return BillInquiryResponse(Response_Code=code)
    amount = format_amount(payment.amount_paisa)
    status = {PaymentState.PENDING: "U", PaymentState.CREATED: "U"}.get(payment.state, "B")
    if payment.state.settled:
        status = "P"
    answer = BillInquiryResponse(
        Response_Code=code,
        Consumer_Detail=payment.payer_name[:30],
        Bill_Status=status,
        Due_Date=_local_date(payment.due_at),
        Amount_Within_DueDate=amount,
        Amount_After_DueDate=amount,
        Billing_Month=payment.created_at.astimezone(KARACHI).strftime("%y%m"),
        Date_Paid=_local_date(payment.paid_at) if payment.paid_at else "",
        Amount_Paid=format_amount(payment.paid_paisa) if payment.paid_at else "",
        Tran_Auth_Id=payment.transaction_id or "" if payment.state.settled else "",
    )
    _audit(db, call="bill_inquiry", request=request, answer=code, extra={"bill_status": status})
    return answer


def _check_common(
    db: Session, *, settings: Settings, request: _Request, address: str, lock: bool = False
) -> tuple[ResponseCode, Payment | None]:
    if not channel_allowed(
        settings, username=request.Username, password=request.Password, address=address
    ):
        return ResponseCode.NOT_ALLOWED, None
    if not is_well_formed_psid(request.Consumer_Number) or not MNEMONIC_PATTERN.match(
        request.Bank_Mnemonic
    ):
        return ResponseCode.INVALID_DATA, None
    payment = service.payment_by_psid(db, psid=request.Consumer_Number, lock=lock)
    if payment is None:
        return ResponseCode.UNKNOWN_PSID, None
    if payment.state.settled:
        return ResponseCode.OK, payment
    if service.expire_if_due(db, payment=payment):
        return ResponseCode.EXPIRED, None
    if payment.state != PaymentState.PENDING:
        return ResponseCode.BLOCKED, None
    return ResponseCode.OK, payment


def _paid_at(request: BillPaymentRequest) -> datetime | None:
    try:
        local = datetime.strptime(request.Tran_Date + request.Tran_Time, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return local.replace(tzinfo=KARACHI).astimezone(utcnow().tzinfo)


def bill_payment(
    db: Session, *, settings: Settings, request: BillPaymentRequest, address: str
) -> BillPaymentResponse:
    """Credit a PSID once. The payment row is locked for the rest of the transaction, so
    concurrent calls for one PSID are taken one at a time."""
    amount = parse_amount(request.Transaction_Amount)
    paid_at = _paid_at(request)
    code, payment = _check_common(
        db, settings=settings, request=request, address=address, lock=True
    )
    extra: dict[str, Any] = {"tran_auth_id": request.Tran_Auth_Id[:40]}
    if code == ResponseCode.OK and (
        amount is None or paid_at is None or not TRAN_AUTH_PATTERN.match(request.Tran_Auth_Id)
    ):
        code = ResponseCode.INVALID_DATA
    if code == ResponseCode.OK and payment is not None and payment.state.settled:
        # A bank asking to credit a paid PSID: the same transaction again is a duplicate;
        # another one is refused, so that bank does not take the money twice.
        known = service.credit_exists(
            db,
            channel=CHANNEL_PREFIX + request.Bank_Mnemonic.upper(),
            transaction_id=request.Tran_Auth_Id,
        )
        code = ResponseCode.DUPLICATE if known else ResponseCode.ALREADY_PAID
    elif code == ResponseCode.OK and payment is not None and amount is not None and paid_at:
        if amount != payment.amount_paisa:
            code = ResponseCode.AMOUNT_MISMATCH
        else:
            outcome = service.credit_payment(
                db,
                payment=payment,
                credit=service.Credit(
                    channel=CHANNEL_PREFIX + request.Bank_Mnemonic.upper(),
                    transaction_id=request.Tran_Auth_Id,
                    bank=request.Bank_Mnemonic.upper(),
                    amount_paisa=amount,
                    paid_at=paid_at,
                ),
                actor=Actor.system(),
            )
            if outcome == service.CreditOutcome.DUPLICATE_TRANSACTION:
                code = ResponseCode.DUPLICATE
            elif outcome == service.CreditOutcome.PAID_TWICE:
                code = ResponseCode.ALREADY_PAID
    _audit(db, call="bill_payment", request=request, answer=code, extra=extra)
    return BillPaymentResponse(
        Response_Code=code,
        Identification_parameter=payment.id if payment is not None and code == "00" else "",
    )
