"""Registers for bulk-issuance tests: HEC degree attestations, made up but valid."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

HEADER = ["cnic", "full_name", "degree_title", "programme", "university", "year_of_completion"]


def graduate(number: int, *, year: int = 2024, name: str | None = None) -> list[str]:
    """One row: a distinct CNIC and name for each number."""
    return [
        f"35202{number:07d}3",
        name or f"Graduate {number}",
        "BS Computer Science",
        "Computer Science",
        "University of the Punjab",
        str(year),
    ]


def register_csv(rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER) -> bytes:
    """A CSV register with a header line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def graduates_csv(count: int, *, start: int = 1) -> bytes:
    """A register of ``count`` graduates."""
    return register_csv(graduate(n) for n in range(start, start + count))
