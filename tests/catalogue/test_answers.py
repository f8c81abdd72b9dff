"""A citizen's answers are cleaned for storage, and every problem comes back as a msgid."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from darwaza.catalogue import ServiceDefinition, answers
from darwaza.catalogue.answers import FieldError, validate_answers
from darwaza.catalogue.loading import load_catalogue
from darwaza.i18n import translate

TODAY = date(2025, 6, 15)


def label(en: str, ur: str) -> dict[str, str]:
    return {"en": en, "ur": ur}


SERVICE = ServiceDefinition.model_validate(
    {
        "id": "test-every-field",
        "agency": "hec",
        "title": label("Every field", "ہر خانہ"),
        "description": label("A form with every kind of field.", "ہر قسم کے خانوں والا فارم۔"),
        "eligibility": label("Tests.", "آزمائش۔"),
        "fields": [
            {
                "name": "full_name",
                "type": "text",
                "label": label("Full name", "پورا نام"),
                "min": 3,
                "max": 20,
            },
            {
                "name": "roll_number",
                "type": "text",
                "label": label("Roll number", "رول نمبر"),
                "pattern": "[A-Z]{2}-[0-9]{4}",
                "required": False,
            },
            {"name": "address", "type": "textarea", "label": label("Address", "پتہ")},
            {
                "name": "year",
                "type": "number",
                "label": label("Year", "سال"),
                "min": 1950,
                "max": "current_year",
            },
            {
                "name": "height",
                "type": "number",
                "label": label("Height in metres", "قد میٹر میں"),
                "decimal_places": 2,
                "min": 0.5,
                "required": False,
            },
            {
                "name": "children",
                "type": "number",
                "label": label("Children", "بچے"),
                "required": False,
            },
            {
                "name": "date_of_birth",
                "type": "date",
                "label": label("Date of birth", "تاریخِ پیدائش"),
                "min": date(1900, 1, 1),
                "max": "today",
            },
            {
                "name": "gender",
                "type": "select",
                "label": label("Gender", "جنس"),
                "options": [
                    {"value": "male", "label": label("Male", "مرد")},
                    {"value": "female", "label": label("Female", "عورت")},
                ],
            },
            {"name": "cnic", "type": "cnic", "label": label("CNIC", "شناختی کارڈ نمبر")},
            {"name": "mobile", "type": "phone", "label": label("Mobile", "موبائل")},
            {
                "name": "email",
                "type": "email",
                "label": label("E-mail", "ای میل"),
                "required": False,
            },
        ],
        "fee_paisa": 0,
        "service_level_days": 1,
    }
)

GOOD = {
    "full_name": "  Fatima   Khan ",
    "roll_number": "BS-2015",
    "address": " House 1, Street 2\r\nF-7/2, Islamabad ",
    "year": "2015",
    "height": "1.62",
    "children": "",
    "date_of_birth": "1993-08-14",
    "gender": "female",
    "cnic": "35202-1234567-1",
    "mobile": "0300 1234567",
    "email": "Fatima.Khan@Example.PK",
}


def check(**changes: str) -> answers.AnswerCheck:
    return validate_answers(SERVICE, GOOD | changes, today=TODAY, partial=False)


def error_of(name: str, typed: str) -> FieldError:
    outcome = check(**{name: typed})
    assert set(outcome.errors) == {name}, outcome.errors
    assert outcome.values[name] == typed  # what was typed is kept, not lost
    return outcome.errors[name]


def test_good_answers_are_cleaned_for_storage() -> None:
    outcome = check()
    assert outcome.ok
    assert outcome.values == {
        "full_name": "Fatima Khan",
        "roll_number": "BS-2015",
        "address": "House 1, Street 2\nF-7/2, Islamabad",
        "year": 2015,
        "height": 1.62,
        "children": "",
        "date_of_birth": "1993-08-14",
        "gender": "female",
        "cnic": "3520212345671",
        "mobile": "+923001234567",
        "email": "Fatima.Khan@example.pk",
    }


def test_cleaned_answers_pass_again_unchanged() -> None:
    # Stored answers are checked again on submission, as text.
    first = check()
    again = validate_answers(
        SERVICE, {k: str(v) for k, v in first.values.items()}, today=TODAY, partial=False
    )
    assert again.ok and again.values == first.values


@pytest.mark.parametrize(
    ("typed", "msgid", "params"),
    [
        ("Al", answers.LENGTH_OUT_OF_RANGE, {"min": 3, "max": 20}),
        ("A" * 21, answers.LENGTH_OUT_OF_RANGE, {"min": 3, "max": 20}),
        ("Fatima\x00Khan", answers.NOT_ALLOWED_CHARACTERS, {}),
    ],
)
def test_text_problems(typed: str, msgid: str, params: dict[str, Any]) -> None:
    error = error_of("full_name", typed)
    assert error.msgid == msgid
    assert error.params == {"label": label("Full name", "پورا نام")} | params


def test_a_pattern_must_match_the_whole_answer() -> None:
    assert error_of("roll_number", "bs-2015").msgid == answers.PATTERN_MISMATCH
    assert error_of("roll_number", "XBS-20150").msgid == answers.PATTERN_MISMATCH


def test_a_textarea_without_a_maximum_still_has_one() -> None:
    assert error_of("address", "x" * 4001).params["max"] == 4000


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("2015", 2015), (" 1950 ", 1950), ("۲۰۱۵", 2015), ("2015.0", 2015), ("+2015", 2015)],
)
def test_good_numbers(typed: str, stored: int) -> None:
    assert check(year=typed).values["year"] == stored


@pytest.mark.parametrize(
    ("typed", "msgid"),
    [
        ("1949", answers.NUMBER_OUT_OF_RANGE),
        ("2026", answers.NUMBER_OUT_OF_RANGE),  # the current year is the limit
        ("twenty", answers.NUMBER_OUT_OF_RANGE),
        ("2015.5", answers.NOT_A_WHOLE_NUMBER),
        ("1e3", answers.NUMBER_OUT_OF_RANGE),
    ],
)
def test_bad_numbers(typed: str, msgid: str) -> None:
    error = error_of("year", typed)
    assert error.msgid == msgid
    if msgid == answers.NUMBER_OUT_OF_RANGE:
        assert (error.params["min"], error.params["max"]) == (1950, 2025)
        assert translate("en", error.msgid, error.params) == "Enter a number between 1950 and 2025."


def test_numbers_with_decimals_and_one_sided_limits() -> None:
    assert check(height="1.5").values["height"] == 1.5
    assert check(children="1,000").values["children"] == 1000
    assert error_of("height", "1.625").msgid == answers.TOO_MANY_DECIMALS
    assert error_of("height", "0.4").msgid == answers.NUMBER_TOO_SMALL
    assert error_of("children", "many").msgid == answers.NOT_A_NUMBER


def test_dates() -> None:
    assert check(date_of_birth="۱۹۹۳-۰۸-۱۴").values["date_of_birth"] == "1993-08-14"
    assert check(date_of_birth="2025-06-15").ok  # today is allowed
    assert error_of("date_of_birth", "14/08/1993").msgid == answers.NOT_A_DATE
    assert error_of("date_of_birth", "1993-8-14").msgid == answers.NOT_A_DATE
    assert error_of("date_of_birth", "1993-02-30").msgid == answers.NO_SUCH_DATE
    future = error_of("date_of_birth", "2025-06-16")
    assert future.msgid == answers.DATE_OUT_OF_RANGE
    assert (future.params["min"], future.params["max"]) == ("1900-01-01", "2025-06-15")


def test_select_cnic_phone_and_email() -> None:
    assert error_of("gender", "Female").msgid == answers.NOT_AN_OPTION
    assert error_of("cnic", "35202-1234567").msgid == answers.NOT_A_CNIC
    assert error_of("mobile", "042 1234567").msgid == answers.NOT_A_MOBILE
    for typed in ("fatima", "fatima@", "fatima@example", "fa tima@example.pk", "a..b@x.pk"):
        assert error_of("email", typed).msgid == answers.NOT_AN_EMAIL


def test_required_answers_on_submission() -> None:
    answered = dict(GOOD)
    del answered["gender"]
    answered["full_name"] = "   "
    answered["email"] = ""
    outcome = validate_answers(SERVICE, answered, today=TODAY, partial=False)
    assert set(outcome.errors) == {"gender", "full_name"}
    required = outcome.errors["gender"]
    assert required.msgid == answers.REQUIRED
    assert required.params == {"label": label("Gender", "جنس")}
    assert translate("en", required.msgid, required.params) == "Gender is required."
    assert outcome.values["full_name"] == ""
    assert "gender" not in outcome.values


def test_a_draft_saves_everything_typed_and_still_reports_problems() -> None:
    outcome = validate_answers(
        SERVICE,
        {"full_name": "Fatima Khan", "year": "nineteen", "cnic": "", "unknown": "x"},
        today=TODAY,
        partial=True,
    )
    assert outcome.values == {"full_name": "Fatima Khan", "year": "nineteen", "cnic": ""}
    assert set(outcome.errors) == {"year"}  # nothing is "required" in a draft
    assert not outcome.ok


def test_every_message_is_a_msgid_with_named_placeholders() -> None:
    for name in dir(answers):
        value = getattr(answers, name)
        if name.isupper() and isinstance(value, str) and value.endswith("."):
            filled = translate(
                "en",
                value,
                {"label": "X", "min": 1, "max": 2, "places": 2, "limit": "5 MB", "types": "PDF"},
            )
            assert "{" not in filled


def test_demo_degree_attestation_form() -> None:
    catalogue = load_catalogue(Path(__file__).parents[2] / "darwaza" / "demo" / "catalogue")
    service = catalogue.service("hec-degree-attestation")
    typed = {
        "full_name": "Fatima Khan",
        "university": "quaid-i-azam-university",
        "degree_title": "Bachelor of Science (Honours)",
        "programme": "Computer Science",
        "registration_number": "QAU/2011/CS-042",
        "year_of_completion": "2015",
        "date_of_birth": "1993-08-14",
    }
    assert validate_answers(service, typed, today=TODAY, partial=False).ok
    late = validate_answers(
        service, typed | {"year_of_completion": "2026"}, today=TODAY, partial=False
    )
    assert late.errors["year_of_completion"].params["max"] == 2025
    assert validate_answers(service, {}, today=TODAY, partial=True).ok
    assert len(validate_answers(service, {}, today=TODAY, partial=False).errors) == 7
