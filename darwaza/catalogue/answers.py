"""Checking a citizen's answers and uploads against a service's definition.

Nothing here is translated. Each problem is a :class:`FieldError`: an English msgid
and its parameters, translated where it is shown (:func:`darwaza.i18n.translate`).
Every error's parameters include ``label``, the field's label as
``{"en": .., "ur": ..}``, which the edge resolves in the reader's language; messages
about ranges also carry ``min`` and ``max`` (numbers, or dates as ``YYYY-MM-DD``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import filetype

from darwaza.catalogue.schema import (
    FieldDefinition,
    RequiredDocument,
    ServiceDefinition,
    resolve_bound,
)
from darwaza.errors import Message
from darwaza.i18n import N_
from darwaza.numbers import (
    InvalidCnic,
    InvalidMobile,
    ascii_digits,
    parse_cnic,
    parse_mobile,
)
from darwaza.pictures import UnreadablePicture, picture_size

Answer = str | int | float
"""A cleaned answer, ready to store as JSON."""

REQUIRED: Final = N_("{label} is required.")
NOT_ALLOWED_CHARACTERS: Final = N_("This answer contains characters that are not allowed.")
TOO_SHORT: Final = N_("Enter at least {min} characters.")
TOO_LONG: Final = N_("Enter at most {max} characters.")
LENGTH_OUT_OF_RANGE: Final = N_("Enter between {min} and {max} characters.")
PATTERN_MISMATCH: Final = N_("This does not match the required format.")
NOT_A_NUMBER: Final = N_("Enter a number.")
NOT_A_WHOLE_NUMBER: Final = N_("Enter a whole number.")
TOO_MANY_DECIMALS: Final = N_("Enter a number with at most {places} digits after the point.")
NUMBER_OUT_OF_RANGE: Final = N_("Enter a number between {min} and {max}.")
NUMBER_TOO_SMALL: Final = N_("Enter a number of at least {min}.")
NUMBER_TOO_LARGE: Final = N_("Enter a number of at most {max}.")
NOT_A_DATE: Final = N_("Enter a date as YYYY-MM-DD.")
NO_SUCH_DATE: Final = N_("That date does not exist; check the day and the month.")
DATE_OUT_OF_RANGE: Final = N_("Enter a date between {min} and {max}.")
DATE_TOO_EARLY: Final = N_("Enter a date on or after {min}.")
DATE_TOO_LATE: Final = N_("Enter a date on or before {max}.")
NOT_AN_OPTION: Final = N_("Choose one of the options.")
NOT_A_CNIC: Final = InvalidCnic.default_message
NOT_A_MOBILE: Final = InvalidMobile.default_message
NOT_AN_EMAIL: Final = N_("Enter a valid e-mail address.")
NOT_AN_UPLOAD: Final = N_("This document comes from your wallet; it cannot be uploaded.")
EMPTY_FILE: Final = N_("The file is empty. Choose another file.")
FILE_TOO_LARGE: Final = N_("The file is too large. Choose a file of at most {limit}.")
WRONG_FILE_TYPE: Final = N_("This kind of file cannot be used here. Choose a file of type {types}.")
PICTURE_TOO_LARGE: Final = N_(
    "This picture has far more pixels than a photo needs. Choose a smaller picture."
)
MAX_PICTURE_PIXELS: Final = 64_000_000  # more than any phone camera, far less than a bomb


@dataclass(frozen=True)
class FieldError(Message):
    """A problem with one answer or upload: an English msgid and its parameters.

    ``params["label"]`` is the field's label as ``{"en": .., "ur": ..}``.
    """


@dataclass(frozen=True)
class AnswerCheck:
    """The outcome of checking a form.

    ``values`` has an entry for every field of the service that was answered: the
    cleaned value where the answer is valid (a CNIC as 13 digits, a mobile number as
    ``+923001234567``, a date as ``YYYY-MM-DD``, a number as a number, other text
    trimmed) and, where it is not, the text exactly as typed, so that saving
    ``values`` never loses what the citizen wrote. ``errors`` says what is wrong, by
    field name.
    """

    values: dict[str, Answer] = field(default_factory=dict)
    errors: dict[str, FieldError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every answer passed."""
        return not self.errors


def validate_answers(
    service: ServiceDefinition, raw: Mapping[str, str], *, today: date, partial: bool
) -> AnswerCheck:
    """Check the answers in ``raw`` (field name to text as typed) against ``service``.

    ``partial=True`` is for saving a draft: a required field left empty is not an error
    yet, but whatever was typed is still checked, so the citizen sees problems early.
    ``partial=False`` is for submitting: every required field must be answered.
    Names in ``raw`` that are not fields of the service are ignored. Date bounds of
    ``today`` and number bounds of ``current_year`` are taken from ``today`` (the date
    in Pakistan).
    """
    values: dict[str, Answer] = {}
    errors: dict[str, FieldError] = {}
    for definition in service.fields:
        if definition.name not in raw:
            if definition.required and not partial:
                errors[definition.name] = _error(definition, REQUIRED)
            continue
        typed = raw[definition.name]
        text = typed if isinstance(typed, str) else str(typed)
        if not text.strip():
            values[definition.name] = ""
            if definition.required and not partial:
                errors[definition.name] = _error(definition, REQUIRED)
            continue
        outcome = check_answer(definition, text, today=today)
        if isinstance(outcome, FieldError):
            values[definition.name] = text
            errors[definition.name] = outcome
        else:
            values[definition.name] = outcome
    return AnswerCheck(values=values, errors=errors)


def check_answer(definition: FieldDefinition, text: str, *, today: date) -> Answer | FieldError:
    """The cleaned value of one non-empty answer, or what is wrong with it."""
    if definition.type in ("text", "textarea"):
        return _check_text(definition, text)
    if definition.type == "number":
        return _check_number(definition, text, today=today)
    if definition.type == "date":
        return _check_date(definition, text, today=today)
    if definition.type == "select":
        value = text.strip()
        return value if definition.option(value) else _error(definition, NOT_AN_OPTION)
    if definition.type == "cnic":
        try:
            return parse_cnic(text)
        except InvalidCnic:
            return _error(definition, NOT_A_CNIC)
    if definition.type == "phone":
        try:
            return parse_mobile(text)
        except InvalidMobile:
            return _error(definition, NOT_A_MOBILE)
    return _check_email(definition, text)


def _error(definition: FieldDefinition, msgid: str, **params: Any) -> FieldError:
    return FieldError(msgid, {"label": definition.label.model_dump(), **params})


# Characters no answer needs and some storage refuses (PostgreSQL text cannot hold NUL).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _check_text(definition: FieldDefinition, text: str) -> Answer | FieldError:
    if definition.type == "text":
        # One line: runs of spaces, tabs or stray line breaks become a single space.
        value = " ".join(text.split())
    else:
        value = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if _CONTROL.search(value):
        return _error(definition, NOT_ALLOWED_CHARACTERS)
    shortest = definition.min if isinstance(definition.min, int) else None
    longest = definition.max_length
    if (shortest is not None and len(value) < shortest) or (
        longest is not None and len(value) > longest
    ):
        if shortest and longest is not None:
            return _error(definition, LENGTH_OUT_OF_RANGE, min=shortest, max=longest)
        if shortest and len(value) < shortest:
            return _error(definition, TOO_SHORT, min=shortest)
        return _error(definition, TOO_LONG, max=longest)
    if definition.pattern is not None and not re.fullmatch(definition.pattern, value):
        return _error(definition, PATTERN_MISMATCH)
    return value


_NUMBER: Final = re.compile(r"[+-]?\d+(?:\.\d+)?")
# Group separators people type (Western comma, Arabic thousands separator) carry no value.
_NUMBER_GROUPING: Final = str.maketrans({",": None, "٬": None, " ": None, "٫": "."})


def _check_number(definition: FieldDefinition, text: str, *, today: date) -> Answer | FieldError:
    lowest = resolve_bound(definition.min, today=today)
    highest = resolve_bound(definition.max, today=today)
    compact = ascii_digits(text.strip()).translate(_NUMBER_GROUPING)
    if not _NUMBER.fullmatch(compact):
        return _number_range_error(definition, lowest, highest) or _error(definition, NOT_A_NUMBER)
    try:
        number = Decimal(compact)
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        return _error(definition, NOT_A_NUMBER)
    fraction = number != number.to_integral_value()
    if fraction and definition.decimal_places == 0:
        return _error(definition, NOT_A_WHOLE_NUMBER)
    exponent = number.normalize().as_tuple().exponent
    if fraction and isinstance(exponent, int) and -exponent > definition.decimal_places:
        return _error(definition, TOO_MANY_DECIMALS, places=definition.decimal_places)
    if (lowest is not None and number < Decimal(str(lowest))) or (
        highest is not None and number > Decimal(str(highest))
    ):
        error = _number_range_error(definition, lowest, highest)
        assert error is not None  # a bound was crossed, so there is one
        return error
    if not fraction:
        return int(number)
    return float(number)


def _number_range_error(
    definition: FieldDefinition, lowest: object, highest: object
) -> FieldError | None:
    if lowest is not None and highest is not None:
        return _error(definition, NUMBER_OUT_OF_RANGE, min=lowest, max=highest)
    if lowest is not None:
        return _error(definition, NUMBER_TOO_SMALL, min=lowest)
    if highest is not None:
        return _error(definition, NUMBER_TOO_LARGE, max=highest)
    return None


_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _check_date(definition: FieldDefinition, text: str, *, today: date) -> Answer | FieldError:
    compact = ascii_digits(text.strip())
    if not _ISO_DATE.fullmatch(compact):
        return _error(definition, NOT_A_DATE)
    try:
        day = date.fromisoformat(compact)
    except ValueError:
        return _error(definition, NO_SUCH_DATE)
    earliest = resolve_bound(definition.min, today=today)
    latest = resolve_bound(definition.max, today=today)
    too_early = isinstance(earliest, date) and day < earliest
    too_late = isinstance(latest, date) and day > latest
    if too_early or too_late:
        if isinstance(earliest, date) and isinstance(latest, date):
            return _error(
                definition, DATE_OUT_OF_RANGE, min=earliest.isoformat(), max=latest.isoformat()
            )
        if isinstance(earliest, date):
            return _error(definition, DATE_TOO_EARLY, min=earliest.isoformat())
        if isinstance(latest, date):
            return _error(definition, DATE_TOO_LATE, max=latest.isoformat())
    return day.isoformat()


# Deliberately plain: what people mistype (spaces, missing @ or domain, double dots) is
# caught; whether the address exists is only known by writing to it.
_EMAIL: Final = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
MAX_EMAIL_LENGTH: Final = 254


def _check_email(definition: FieldDefinition, text: str) -> Answer | FieldError:
    value = text.strip()
    match = _EMAIL.fullmatch(value)
    if match is None or len(value) > MAX_EMAIL_LENGTH or len(match["local"]) > 64:
        return _error(definition, NOT_AN_EMAIL)
    return f"{match['local']}@{match['domain'].lower()}"


# --- uploads ------------------------------------------------------------------------------

FILE_TYPE_NAMES: Final[Mapping[str, str]] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
}


def check_upload(requirement: RequiredDocument, filename: str, content: bytes) -> FieldError | None:
    """What is wrong with a file uploaded for ``requirement``, or None if it may be kept.

    The kind of file is recognised from its content; the file name and the content type
    the browser claimed are not trusted (a program renamed ``degree.pdf`` is refused).
    ``filename`` is only for the caller's records. An empty file is refused.
    """
    label = requirement.label.model_dump()
    rule = requirement.upload
    if rule is None:
        return FieldError(NOT_AN_UPLOAD, {"label": label})
    if not content:
        return FieldError(EMPTY_FILE, {"label": label})
    if len(content) > rule.max_bytes:
        return FieldError(
            FILE_TOO_LARGE,
            {"label": label, "limit": human_size(rule.max_bytes), "max_bytes": rule.max_bytes},
        )
    kind = filetype.guess(content)
    if kind is None or kind.mime not in rule.allowed_types:
        types = ", ".join(FILE_TYPE_NAMES.get(mime, mime) for mime in rule.allowed_types)
        return FieldError(WRONG_FILE_TYPE, {"label": label, "types": types})
    if kind.mime.startswith("image/"):
        # Only the header is read: a picture that declares more pixels than any camera
        # makes is a decompression bomb waiting for an officer's browser.
        try:
            picture_size(content, max_pixels=MAX_PICTURE_PIXELS)
        except UnreadablePicture as problem:
            message = PICTURE_TOO_LARGE if problem.too_large else WRONG_FILE_TYPE
            types = ", ".join(FILE_TYPE_NAMES.get(mime, mime) for mime in rule.allowed_types)
            return FieldError(message, {"label": label, "types": types})
    return None


def human_size(size_bytes: int) -> str:
    """A size as people write it: ``5 MB``, ``1.5 MB``, ``200 KB``."""
    megabyte = 1024 * 1024
    if size_bytes >= megabyte:
        return f"{round(size_bytes / megabyte, 1):g} MB"
    if size_bytes >= 1024:
        return f"{round(size_bytes / 1024, 1):g} KB"
    return f"{size_bytes} bytes"
