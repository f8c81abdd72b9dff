"""Agencies' signing keys and the platform's root key, kept sealed in the database.

Private keys are encrypted under ``DARWAZA_KEY_SEALING_SECRET`` and opened only in
memory, to sign. Rotation retires the current key (it signs nothing new) and keeps it
published while documents it signed may still be valid.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from darwaza.agencies.models import Agency, SigningKeyRecord
from darwaza.audit.actors import Actor
from darwaza.audit.anchors import checkpoint_anchor_for
from darwaza.audit.trail import create_checkpoint, record_event, sequence_all
from darwaza.clock import utcnow
from darwaza.crypto.keys import (
    LEGACY_SEALED_KEY_PREFIX,
    SEALED_KEY_PREFIX,
    SigningKey,
    VerifyingKey,
    generate_signing_key,
    jwk_thumbprint,
    kid_for_public_key,
    public_jwk,
    public_key_from_jwk,
    seal_private_key,
    unseal_private_key,
)
from darwaza.errors import NotFound
from darwaza.settings import Settings

PURPOSE_DOCUMENTS = "documents"
PURPOSE_ROOT = "trust_root"


@dataclass(frozen=True)
class ActiveKey:
    """A key ready to sign: its id and the opened private key (never logged)."""

    kid: str
    private_key: SigningKey

    def __repr__(self) -> str:
        return f"ActiveKey(kid={self.kid!r})"


def _create_key(
    db: Session, *, settings: Settings, agency_id: str | None, purpose: str, actor: Actor
) -> ActiveKey:
    private_key = generate_signing_key()
    kid = kid_for_public_key(private_key.public_key())
    db.add(
        SigningKeyRecord(
            kid=kid,
            agency_id=agency_id,
            purpose=purpose,
            public_jwk=public_jwk(private_key.public_key(), kid),
            sealed_private_key=seal_private_key(
                private_key, settings.key_sealing_secret, kid=kid, owner=agency_id or ""
            ),
        )
    )
    db.flush()
    record_event(
        db,
        actor=actor,
        action="key.created",
        object_type="signing_key",
        object_id=kid,
        after={"agency_id": agency_id, "purpose": purpose},
    )
    return ActiveKey(kid=kid, private_key=private_key)


# Every issuance, published list and trust bundle asks for a current key: statements
# built once (building one costs more than running it).
_CURRENT_KEY = (
    select(SigningKeyRecord)
    .where(SigningKeyRecord.purpose == bindparam("purpose"), SigningKeyRecord.retired_at.is_(None))
    .order_by(SigningKeyRecord.created_at.desc())
    .limit(1)
)
_CURRENT_AGENCY_KEY = _CURRENT_KEY.where(SigningKeyRecord.agency_id == bindparam("agency_id"))
_CURRENT_PLATFORM_KEY = _CURRENT_KEY.where(SigningKeyRecord.agency_id.is_(None))


def _current(db: Session, *, agency_id: str | None, purpose: str) -> SigningKeyRecord | None:
    if agency_id is None:
        return db.scalar(_CURRENT_PLATFORM_KEY, {"purpose": purpose})
    return db.scalar(_CURRENT_AGENCY_KEY, {"purpose": purpose, "agency_id": agency_id})


@functools.lru_cache(maxsize=256)
def open_sealed_key(blob: bytes, sealing_secret: str, *, kid: str, owner: str) -> SigningKey:
    """:func:`unseal_private_key`, remembered for the blob, secret, ``kid`` and owner.

    Opening costs a key derivation, a decryption and a DER parse each time, more than the
    two signatures of an issuance together. The cache is keyed by the sealed bytes
    themselves, so a rotated or resealed key is a new entry, never a stale one; the
    private keys it holds stay in this process's memory only, as they would while
    signing.
    """
    return unseal_private_key(blob, sealing_secret, kid=kid, owner=owner)


def _opened(record: SigningKeyRecord, settings: Settings) -> ActiveKey:
    """Open a row's sealed key; the blob is bound to the row's ``kid`` and agency."""
    private_key = open_sealed_key(
        bytes(record.sealed_private_key),
        settings.key_sealing_secret,
        kid=record.kid,
        owner=record.agency_id or "",
    )
    return ActiveKey(record.kid, private_key)


def signing_key_for(db: Session, *, settings: Settings, agency_id: str) -> ActiveKey:
    """The agency's current document-signing key, made on first use."""
    record = _current(db, agency_id=agency_id, purpose=PURPOSE_DOCUMENTS)
    if record is None:
        return _create_key(
            db,
            settings=settings,
            agency_id=agency_id,
            purpose=PURPOSE_DOCUMENTS,
            actor=Actor.system(),
        )
    return _opened(record, settings)


def root_key(db: Session, *, settings: Settings) -> ActiveKey:
    """The platform's root key, which signs the trust bundle; made on first use."""
    record = _current(db, agency_id=None, purpose=PURPOSE_ROOT)
    if record is None:
        return _create_key(
            db, settings=settings, agency_id=None, purpose=PURPOSE_ROOT, actor=Actor.system()
        )
    return _opened(record, settings)


_CURRENT_ROOT_JWK = (
    select(SigningKeyRecord.public_jwk)
    .where(
        SigningKeyRecord.purpose == PURPOSE_ROOT,
        SigningKeyRecord.retired_at.is_(None),
        SigningKeyRecord.agency_id.is_(None),
    )
    .order_by(SigningKeyRecord.created_at.desc())
    .limit(1)
)


_CURRENT_ROOT_KID = _CURRENT_PLATFORM_KEY.with_only_columns(SigningKeyRecord.kid)


def current_root_kid(db: Session) -> str | None:
    """The id of the platform's root key, without opening it; ``None`` before it is made."""
    return db.scalar(_CURRENT_ROOT_KID, {"purpose": PURPOSE_ROOT})


def current_root_thumbprint(db: Session, *, settings: Settings) -> str:
    """The RFC 7638 thumbprint of the platform's root key: what verifiers pin.

    Every verify page shows it: one statement built once, and the thumbprint remembered
    per public key. The first call on a new platform makes the root key.
    """
    published = published_root_thumbprint(db)
    if published is None:
        return jwk_thumbprint(root_key(db, settings=settings).private_key.public_key())
    return published


def published_root_thumbprint(db: Session | Connection) -> str | None:
    """The current root key's thumbprint, or ``None`` before the platform has made one.

    Only reads: a plain connection serves as well as a session.
    """
    connection = db if isinstance(db, Connection) else db.connection()
    found = connection.execute(_CURRENT_ROOT_JWK).scalar()
    return None if found is None else _thumbprint_of(json.dumps(found, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _thumbprint_of(jwk_json: str) -> str:
    return jwk_thumbprint(json.loads(jwk_json))


def rotate_agency_key(db: Session, *, settings: Settings, agency_id: str, actor: Actor) -> str:
    """Retire the agency's current key and make a new one; returns the new ``kid``."""
    if db.get(Agency, agency_id) is None:
        raise NotFound()
    current = _current(db, agency_id=agency_id, purpose=PURPOSE_DOCUMENTS)
    if current is not None:
        current.retired_at = utcnow()
        record_event(
            db,
            actor=actor,
            action="key.retired",
            object_type="signing_key",
            object_id=current.kid,
            after={"agency_id": agency_id},
        )
    return _create_key(
        db, settings=settings, agency_id=agency_id, purpose=PURPOSE_DOCUMENTS, actor=actor
    ).kid


def reseal_legacy_keys(db: Session, *, settings: Settings, actor: Actor) -> list[str]:
    """Seal again, bound to their ``kid`` and agency, the keys still sealed as ``DZK1``.

    Returns the ids of the keys resealed. Each key is opened first (so a blob that is not
    the key its row names is refused, not carried over) and the change is audited.
    """
    resealed = []
    # A platform holds a few keys per agency: reading them all is simpler than a
    # prefix test on binary columns that SQLite and PostgreSQL spell differently.
    for record in db.scalars(select(SigningKeyRecord).order_by(SigningKeyRecord.created_at)):
        if not record.sealed_private_key.startswith(LEGACY_SEALED_KEY_PREFIX):
            continue
        private_key = _opened(record, settings).private_key
        record.sealed_private_key = seal_private_key(
            private_key, settings.key_sealing_secret, kid=record.kid, owner=record.agency_id or ""
        )
        record_event(
            db,
            actor=actor,
            action="key.resealed",
            object_type="signing_key",
            object_id=record.kid,
            after={"agency_id": record.agency_id, "sealing": SEALED_KEY_PREFIX.decode()},
        )
        resealed.append(record.kid)
    db.flush()
    return resealed


def root_public_key(db: Session, *, kid: str) -> VerifyingKey | None:
    """A root key of the platform by its id, current or retired (checkpoints name it)."""
    record = db.get(SigningKeyRecord, kid)
    if record is None or record.purpose != PURPOSE_ROOT:
        return None
    return public_key_from_jwk(record.public_jwk)


def sign_audit_checkpoint(db: Session, *, settings: Settings) -> int | None:
    """Chain what is waiting, then the root key signs the trail's head and the checkpoint
    is anchored outside the database; returns the event covered, if any was new.

    Safe from several processes at once: one checkpoint per head is kept.
    """
    sequence_all(db)
    key = root_key(db, settings=settings)
    try:
        with db.begin_nested():
            checkpoint = create_checkpoint(db, signing_key=key.private_key, kid=key.kid)
    except IntegrityError:  # another process signed the same head a moment ago
        return None
    if checkpoint is None:
        return None
    checkpoint_anchor_for(settings).append(checkpoint.signature)
    return checkpoint.last_event_id
