"""Reconciliation: the bank's settlement file against what Darwaza credited, per day.

A settlement file is CSV with a header row: ``psid, amount, transaction_id, bank,
paid_at``. ``amount`` is in rupees with up to two decimals (``1000`` or ``1000.00``);
``paid_at`` is an ISO date or date and time (Pakistan time when it has no offset).
Each day (Asia/Karachi) gets four counts: matched, paid here but missing there, there but
not here, and amount mismatches; each problem is listed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.clock import KARACHI
from darwaza.payments.models import Payment, PaymentCredit

COLUMNS: Final = ("psid", "amount", "transaction_id", "bank", "paid_at")


class SettlementFileError(ValueError):
    """The file is not a settlement file we can read; the message says where."""


@dataclass(frozen=True)
class SettlementRow:
    """One line of a bank's settlement file."""

    psid: str
    amount_paisa: int
    transaction_id: str
    bank: str
    paid_at: datetime


@dataclass
class DayReport:
    """One day's result."""

    day: date
    matched: int = 0
    missing_there: list[str] = field(default_factory=list)
    missing_here: list[str] = field(default_factory=list)
    amount_mismatches: list[str] = field(default_factory=list)


def _paisa(text: str) -> int:
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(text) from None
    if amount != amount.quantize(Decimal("0.01")) or amount < 0:
        raise ValueError(text)
    return int(amount * 100)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=KARACHI)


def read_settlement(text: str) -> list[SettlementRow]:
    """Parse a settlement file, or `SettlementFileError` naming the bad line."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [name.strip().lower() for name in reader.fieldnames] != list(
        COLUMNS
    ):
        raise SettlementFileError(f"the header must be: {','.join(COLUMNS)}")
    rows = []
    for line, raw in enumerate(reader, start=2):
        try:
            values = {key.strip().lower(): (value or "").strip() for key, value in raw.items()}
            rows.append(
                SettlementRow(
                    psid=values["psid"],
                    amount_paisa=_paisa(values["amount"]),
                    transaction_id=values["transaction_id"],
                    bank=values["bank"],
                    paid_at=_moment(values["paid_at"]),
                )
            )
        except (ValueError, KeyError, AttributeError) as error:
            raise SettlementFileError(f"line {line}: cannot read {error}") from None
    return rows


def reconcile(
    db: Session, rows: list[SettlementRow], *, agency_id: str | None = None
) -> list[DayReport]:
    """Compare the file with PSID credits on the days it covers, one report per day.

    With ``agency_id`` (an agency admin's view) only that agency's PSIDs count: lines for
    another agency's PSIDs are left out, unknown PSIDs still show as "there, not here".
    """
    if agency_id is not None:
        psids = {row.psid for row in rows}
        others = set(
            db.scalars(
                select(Payment.psid).where(
                    Payment.psid.in_(sorted(psids)), Payment.agency_id != agency_id
                )
            )
        )
        rows = [row for row in rows if row.psid not in others]
    days: dict[date, DayReport] = {}

    def day_of(moment: datetime) -> DayReport:
        day = moment.astimezone(KARACHI).date()
        return days.setdefault(day, DayReport(day=day))

    there: dict[tuple[str, str], SettlementRow] = {}
    for row in rows:
        there[(row.psid, row.transaction_id)] = row
        day_of(row.paid_at)
    if not rows:
        return []
    first = min(row.paid_at for row in rows)
    last = max(row.paid_at for row in rows)
    here: dict[tuple[str, str], tuple[int, datetime]] = {}
    credited = db.execute(
        select(
            Payment.psid,
            PaymentCredit.transaction_id,
            PaymentCredit.amount_paisa,
            PaymentCredit.paid_at,
        )
        .join(Payment, Payment.id == PaymentCredit.payment_id)
        .where(
            Payment.psid.is_not(None),
            PaymentCredit.channel.like("1bill:%"),
            *([Payment.agency_id == agency_id] if agency_id is not None else []),
        )
    )
    first_day, last_day = first.astimezone(KARACHI).date(), last.astimezone(KARACHI).date()
    for psid, transaction_id, amount, paid_at in credited:
        if psid is not None and first_day <= paid_at.astimezone(KARACHI).date() <= last_day:
            here[(psid, transaction_id)] = (amount, paid_at)
    for key, (amount, paid_at) in here.items():
        report = day_of(paid_at)
        found = there.get(key)
        if found is None:
            report.missing_there.append(f"{key[0]} {key[1]}")
        elif found.amount_paisa != amount:
            report.amount_mismatches.append(f"{key[0]} {key[1]}: {amount} / {found.amount_paisa}")
        else:
            report.matched += 1
    for key, row in there.items():
        if key not in here:
            day_of(row.paid_at).missing_here.append(f"{key[0]} {key[1]}")
    return [days[day] for day in sorted(days)]


def _cell(value: object) -> str:
    # A cell starting with = + - @ (or a tab or return) is a formula to a spreadsheet:
    # a quote in front keeps it text (OWASP's advice on CSV injection).
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_csv(reports: list[DayReport]) -> str:
    """The report as CSV, one line per day and per problem, safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day", "kind", "count_or_item"])
    for report in reports:
        day = report.day.isoformat()
        writer.writerow([day, "matched", report.matched])
        for kind, items in (
            ("paid_here_missing_there", report.missing_there),
            ("there_not_here", report.missing_here),
            ("amount_mismatch", report.amount_mismatches),
        ):
            writer.writerow([day, kind, len(items)])
            for item in items:
                writer.writerow([day, kind, _cell(item)])
    return out.getvalue()
