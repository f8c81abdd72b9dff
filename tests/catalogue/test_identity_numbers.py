"""CNIC and mobile numbers as people type them, stored canonically and masked on screen."""

from __future__ import annotations

import pytest

from darwaza.i18n import translate
from darwaza.numbers import (
    InvalidCnic,
    InvalidMobile,
    format_cnic,
    mask_cnic,
    parse_cnic,
    parse_mobile,
)


@pytest.mark.parametrize(
    "typed",
    [
        "35202-1234567-1",
        "3520212345671",
        "35202 1234567 1",
        "  35202-1234567-1  ",
        "۳۵۲۰۲-۱۲۳۴۵۶۷-۱",  # typed on an Urdu keyboard
        "35202–1234567–1",  # an en dash pasted from a document
    ],
)
def test_cnic_typed_in_common_shapes_is_stored_as_13_digits(typed: str) -> None:
    assert parse_cnic(typed) == "3520212345671"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "35202-1234567",  # too short
        "35202-1234567-12",  # too long
        "85202-1234567-1",  # 8 is no province or region
        "05202-1234567-1",
        "1111111111111",  # a placeholder, not a number
        "3520A-1234567-1",
        "35202/1234567/1",
        "+3520212345671",
    ],
)
def test_text_that_cannot_be_a_cnic_is_refused_with_a_translatable_message(typed: str) -> None:
    with pytest.raises(InvalidCnic) as refused:
        parse_cnic(typed)
    assert refused.value.message.msgid == "Enter a valid CNIC: 13 digits, like 12345-1234567-1."
    assert refused.value.status_code == 422


def test_cnic_is_shown_5_7_1_and_masked_with_its_serial_hidden() -> None:
    assert format_cnic("3520212345671") == "35202-1234567-1"
    assert mask_cnic("3520212345671") == "35202-*******-1"
    assert mask_cnic("35202-1234567-1") == "35202-*******-1"
    assert "1234567" not in mask_cnic("3520212345671")


def test_display_helpers_never_raise_on_a_draft_that_is_not_a_number_yet() -> None:
    # A draft keeps what was typed; pages must still render it without showing a near-miss.
    assert format_cnic("35202-123456") == "35202-123456"
    assert mask_cnic("35202-123456") == "*****-*******-*"
    assert mask_cnic("1111111111111") == "*****-*******-*"


@pytest.mark.parametrize(
    "typed",
    [
        "03001234567",
        "0300-1234567",
        "0300 1234567",
        "+923001234567",
        "+92 300 1234567",
        "923001234567",
        "00923001234567",
        "3001234567",
        "(0300) 123-4567",
        "۰۳۰۰۱۲۳۴۵۶۷",
    ],
)
def test_mobile_typed_in_common_shapes_is_stored_in_e164(typed: str) -> None:
    assert parse_mobile(typed) == "+923001234567"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "0300123456",  # one digit short
        "030012345678",  # one digit too many
        "0421234567",  # a Lahore landline
        "+443001234567",  # another country
        "+0300 1234567",
        "0300-123456a",
        "92300123456",
        "04230012345",
    ],
)
def test_text_that_cannot_be_a_pakistani_mobile_is_refused(typed: str) -> None:
    with pytest.raises(InvalidMobile) as refused:
        parse_mobile(typed)
    assert refused.value.message.msgid == "Enter a Pakistani mobile number, like 0300 1234567."


def test_the_message_translates_at_the_edge() -> None:
    with pytest.raises(InvalidCnic) as refused:
        parse_cnic("nope")
    message = refused.value.message
    assert translate("en", message.msgid, message.params).startswith("Enter a valid CNIC")
