"""Human tracking numbers: ``DZ-1234-5678-90``, the last digit a Verhoeff check digit.

The check digit catches every single-digit typo and every swap of neighbouring digits,
so a mistyped number is refused instead of finding someone else's case.
"""

from __future__ import annotations

import secrets

from stdnum import verhoeff

PREFIX = "DZ"


def new_tracking_number() -> str:
    """A random 9-digit body with its check digit, grouped for reading aloud."""
    body = f"{secrets.randbelow(10**9):09d}"
    digits = body + verhoeff.calc_check_digit(body)
    return f"{PREFIX}-{digits[0:4]}-{digits[4:8]}-{digits[8:10]}"
