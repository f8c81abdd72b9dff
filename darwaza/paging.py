"""Keyset pagination: one page of rows, and where the next page starts.

A list a page at a time is asked for as "the rows after this one" in a fixed order, not
"skip N rows": the database reads only the page, however far into the list it is (an
``OFFSET`` reads and throws away every row before the page), and a row added or removed
meanwhile does not shift what the next page shows. The position is the ordering columns
of the page's last row, carried in the link as an opaque token (nothing secret: the
columns are a date and a public id).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

Row = TypeVar("Row")
Key = datetime | str

MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class Page(Generic[Row]):
    """The rows of one page, and the token that asks for the page after it (None: the last)."""

    rows: Sequence[Row]
    next_after: str | None = None
    # This page is not the first (it was asked for with a token).
    continued: bool = False


def after_token(*keys: Key) -> str:
    """The token for the position just after a row whose ordering columns are ``keys``."""
    values = [key.isoformat() if isinstance(key, datetime) else key for key in keys]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def read_after(token: str, *kinds: type[datetime] | type[str]) -> tuple[Key, ...] | None:
    """The ordering columns in a token from :func:`after_token`, typed as ``kinds``.

    A missing, edited or malformed token is None: the list starts again from the top,
    which is what a person following a broken link would want.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(values, list) or len(values) != len(kinds):
        return None
    keys: list[Key] = []
    for value, kind in zip(values, kinds, strict=True):
        if not isinstance(value, str):
            return None
        if kind is datetime:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return None
            if moment.tzinfo is None:
                return None
            keys.append(moment)
        else:
            keys.append(value)
    return tuple(keys)


def make_page(
    rows: Sequence[Row],
    *,
    size: int,
    key: Callable[[Row], tuple[Key, ...]],
    continued: bool,
) -> Page[Row]:
    """A page from up to ``size + 1`` rows read in order: an extra row only tells that
    another page follows, and the next page starts after the last row shown."""
    shown = rows[:size]
    more = len(rows) > size and bool(shown)
    return Page(
        rows=shown,
        next_after=after_token(*key(shown[-1])) if more else None,
        continued=continued,
    )
