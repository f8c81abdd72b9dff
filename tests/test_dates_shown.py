"""One date style per purpose, in both languages."""

from __future__ import annotations

from datetime import UTC, date, datetime

from darwaza.clock import show_day, show_moment

MORNING = datetime(2026, 12, 1, 4, 27, tzinfo=UTC)  # 9:27 in Karachi


def test_days_read_day_month_year() -> None:
    assert show_day(MORNING, "en") == "1 December 2026"
    assert show_day(date(2026, 12, 1), "ur") == "1 دسمبر 2026"
    # Late evening in UTC is already the next day in Pakistan.
    assert show_day(datetime(2026, 11, 30, 20, 0, tzinfo=UTC), "en") == "1 December 2026"


def test_moments_have_a_translated_am_and_pm() -> None:
    assert show_moment(MORNING, "en") == "1 Dec 2026, 9:27 am"
    assert show_moment(MORNING.replace(hour=12), "en") == "1 Dec 2026, 5:27 pm"
    urdu = show_moment(MORNING, "ur")
    assert urdu == "1 دسمبر 2026، 9:27 صبح"
    assert "AM" not in urdu and "PM" not in show_moment(MORNING.replace(hour=12), "ur")
