"""CNIC, Pakistani mobile numbers and rupee amounts: reading what people type, showing
and masking them.

People type these numbers in many shapes (with dashes, spaces, a country code, or in
Urdu digits), so each ``parse_*`` function accepts the common shapes and returns one
canonical form that is stored and compared:

* a CNIC is kept as its 13 digits, shown as ``12345-1234567-1``;
* a mobile number is kept in E.164 form, ``+923001234567``.

A CNIC is personal data: show it in full only where the full number is needed, and
:func:`mask_cnic` everywhere else.
"""

from __future__ import annotations

import re
from typing import Final

from darwaza.errors import InvalidInput
from darwaza.i18n import N_

# Urdu keyboards type Extended Arabic-Indic digits (U+06F0..); Arabic ones type U+0660...
_DIGITS: Final = str.maketrans(
    "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩",
    "01234567890123456789",
)
# Separators people put between groups of digits; they carry no meaning.
_SEPARATORS: Final = re.compile(r"[\s\-‐‑‒–—().]")

CNIC_LENGTH: Final = 13
# The first digit of a CNIC is the province or region code: 1 Khyber Pakhtunkhwa,
# 2 former FATA, 3 Punjab, 4 Sindh, 5 Balochistan, 6 Islamabad, 7 Gilgit-Baltistan.
CNIC_REGION_CODES: Final = frozenset("1234567")

PAKISTAN_COUNTRY_CODE: Final = "92"


class InvalidCnic(InvalidInput):
    """Text that cannot be a CNIC."""

    code = "invalid_cnic"
    default_message = N_("Enter a valid CNIC: 13 digits, like 12345-1234567-1.")


class InvalidMobile(InvalidInput):
    """Text that cannot be a Pakistani mobile number."""

    code = "invalid_mobile"
    default_message = N_("Enter a Pakistani mobile number, like 0300 1234567.")


def ascii_digits(text: str) -> str:
    """``text`` with Urdu and Arabic digits replaced by ASCII digits."""
    return text.translate(_DIGITS)


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", ascii_digits(text).strip())


def parse_cnic(text: str) -> str:
    """The 13 digits of the CNIC in ``text``, or :class:`InvalidCnic`.

    Accepts ``12345-1234567-1``, the same with spaces, or 13 bare digits (ASCII or
    Urdu). The number is checked as far as it can be without NADRA's records: exactly
    13 digits, a first digit from 1 to 7 (the province or region code), and not one
    digit repeated throughout (``1111111111111`` is a placeholder, not a number).
    """
    digits = _compact(text)
    if (
        len(digits) != CNIC_LENGTH
        or not digits.isascii()
        or not digits.isdigit()
        or digits[0] not in CNIC_REGION_CODES
        or len(set(digits)) == 1
    ):
        raise InvalidCnic()
    return digits


def format_cnic(digits: str) -> str:
    """``3520212345671`` shown as ``35202-1234567-1`` (locality, serial, check digit).

    Display helpers never raise, because pages show drafts that may hold text that is
    not yet a CNIC: such text is returned as it is.
    """
    try:
        cnic = parse_cnic(digits)
    except InvalidCnic:
        return digits
    return f"{cnic[:5]}-{cnic[5:12]}-{cnic[12]}"


MASKED_CNIC: Final = "*****-*******-*"


def mask_cnic(digits: str) -> str:
    """The CNIC with its 7-digit serial hidden: ``35202-*******-1``.

    The first five digits only name a locality shared by many people and the last one
    is a check digit, so the part that singles out a person is the one hidden. The
    shape stays the familiar 5-7-1, so the holder still recognises it as a CNIC. Text
    that is not a CNIC is hidden entirely (``*****-*******-*``): a near-miss can be as
    personal as the real number.
    """
    try:
        cnic = parse_cnic(digits)
    except InvalidCnic:
        return MASKED_CNIC
    return f"{cnic[:5]}-{'*' * 7}-{cnic[12]}"


def parse_mobile(text: str) -> str:
    """The Pakistani mobile number in ``text`` in E.164 form (``+923001234567``).

    Accepts ``03001234567``, ``0300-1234567``, ``0300 1234567``, ``+923001234567``,
    ``923001234567``, ``00923001234567`` and ``3001234567``. A Pakistani mobile
    number is ``03`` and nine more digits: ten digits after the leading zero, the
    first of them 3. Anything else raises :class:`InvalidMobile`.
    """
    compact = _compact(text)
    if compact.startswith("+"):
        compact = compact[1:]
        if not compact.startswith(PAKISTAN_COUNTRY_CODE):
            raise InvalidMobile()
    if not compact.isascii() or not compact.isdigit():
        raise InvalidMobile()
    if compact.startswith("00" + PAKISTAN_COUNTRY_CODE):
        national = compact[4:]
    elif compact.startswith(PAKISTAN_COUNTRY_CODE) and len(compact) == 12:
        national = compact[2:]
    elif compact.startswith("0"):
        national = compact[1:]
    else:
        national = compact
    if len(national) != 10 or not national.startswith("3"):
        raise InvalidMobile()
    return f"+{PAKISTAN_COUNTRY_CODE}{national}"


_RUPEES: Final = re.compile(
    r"(?:rs\.?|pkr)?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s*(?:rs\.?|pkr)?"
)


class InvalidAmount(InvalidInput):
    """Text that cannot be an amount of rupees above zero."""

    code = "invalid_amount"
    default_message = N_("Enter an amount in rupees, such as 500 or 1,250.50.")


def parse_rupees(text: str) -> int:
    """An amount typed in rupees (``1,250``, ``1250.50``, ``Rs 500``, Urdu digits) as
    integer paisa; raises :class:`InvalidAmount` for anything else or for zero."""
    match = _RUPEES.fullmatch(text.translate(_DIGITS).strip().lower())
    if match is None:
        raise InvalidAmount()
    whole, fraction = match.group(1).replace(",", ""), (match.group(2) or "").ljust(2, "0")
    paisa = int(whole) * 100 + int(fraction)
    if paisa <= 0:
        raise InvalidAmount()
    return paisa
