"""Time on the platform: stored in UTC, shown and counted in Pakistan's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

KARACHI: Final = ZoneInfo("Asia/Karachi")
"""Pakistan's time zone: dates people see, working days and quiet hours are counted in it."""


def utcnow() -> datetime:
    """The current time in UTC (the only time zone stored)."""
    return datetime.now(UTC)


def today_in_pakistan() -> date:
    """Today's date in Asia/Karachi, against which dates in forms are checked."""
    return utcnow().astimezone(KARACHI).date()


def numeric_date(moment: datetime) -> int:
    """A JWT/CWT NumericDate: whole seconds since the epoch of an aware time."""
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone (use UTC)")
    return int(moment.timestamp())
