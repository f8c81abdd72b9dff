"""Payment slip ids (PSIDs): what a citizen types as the consumer number at any bank.

A PSID is 18 digits: 17 drawn from the operating system's random source (so one PSID
says nothing about the next) and a Luhn check digit, which catches any single mistyped
digit and most swapped neighbours before a bank asks us.
"""

from __future__ import annotations

import secrets
from typing import Final

PSID_LENGTH: Final = 18


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for ``digits``."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def new_psid() -> str:
    """A fresh random PSID with its check digit (uniqueness is the table's to enforce)."""
    body = str(secrets.randbelow(9 * 10 ** (PSID_LENGTH - 2)) + 10 ** (PSID_LENGTH - 2))
    return body + luhn_digit(body)


def is_well_formed_psid(text: str) -> bool:
    """Eighteen ASCII digits whose last is the Luhn check digit of the rest."""
    return (
        len(text) == PSID_LENGTH
        and text.isascii()
        and text.isdigit()
        and luhn_digit(text[:-1]) == text[-1]
    )
