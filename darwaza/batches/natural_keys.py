"""A register row's natural key and the id of the document it becomes."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any, Final

from darwaza.batches.registers import CheckedRow
from darwaza.catalogue import DocumentTypeDefinition
from darwaza.errors import InvalidInput, Message
from darwaza.i18n import N_
from darwaza.numbers import InvalidCnic, parse_cnic
from darwaza.settings import Settings


def document_id_for(
    settings: Settings, *, agency_id: str, document_type: str, key_values: Sequence[Any]
) -> str:
    """The id of the document a register row becomes, derived from its natural key.

    An HMAC under the platform's secret: the same row always gives the same id (so the
    primary key refuses a second issue), but nobody can guess ids from known facts.
    """
    message = _KEY_TEXT.encode([agency_id, document_type, list(key_values)])
    mac = _keyed_hash(settings.secret_key).copy()
    mac.update(message.encode())
    digest = mac.hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


# The ids of documents already issued depend on these bytes: json.dumps's own output.
_KEY_TEXT: Final = json.JSONEncoder(ensure_ascii=False)


@functools.lru_cache(maxsize=4)
def _keyed_hash(secret_key: str) -> hmac.HMAC:
    # The key's HMAC state, set up once and copied for each row.
    return hmac.new(secret_key.encode(), digestmod=hashlib.sha256)


_HOLDER = object()  # in a key plan: the row's holder CNIC


def key_plan(document_type: DocumentTypeDefinition) -> list[Any]:
    """What a row's natural key is made of, in order: a claim's name or ``_HOLDER``.

    Worked out once per register, not once per row.
    """
    names = document_type.natural_key or [c.name for c in document_type.claims]
    plan: list[Any] = [] if document_type.natural_key else [_HOLDER]
    for name in names:
        claim = document_type.claim(name)
        if claim is not None and claim.source == "citizen.cnic":
            plan.append(_HOLDER)
        elif claim is None or not claim.source.startswith("issued."):
            plan.append(name)
        # an issued.* claim is generated anew at every issue: it names no row
    return plan


def key_values(plan: Sequence[Any], row: CheckedRow) -> list[Any]:
    return [row.holder_cnic if part is _HOLDER else row.claims.get(part) for part in plan]


def typed_key(document_type: DocumentTypeDefinition, values: Sequence[str]) -> list[Any]:
    names = document_type.natural_key or []
    if len(values) != len(names):
        raise InvalidInput(
            fields={
                "keys": Message(N_("Each line must give {names}."), {"names": ", ".join(names)})
            }
        )
    typed: list[Any] = []
    for name, value in zip(names, values, strict=True):
        claim = document_type.claim(name)
        text = value.strip()
        if claim is not None and claim.source == "citizen.cnic":
            try:
                typed.append(parse_cnic(text))
            except InvalidCnic:
                typed.append(text)
        elif claim is not None and claim.type == "number":
            try:
                number = float(text)
                typed.append(int(number) if number.is_integer() else number)
            except ValueError:
                typed.append(text)
        else:
            typed.append(text)
    return typed
