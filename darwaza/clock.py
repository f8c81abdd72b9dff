"""Time on the platform: stored in UTC, shown and counted in Pakistan's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

from darwaza.i18n import N_, babel_locale, normalise_language, translate

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


def show_day(value: datetime | date | None, language: str) -> str:
    """A calendar day as people read it, the one style for dates: "1 December 2026".

    A time is first moved to Pakistan's time zone, so the day is the one in Pakistan.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(KARACHI).date()
    return format_date(value, "d MMMM y", locale=babel_locale(language))


def show_moment(value: datetime | None, language: str) -> str:
    """A moment in Pakistan's time, the one style for times: "1 Dec 2026, 9:27 am".

    In Urdu: "1 دسمبر 2026، 9:27 صبح" (صبح before noon, شام after), Urdu's comma.
    """
    if value is None:
        return ""
    local = value.astimezone(KARACHI)
    locale = babel_locale(language)
    day = format_date(local.date(), "d MMM y", locale=locale)
    clock = format_time(local, "h:mm", locale=locale)
    half = translate(language, N_("am") if local.hour < 12 else N_("pm"))
    comma = "،" if normalise_language(language) == "ur" else ","
    return f"{day}{comma} {clock} {half}"
