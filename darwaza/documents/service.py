"""Issuing documents and changing their status.

A document is issued once, in two forms that carry the same status reference: an
SD-JWT VC (every personal claim selectively disclosable) and a compact QR. Its slot in
the agency's status list is chosen at random, so an index says nothing about when or
to whom a document was issued.
"""

from __future__ import annotations

import math
import secrets
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from darwaza.agencies.keys import signing_key_for
from darwaza.audit.access import record_staff_view
from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.catalogue import Catalogue, ClaimDefinition, DocumentTypeDefinition
from darwaza.clock import KARACHI, utcnow
from darwaza.database import table_of
from darwaza.documents.formats.compact_qr import encode_compact_qr
from darwaza.documents.formats.sd_jwt import issue_sd_jwt
from darwaza.documents.models import NOT_VALID_SQL, Document, DocumentStatus, StatusList
from darwaza.documents.statuses import PUBLISHED, forget_when_committed
from darwaza.errors import (
    Conflict,
    DarwazaError,
    IllegalTransition,
    InvalidInput,
    Message,
    NotFound,
)
from darwaza.i18n import N_
from darwaza.identity.contact import link, tell_citizen
from darwaza.identity.models import Citizen, StaffMember
from darwaza.numbers import InvalidCnic, parse_cnic
from darwaza.settings import Settings

STATUS_LIST_CAPACITY = 131_072  # 2 bits each: 32 KiB before compression
STATUS_LIST_FILL_LIMIT = STATUS_LIST_CAPACITY // 2  # keeps random slot-finding quick
SLOT_ATTEMPTS = 20


def issuer_url(settings: Settings, agency_id: str) -> str:
    """The ``iss`` of an agency's documents; its metadata is under ``/.well-known/``."""
    return f"{settings.base_url.rstrip('/')}/agencies/{agency_id}"


def status_list_url(settings: Settings, status_list_id: str) -> str:
    """Where the signed status list token of one shard is published."""
    return f"{settings.base_url.rstrip('/')}/status-lists/{status_list_id}"


_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 letters: 5 random bits each
_NUMBER_LENGTH = 11


def _document_number() -> str:
    # One draw of 55 random bits, read 5 at a time (as uniform as 11 separate choices).
    bits = secrets.randbits(5 * _NUMBER_LENGTH)
    return "D" + "".join(_NUMBER_ALPHABET[(bits >> (5 * n)) & 31] for n in range(_NUMBER_LENGTH))


def _coerce(claim: ClaimDefinition, value: Any) -> Any:
    if value is None or value == "":
        raise ValueError("missing")
    if claim.type == "date":
        return date.fromisoformat(str(value)).isoformat()
    if claim.type == "number":
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("NaN and infinities are not numbers a document can carry")
        return int(number) if number.is_integer() else number
    return str(value)


def resolve_claims(
    document_type: DocumentTypeDefinition,
    *,
    given: Mapping[str, Any],
    citizen_full_name: str | None,
    holder_cnic: str,
    answers: Mapping[str, Any],
    issued_on: date,
    expires_on: date | None,
) -> dict[str, Any]:
    """The document's claims from their sources; explicitly given values come first."""
    sources: dict[str, Any] = {
        "citizen.full_name": citizen_full_name,
        "citizen.cnic": holder_cnic,
        "issued.date": issued_on.isoformat(),
        "issued.number": _document_number(),
        "issued.expiry_date": expires_on.isoformat() if expires_on else None,
    }
    claims: dict[str, Any] = {}
    errors: dict[str, Message] = {}
    for claim in document_type.claims:
        if claim.name in given:
            raw = given[claim.name]
        elif claim.application_field:
            raw = answers.get(claim.application_field)
        else:
            raw = sources.get(claim.source)
        try:
            claims[claim.name] = _coerce(claim, raw)
        except (TypeError, ValueError):
            errors[claim.name] = Message(
                N_("{label}: a value is missing or not valid."), {"label": claim.label.model_dump()}
            )
    unknown = set(given) - {claim.name for claim in document_type.claims}
    for name in sorted(unknown):
        errors[name] = Message(N_("This document type has no claim called {name}."), {"name": name})
    if errors:
        raise InvalidInput(fields=errors)
    return claims


def _status_list_with_room(db: Session, *, agency_id: str) -> StatusList:
    shard = db.scalar(
        select(StatusList)
        .where(StatusList.agency_id == agency_id, StatusList.allocated < STATUS_LIST_FILL_LIMIT)
        .order_by(StatusList.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    return shard if shard is not None else _new_shard(db, agency_id=agency_id)


def _new_shard(db: Session, *, agency_id: str) -> StatusList:
    """A shard opened for the agency: the trust bundle lists it, so this process's
    memories forget what they publish as it commits (others hear it, migration 0019)."""
    shard = StatusList(agency_id=agency_id, capacity=STATUS_LIST_CAPACITY, allocated=0)
    db.add(shard)
    db.flush()
    forget_when_committed(db, [PUBLISHED])
    return shard


def _free_slot(db: Session, shard: StatusList) -> int:
    for _ in range(SLOT_ATTEMPTS):
        index = secrets.randbelow(shard.capacity)
        taken = db.scalar(
            select(Document.id).where(
                Document.status_list_id == shard.id, Document.status_index == index
            )
        )
        if taken is None:
            return index
    raise Conflict()


def issue_document(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    agency_id: str,
    document_type_id: str,
    holder_cnic: str,
    given_claims: Mapping[str, Any] | None = None,
    citizen: Citizen | None = None,
    application_id: str | None = None,
    answers: Mapping[str, Any] | None = None,
    idempotency_key: str | None = None,
    actor: Actor,
) -> Document:
    """Sign and record a document. A retry with the same idempotency key returns the first."""
    document_type = catalogue.document_types.get(document_type_id)
    if document_type is None or document_type.agency != agency_id:
        raise NotFound(N_("This agency issues no document of that type."))
    try:
        cnic = parse_cnic(holder_cnic)
    except InvalidCnic as error:
        raise InvalidInput(fields={"cnic": error.message}) from error
    if idempotency_key:
        earlier = db.scalar(
            select(Document).where(
                Document.agency_id == agency_id, Document.issue_idempotency_key == idempotency_key
            )
        )
        if earlier is not None:
            return earlier
    if citizen is None:
        # Issued to a CNIC: the name comes from the account only once it is proven.
        holder = db.scalar(select(Citizen).where(Citizen.cnic == cnic))
        named_by = holder if holder is not None and holder.identity_proven else None
    else:
        named_by = citizen
    issued_at = utcnow().replace(microsecond=0)
    issued_on = issued_at.astimezone(KARACHI).date()
    expires_at = (
        None
        if document_type.validity.never_expires
        else issued_at + timedelta(days=document_type.validity.valid_for_days or 0)
    )
    claims = resolve_claims(
        document_type,
        given=given_claims or {},
        citizen_full_name=named_by.full_name if named_by else None,
        holder_cnic=cnic,
        answers=answers or {},
        issued_on=issued_on,
        expires_on=expires_at.astimezone(KARACHI).date() if expires_at else None,
    )
    key = signing_key_for(db, settings=settings, agency_id=agency_id)
    issuer = issuer_url(settings, agency_id)
    for _ in range(3):
        shard = _status_list_with_room(db, agency_id=agency_id)
        index = _free_slot(db, shard)
        status_uri = status_list_url(settings, shard.id)
        document = Document(
            agency_id=agency_id,
            document_type=document_type.id,
            citizen_id=citizen.id if citizen else None,
            holder_cnic=cnic,
            application_id=application_id,
            claims=claims,
            status_list_id=shard.id,
            status_index=index,
            kid=key.kid,
            sd_jwt=issue_sd_jwt(
                private_key=key.private_key,
                kid=key.kid,
                issuer=issuer,
                vct=document_type.vct,
                claims=claims,
                disclosable=[c.name for c in document_type.claims if c.personal],
                status_uri=status_uri,
                status_index=index,
                issued_at=issued_at,
                expires_at=expires_at,
            ),
            qr_text=encode_compact_qr(
                private_key=key.private_key,
                issuer=issuer,
                document_type=document_type.vct,
                claims={c.name: claims[c.name] for c in document_type.claims if c.in_qr},
                status_uri=status_uri,
                status_index=index,
                issued_at=issued_at,
                expires_at=expires_at,
            ),
            issue_idempotency_key=idempotency_key,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        try:
            with db.begin_nested():
                db.add(document)
                db.flush()
        except IntegrityError:
            continue  # another issuance took the slot at the same moment: draw again
        shard.allocated += 1
        shard.updated_at = utcnow()
        record_event(
            db,
            actor=actor,
            action="document.issued",
            object_type="document",
            object_id=document.id,
            after={
                "document_type": document_type.id,
                "agency_id": agency_id,
                "application_id": application_id,
                "status": DocumentStatus.VALID,
            },
        )
        return document
    raise Conflict()


@dataclass(frozen=True)
class BulkItem:
    """One document of a bulk issue: its id (derived by the caller, unique), holder, claims."""

    document_id: str
    holder_cnic: str
    claims: Mapping[str, Any]


@dataclass(frozen=True)
class BulkIssued:
    """A document issued in bulk: its id and its SD-JWT (what its batch's tree hashes)."""

    document_id: str
    sd_jwt: str


def _bulk_shard(db: Session, *, agency_id: str) -> StatusList:
    # Each bulk writer holds one open shard to itself until it commits (SKIP LOCKED): two
    # chunks drawing random slots in the same shard at once would collide (500 slots each
    # in 131,072 is a birthday problem), while in different shards they never wait or clash.
    # A writer that finds every open shard taken opens another. SQLite has one writer.
    shard = db.scalar(
        select(StatusList)
        .where(StatusList.agency_id == agency_id, StatusList.allocated < STATUS_LIST_FILL_LIMIT)
        .order_by(StatusList.created_at.desc())
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return shard if shard is not None else _new_shard(db, agency_id=agency_id)


def _random_slots(capacity: int, count: int) -> list[int]:
    """``count`` random slots below ``capacity``, from one read of the system's randomness.

    64 random bits per slot: the remainder's bias is below 2**-46 for any real capacity
    (none for a power of two, such as the default 131,072).
    """
    raw = secrets.token_bytes(8 * count)
    return [value % capacity for value in struct.unpack(f"<{count}Q", raw)]


def _bulk_slots(db: Session, shard: StatusList, count: int) -> list[int]:
    # Free slots in the order they were drawn: random, so a slot says nothing of the row.
    chosen: dict[int, None] = {}
    for _ in range(SLOT_ATTEMPTS):
        wanted = count - len(chosen)
        if wanted <= 0:
            break
        drawn = [slot for slot in _random_slots(shard.capacity, wanted) if slot not in chosen]
        taken = set(
            db.scalars(
                select(Document.status_index).where(
                    Document.status_list_id == shard.id, Document.status_index.in_(set(drawn))
                )
            )
        )
        chosen.update((slot, None) for slot in drawn if slot not in taken)
    if len(chosen) < count:
        raise Conflict()
    return list(chosen)[:count]


def issue_documents_in_bulk(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    agency_id: str,
    document_type_id: str,
    items: Sequence[BulkItem],
) -> list[BulkIssued | DarwazaError]:
    """Sign and record many documents of one type in the caller's transaction.

    Each item's id is the caller's (bulk issuance derives it from the row's natural key),
    so the primary key makes a second issue of the same row fail instead of doubling it.
    Returns, per item, its document or the error that refused it; refused items write
    nothing. No audit event per document: the caller records one for the whole batch.
    """
    document_type = catalogue.document_types.get(document_type_id)
    if document_type is None or document_type.agency != agency_id:
        raise NotFound(N_("This agency issues no document of that type."))
    key = signing_key_for(db, settings=settings, agency_id=agency_id)
    issuer = issuer_url(settings, agency_id)
    issued_at = utcnow().replace(microsecond=0)
    issued_on = issued_at.astimezone(KARACHI).date()
    expires_at = (
        None
        if document_type.validity.never_expires
        else issued_at + timedelta(days=document_type.validity.valid_for_days or 0)
    )
    expires_on = expires_at.astimezone(KARACHI).date() if expires_at else None
    disclosable = [c.name for c in document_type.claims if c.personal]
    in_qr = [c.name for c in document_type.claims if c.in_qr]
    resolved: list[tuple[BulkItem, str, dict[str, Any]] | DarwazaError] = []
    for item in items:
        try:
            cnic = parse_cnic(item.holder_cnic)
            claims = resolve_claims(
                document_type,
                given=item.claims,
                citizen_full_name=None,
                holder_cnic=cnic,
                answers={},
                issued_on=issued_on,
                expires_on=expires_on,
            )
        except InvalidCnic as error:
            resolved.append(InvalidInput(fields={"cnic": error.message}))
            continue
        except DarwazaError as error:
            resolved.append(error)
            continue
        resolved.append((item, cnic, claims))
    to_sign = [entry for entry in resolved if not isinstance(entry, DarwazaError)]
    results: dict[str, BulkIssued] = {}
    shard: StatusList | None = None
    position = 0
    while position < len(to_sign):
        if shard is None or shard.allocated >= STATUS_LIST_FILL_LIMIT:
            shard = _bulk_shard(db, agency_id=agency_id)
        room = max(STATUS_LIST_FILL_LIMIT - shard.allocated, 1)
        part = to_sign[position : position + room]
        slots = _bulk_slots(db, shard, len(part))
        status_uri = status_list_url(settings, shard.id)
        rows: list[dict[str, Any]] = []
        for (item, cnic, claims), index in zip(part, slots, strict=True):
            signed = issue_sd_jwt(
                private_key=key.private_key,
                kid=key.kid,
                issuer=issuer,
                vct=document_type.vct,
                claims=claims,
                disclosable=disclosable,
                status_uri=status_uri,
                status_index=index,
                issued_at=issued_at,
                expires_at=expires_at,
            )
            rows.append(
                {
                    "id": item.document_id,
                    "agency_id": agency_id,
                    "document_type": document_type.id,
                    "citizen_id": None,
                    "holder_cnic": cnic,
                    "application_id": None,
                    "claims": claims,
                    "status": DocumentStatus.VALID,
                    "status_list_id": shard.id,
                    "status_index": index,
                    "kid": key.kid,
                    "sd_jwt": signed,
                    "qr_text": encode_compact_qr(
                        private_key=key.private_key,
                        issuer=issuer,
                        document_type=document_type.vct,
                        claims={name: claims[name] for name in in_qr},
                        status_uri=status_uri,
                        status_index=index,
                        issued_at=issued_at,
                        expires_at=expires_at,
                    ),
                    "issue_idempotency_key": None,
                    "issued_at": issued_at,
                    "expires_at": expires_at,
                }
            )
            results[item.document_id] = BulkIssued(item.document_id, signed)
        # One multi-row insert, in Core: neither ORM objects nor the ORM's bulk path.
        db.execute(insert(table_of(Document)), rows)
        # The shard's row is this writer's (locked): counted here, written at the flush.
        shard.allocated += len(part)
        shard.updated_at = utcnow()
        position += len(part)
    return [
        entry if isinstance(entry, DarwazaError) else results[entry[0].document_id]
        for entry in resolved
    ]


def change_statuses_in_bulk(
    db: Session, *, document_ids: Sequence[str], agency_id: str, action: str, reason: str
) -> int:
    """Suspend, reinstate or revoke many documents of one agency in one step.

    Documents not in a state the action applies to are left as they are. Each touched
    shard's version goes up once, so verifiers see every change at their next fetch. The
    caller records the audit event (one for the whole set). Returns how many changed.
    """
    sources, target = _STATUS_CHANGES[action]
    text = reason.strip()
    if not text:
        raise InvalidInput(fields={"reason": Message(N_("Give a reason."))})
    now = utcnow()
    changed = 0
    shards: set[str] = set()
    for start in range(0, len(document_ids), 500):
        part = document_ids[start : start + 500]
        condition = (
            Document.id.in_(part),
            Document.agency_id == agency_id,
            Document.status.in_(sorted(sources)),
        )
        shards |= set(db.scalars(select(Document.status_list_id).where(*condition).distinct()))
        result = db.execute(
            update(Document)
            .where(*condition)
            .values(status=DocumentStatus(target), status_reason=text[:2000], status_changed_at=now)
            .execution_options(synchronize_session=False)
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    for shard_id in sorted(shards):
        db.execute(
            update(StatusList)
            .where(StatusList.id == shard_id)
            .values(version=StatusList.version + 1, updated_at=now)
        )
    forget_when_committed(db, shards)
    return changed


_STATUS_CHANGES: dict[str, tuple[frozenset[str], str]] = {
    "suspend": (frozenset({DocumentStatus.VALID}), DocumentStatus.SUSPENDED),
    "reinstate": (frozenset({DocumentStatus.SUSPENDED}), DocumentStatus.VALID),
    "revoke": (frozenset({DocumentStatus.VALID, DocumentStatus.SUSPENDED}), DocumentStatus.REVOKED),
}


def change_document_status(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    document: Document,
    action: str,
    reason: str,
    actor: Actor,
) -> Document:
    """Suspend, reinstate or revoke. Revocation is final. Verifiers see it at the next fetch.

    The holder, if they have an account, is told of a suspension or revocation in the
    same transaction.
    """
    sources, target = _STATUS_CHANGES[action]
    if document.status not in sources:
        raise IllegalTransition(
            N_("This document cannot be changed that way in its current state.")
        )
    text = reason.strip()
    if not text:
        raise InvalidInput(fields={"reason": Message(N_("Give a reason."))})
    before = {"status": document.status}
    document.status = DocumentStatus(target)
    document.status_reason = text[:2000]
    document.status_changed_at = utcnow()
    shard = db.get(StatusList, document.status_list_id, with_for_update=True)
    assert shard is not None
    shard.version += 1
    shard.updated_at = document.status_changed_at
    forget_when_committed(db, [shard.id])
    record_event(
        db,
        actor=actor,
        action=f"document.{action}",
        object_type="document",
        object_id=document.id,
        before=before,
        after={"status": target, "reason": text},
    )
    event = {"suspend": "document_suspended", "revoke": "document_revoked"}.get(action)
    holder = holder_of(db, document=document) if event else None
    if event and holder is not None:
        title = catalogue.document_type(document.document_type).title
        tell_citizen(
            db,
            settings=settings,
            citizen=holder,
            event=event,
            values={
                "document": title.in_language(holder.preferred_language),
                "link": link(settings, f"/wallet/{document.id}"),
            },
            reference=document.id,
        )
    return document


def agency_document(db: Session, *, agency_id: str, document_id: str) -> Document:
    """A document the agency issued, or 404."""
    document = db.get(Document, document_id)
    if document is None or document.agency_id != agency_id:
        raise NotFound()
    return document


def statuses_of(db: Session, *, status_list_id: str) -> Sequence[tuple[int, str]]:
    """The slots of a shard that are not valid (valid is the default, 0)."""
    # The condition as the partial index ix_documents_not_valid states it, written out
    # (not a bound value), so the planner can use that index in every plan.
    return db.execute(
        select(Document.status_index, Document.status).where(
            Document.status_list_id == status_list_id, text(NOT_VALID_SQL)
        )
    ).all()


_STATUS_AT = (
    select(StatusList.capacity, Document.status)
    .outerjoin(
        Document,
        (Document.status_list_id == StatusList.id) & (Document.status_index == bindparam("index")),
    )
    .where(StatusList.id == bindparam("shard"))
)


def status_code_at(db: Session | Connection, *, status_list_id: str, index: int) -> int | None:
    """The 2-bit status at one slot, or ``None`` if the shard does not exist."""
    # One indexed round trip through a statement built once: every verification online
    # asks this, and building the query costs more than running it.
    connection = db if isinstance(db, Connection) else db.connection()
    row = connection.execute(_STATUS_AT, {"shard": status_list_id, "index": index}).first()
    if row is None or not 0 <= index < row.capacity:
        return None
    return (row.status or DocumentStatus.VALID).code


def _held_by(citizen: Citizen) -> ColumnElement[bool]:
    """The one rule of who holds a document.

    A document issued to the account (an application the citizen made) is theirs. One
    issued to a CNIC is theirs only once they are proven to hold that CNIC: otherwise
    whoever signed up first with someone's CNIC would receive their documents.
    """
    if citizen.identity_proven:
        return (Document.citizen_id == citizen.id) | (Document.holder_cnic == citizen.cnic)
    return Document.citizen_id == citizen.id


def documents_of(db: Session, *, citizen: Citizen) -> Sequence[Document]:
    """The citizen's documents, newest first."""
    return db.scalars(
        select(Document).where(_held_by(citizen)).order_by(Document.issued_at.desc())
    ).all()


def citizen_document(db: Session, *, citizen: Citizen, document_id: str) -> Document:
    """One of the citizen's own documents, or 404."""
    document = db.scalar(select(Document).where(Document.id == document_id, _held_by(citizen)))
    if document is None:
        raise NotFound()
    return document


def holder_of(db: Session, *, document: Document) -> Citizen | None:
    """The citizen who holds a document, once they have an account (see :func:`_held_by`)."""
    if document.citizen_id is not None:
        return db.get(Citizen, document.citizen_id)
    holder = db.scalar(select(Citizen).where(Citizen.cnic == document.holder_cnic))
    return holder if holder is not None and holder.identity_proven else None


def record_officer_look(db: Session, *, officer: StaffMember, document: Document) -> None:
    """Note that an officer opened a document: its holder sees it on their account."""
    holder = holder_of(db, document=document)
    record_staff_view(
        db,
        staff_id=officer.id,
        agency_id=officer.agency_id,
        object_type="document",
        object_id=document.id,
        subject_id=holder.id if holder else None,
    )
