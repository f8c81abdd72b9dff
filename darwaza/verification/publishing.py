"""What the platform publishes for verifiers: status list tokens, issuer keys, the trust bundle.

Status list tokens are signed on request and cached per shard version, so a change of
status is visible at once to whoever fetches next, and within the token's ``ttl`` to
those who cache it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, bindparam, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from darwaza.agencies.keys import (
    PURPOSE_DOCUMENTS,
    current_root_kid,
    current_root_thumbprint,
    published_root_thumbprint,
    root_key,
    signing_key_for,
)
from darwaza.agencies.models import SigningKeyRecord
from darwaza.catalogue import Catalogue
from darwaza.clock import utcnow
from darwaza.crypto.keys import VerifyingKey, b64url_encode, public_key_from_jwk
from darwaza.database import read_engine, read_without_waiting, transaction
from darwaza.documents.formats.status_list import sign_status_list_token
from darwaza.documents.models import Document, DocumentStatus, StatusList
from darwaza.documents.service import issuer_url, status_code_at, status_list_url, statuses_of
from darwaza.documents.statuses import PUBLISHED, NotInMemory, StatusMemory, StatusSource
from darwaza.errors import NotFound
from darwaza.metrics import STATUS_LOOKUPS
from darwaza.settings import Settings
from darwaza.verification.trust_bundle import TrustedIssuer, sign_trust_bundle
from darwaza.verification.verdicts import IssuerInfo

T = TypeVar("T")

STATUS_LIST_TTL_SECONDS = 300
STATUS_LIST_LIFETIME = timedelta(days=1)
TRUST_BUNDLE_TTL_SECONDS = 300
TRUST_BUNDLE_LIFETIME = timedelta(days=7)
# Tokens are dated to the start of the hour: every process signing the same list in the
# same hour writes the same bytes (signatures are deterministic), so caches and phones
# holding a copy get 304 from any server until the list changes or the hour turns.
SIGNING_PERIOD = timedelta(hours=1)

_token_cache: dict[tuple[str, str, int, datetime], str] = {}
_token_cache_lock = threading.Lock()
_bundle_cache: dict[tuple[str, str], str] = {}
# Public keys by (database, agency, kid): a kid names one key for good, so this never
# goes stale; keys not found are not remembered, so a new key is seen at once.
_public_keys: dict[tuple[str, str, str], VerifyingKey] = {}
_MAX_CACHED = 1024


def signing_period_start(moment: datetime) -> datetime:
    """The start of the signing period (the hour, UTC) that ``moment`` falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def entity_tag(body: str) -> str:
    """A strong ETag for a published token: a digest of its exact bytes."""
    digest = hashlib.sha256(body.encode("utf-8")).digest()[:16]
    return f'"{b64url_encode(digest)}"'


def _first_signed_by_the_key(in_use: ColumnElement[bool]) -> ColumnElement[bool]:
    # A probe of ix_documents_kid_expiry (0018), in its order, for one document: as an
    # EXISTS, PostgreSQL guessed from the column statistics that a scan would meet one
    # at once, and read every document of a national table (1.1-1.5 s at 3 million) to
    # find a retired key had none left in use.
    first = (
        select(Document.kid)
        .where(Document.kid == SigningKeyRecord.kid, in_use)
        .order_by(Document.kid, Document.expires_at)
        .limit(1)
        .scalar_subquery()
    )
    return first.is_not(None)


# The keys agencies publish: each one's current key, and retired ones that signed a
# document still in use. Built once: the trust bundle asks for every agency's keys.
_PUBLISHED_KEYS = (
    select(SigningKeyRecord.agency_id, SigningKeyRecord.public_jwk, SigningKeyRecord.retired_at)
    .where(
        SigningKeyRecord.purpose == PURPOSE_DOCUMENTS,
        or_(
            SigningKeyRecord.retired_at.is_(None),
            _first_signed_by_the_key(Document.expires_at.is_(None)),
            _first_signed_by_the_key(Document.expires_at > bindparam("now")),
        ),
    )
    .order_by(SigningKeyRecord.created_at)
)
_PUBLISHED_KEYS_OF = _PUBLISHED_KEYS.where(SigningKeyRecord.agency_id == bindparam("agency_id"))
# Every agency's status list shards, oldest first.
_SHARDS = select(StatusList.agency_id, StatusList.id).order_by(StatusList.created_at, StatusList.id)


def published_jwks(db: Session, *, agency_id: str) -> dict[str, list[dict[str, Any]]]:
    """The agency's public keys: the current one, and retired ones whose documents live on."""
    rows = db.execute(_PUBLISHED_KEYS_OF, {"agency_id": agency_id, "now": utcnow()})
    return {"keys": [dict(row.public_jwk) for row in rows]}


@dataclass
class _PublishedKeys:
    """Every agency's published keys, and which agencies have a current key."""

    jwks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    with_current: set[str] = field(default_factory=set)


def _published_keys(db: Session) -> _PublishedKeys:
    published = _PublishedKeys()
    for row in db.execute(_PUBLISHED_KEYS, {"now": utcnow()}):
        published.jwks.setdefault(row.agency_id, []).append(dict(row.public_jwk))
        if row.retired_at is None:
            published.with_current.add(row.agency_id)
    return published


def status_list_token(db: Session, *, settings: Settings, status_list_id: str) -> str:
    """The signed ``statuslist+jwt`` of one shard, fresh for its current version."""
    shard = db.get(StatusList, status_list_id)
    if shard is None:
        raise NotFound()
    now = signing_period_start(utcnow())
    cached = _signed_already(settings, shard.id, shard.version, now)
    if cached is not None:
        return cached
    statuses = [0] * shard.capacity
    for index, status in statuses_of(db, status_list_id=shard.id):
        statuses[index] = DocumentStatus(status).code
    key = signing_key_for(db, settings=settings, agency_id=shard.agency_id)
    token = sign_status_list_token(
        private_key=key.private_key,
        kid=key.kid,
        issuer=issuer_url(settings, shard.agency_id),
        uri=status_list_url(settings, shard.id),
        statuses=statuses,
        issued_at=now,
        ttl_seconds=STATUS_LIST_TTL_SECONDS,
        expires_at=now + STATUS_LIST_LIFETIME,
    )
    with _token_cache_lock:
        if len(_token_cache) > _MAX_CACHED:
            _token_cache.clear()
        _token_cache[_token_key(settings, shard.id, shard.version, now)] = token
    return token


def _token_key(
    settings: Settings, shard_id: str, version: int, now: datetime
) -> tuple[str, str, int, datetime]:
    """A shard's token is signed once per version and signing period, in each process."""
    return (settings.resolved_database_url, shard_id, version, now)


def _signed_already(settings: Settings, shard_id: str, version: int, now: datetime) -> str | None:
    """The token this process signed for a shard's version in this signing period."""
    with _token_cache_lock:
        return _token_cache.get(_token_key(settings, shard_id, version, now))


def signed_status_list_without_waiting(settings: Settings, status_list_id: str) -> str | None:
    """The shard's token as this process signed it already for its current version, read
    where no lock can make the read wait (for the event loop; see
    :func:`~darwaza.database.read_without_waiting`). ``None`` when it cannot be read so,
    for a shard that does not exist, or when the token is still to be signed:
    :func:`status_list_token` then answers, in a thread."""
    version = read_without_waiting(
        settings,
        lambda connection: connection.execute(
            _SHARD_VERSION, {"shard": status_list_id}
        ).scalar_one_or_none(),
    )
    if version is None:
        return None
    return _signed_already(settings, status_list_id, version, signing_period_start(utcnow()))


@dataclass(frozen=True)
class Published(Generic[T]):
    """Something signed for verifiers: how to read it, and under what a server's memory
    keeps it (on PostgreSQL, :mod:`darwaza.documents.statuses`): ``subject`` is what it is
    signed from (a shard's id, or :data:`~darwaza.documents.statuses.PUBLISHED` for the
    keys and shards), ``name`` tells it from others signed from the same."""

    subject: str
    name: str
    read: Callable[[Session], T]

    def in_memory(self, memory: StatusMemory) -> T | None:
        """What ``memory`` keeps for the current signing period, while PostgreSQL tells it
        of every change (for the event loop); ``None`` otherwise: :meth:`read_to_keep`
        then answers, in a thread."""
        return cast("T | None", memory.kept(self.subject, self.name, _period()))

    def read_to_keep(self, memory: StatusMemory, settings: Settings) -> T:
        """Read from the primary, whose notifications ``memory`` hears (never a replica),
        and kept unless what it was read from changed, or the signing period turned,
        while it was read. In a thread.

        Kept for the signing period: a retired key whose last document expires within it
        is published until the period ends (an hour at most, as a cache may keep the
        bundle for its time to live), never dropped early.
        """
        period = _period()
        heard = memory.changes_heard(self.subject)
        with transaction(settings) as db:
            value = self.read(db)
        if _period() == period:
            memory.keep(self.subject, self.name, period, value, heard=heard)
        return value


def _period() -> datetime:
    return signing_period_start(utcnow())


def published_status_list(settings: Settings, status_list_id: str) -> Published[str]:
    """A shard's signed status list token (:func:`status_list_token`)."""
    read = functools.partial(status_list_token, settings=settings, status_list_id=status_list_id)
    return Published(status_list_id, "status-list", read)


def published_trust_bundle(settings: Settings, catalogue: Catalogue) -> Published[str]:
    """The trust bundle (:func:`trust_bundle_token`)."""
    read = functools.partial(trust_bundle_token, settings=settings, catalogue=catalogue)
    return Published(PUBLISHED, "trust-bundle", read)


def published_issuer_metadata(
    settings: Settings, catalogue: Catalogue, agency_id: str
) -> Published[dict[str, Any]]:
    """An agency's issuer metadata, with its keys (:func:`issuer_metadata`)."""
    read = functools.partial(
        issuer_metadata, settings=settings, catalogue=catalogue, agency_id=agency_id
    )
    return Published(PUBLISHED, f"issuer-metadata:{agency_id}", read)


_SHARD_VERSION = select(StatusList.version).where(StatusList.id == bindparam("shard"))


def issuer_metadata(
    db: Session, *, settings: Settings, catalogue: Catalogue, agency_id: str
) -> dict[str, Any]:
    """The SD-JWT VC issuer metadata of an agency, with its keys inline."""
    if agency_id not in catalogue.agencies:
        raise NotFound()
    signing_key_for(db, settings=settings, agency_id=agency_id)  # an issuer always has a key
    return {
        "issuer": issuer_url(settings, agency_id),
        "jwks": published_jwks(db, agency_id=agency_id),
    }


def _issuer_entries(
    db: Session, *, settings: Settings, catalogue: Catalogue
) -> list[dict[str, Any]]:
    """Every agency as the bundle's payload writes it (``TrustedIssuer.to_json``).

    Two statements however many agencies there are (and a key made for an agency that
    has none yet, on first use, as for issuing).
    """
    published = _published_keys(db)
    keyless = [agency for agency in catalogue.agencies if agency not in published.with_current]
    if keyless:
        for agency_id in keyless:
            signing_key_for(db, settings=settings, agency_id=agency_id)
        published = _published_keys(db)
    shards: dict[str, list[str]] = {}
    for agency_id, shard_id in db.execute(_SHARDS):
        shards.setdefault(agency_id, []).append(status_list_url(settings, shard_id))
    entries = []
    for agency in catalogue.agencies.values():
        entry: dict[str, Any] = {
            "issuer": issuer_url(settings, agency.id),
            "name_en": agency.name.en,
            "name_ur": agency.name.ur,
            "jwks": {"keys": published.jwks.get(agency.id, [])},
        }
        if agency.id in shards:
            entry["status_list_uris"] = shards[agency.id]
        entries.append(entry)
    return entries


def trust_bundle_token(db: Session, *, settings: Settings, catalogue: Catalogue) -> str:
    """The trust bundle: every issuer's keys and status lists, signed by the root key.

    Signed again only when what it lists changes or the signing period turns, so its
    bytes (and ETag) stay the same meanwhile, in every process. Finding the copy signed
    already reads the root key's id and what is listed, as rows: the keys are parsed, and
    the root key opened, only to sign.
    """
    now = signing_period_start(utcnow())
    root_kid = current_root_kid(db) or root_key(db, settings=settings).kid
    entries = _issuer_entries(db, settings=settings, catalogue=catalogue)
    listed = json.dumps([root_kid, now.isoformat(), *entries], sort_keys=True)
    cache_key = (settings.resolved_database_url, hashlib.sha256(listed.encode()).hexdigest())
    with _token_cache_lock:
        cached = _bundle_cache.get(cache_key)
    if cached is not None:
        return cached
    token = sign_trust_bundle(
        root_private_key=root_key(db, settings=settings).private_key,
        platform_url=settings.base_url.rstrip("/"),
        issuers=[TrustedIssuer.from_json(entry) for entry in entries],
        issued_at=now,
        expires_at=now + TRUST_BUNDLE_LIFETIME,
    )
    with _token_cache_lock:
        if len(_bundle_cache) > _MAX_CACHED:
            _bundle_cache.clear()
        _bundle_cache[cache_key] = token
    return token


def root_key_thumbprint(db: Session, *, settings: Settings) -> str:
    """The RFC 7638 thumbprint of the platform's root key: what verifiers pin."""
    return current_root_thumbprint(db, settings=settings)


def root_key_thumbprint_without_waiting(settings: Settings) -> str | None:
    """The root key's thumbprint read where no lock can make the read wait (for the event
    loop; see :func:`~darwaza.database.read_without_waiting`). ``None`` where it cannot be
    read so, or before the root key is made: :func:`read_root_key_thumbprint` then
    answers, in a thread."""
    return read_without_waiting(settings, published_root_thumbprint)


def read_root_key_thumbprint(settings: Settings) -> str:
    """The root key's thumbprint, read on its own (from the replica when there is one);
    on a new platform the first reader makes the root key, in a transaction of its own."""
    with read_engine(settings, statement_by_statement=True).connect() as connection:
        published = published_root_thumbprint(connection)
    if published is not None:
        return published
    with transaction(settings) as db:
        return root_key_thumbprint(db, settings=settings)


def offline_package(db: Session, *, settings: Settings, catalogue: Catalogue) -> dict[str, Any]:
    """What an offline verifier saves: the trust bundle and every current status list.

    ``root_thumbprint`` is informational: a verifier pins the thumbprint it learnt through
    another channel, never the one written in the file it is checking.
    """
    shards = db.scalars(select(StatusList.id)).all()
    return {
        "root_thumbprint": root_key_thumbprint(db, settings=settings),
        "trust_bundle": trust_bundle_token(db, settings=settings, catalogue=catalogue),
        "status_lists": {
            status_list_url(settings, shard_id): status_list_token(
                db, settings=settings, status_list_id=shard_id
            )
            for shard_id in shards
        },
        "saved_at": utcnow().isoformat(),
    }


class PlatformTrust:
    """The platform's own agencies, keys and status lists, for verifying online."""

    def __init__(self, *, settings: Settings, catalogue: Catalogue) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self._agency_prefix = issuer_url(settings, "")
        self._status_prefix = status_list_url(settings, "")

    def issuer_key(self, issuer: str, kid: str) -> tuple[VerifyingKey, IssuerInfo] | None:
        """A key of one of the platform's agencies, current or retired."""
        if not issuer.startswith(self._agency_prefix):
            return None
        agency = self.catalogue.agencies.get(issuer.removeprefix(self._agency_prefix))
        if agency is None:
            return None
        info = IssuerInfo(issuer=issuer, name_en=agency.name.en, name_ur=agency.name.ur)
        cache_key = (self.settings.resolved_database_url, agency.id, kid)
        public_key = _public_keys.get(cache_key)
        if public_key is not None:
            return public_key, info
        jwk = self._stored_key(agency.id, kid)
        if jwk is None:
            return None
        public_key = public_key_from_jwk(jwk)
        if len(_public_keys) < _MAX_CACHED:
            _public_keys[cache_key] = public_key
        return public_key, info

    def _stored_key(self, agency_id: str, kid: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def status_of(self, uri: str, index: int) -> int | None:
        raise NotImplementedError

    def _shard_of(self, uri: str) -> str | None:
        return (
            uri.removeprefix(self._status_prefix) if uri.startswith(self._status_prefix) else None
        )


class DatabaseTrustSource(PlatformTrust):
    """Keys and statuses from the database, through an ORM session or, for a check that
    only reads, a plain connection; statuses from the server's memory where it keeps
    them (:mod:`darwaza.documents.statuses`), reading a shard it lacks."""

    def __init__(
        self,
        db: Session | Connection,
        *,
        settings: Settings,
        catalogue: Catalogue,
        memory: StatusMemory | None = None,
    ) -> None:
        super().__init__(settings=settings, catalogue=catalogue)
        self.db = db
        self.memory = memory

    def _stored_key(self, agency_id: str, kid: str) -> dict[str, Any] | None:
        jwk: dict[str, Any] | None = self.db.scalar(
            select(SigningKeyRecord.public_jwk).where(
                SigningKeyRecord.kid == kid, SigningKeyRecord.agency_id == agency_id
            )
        )
        return jwk

    def status_of(self, uri: str, index: int) -> int | None:
        """The current status at a slot of one of the platform's status lists."""
        shard_id = self._shard_of(uri)
        if shard_id is None:
            return None
        if self.memory is not None and self.memory.listening.listening:
            return self.memory.code_read(shard_id, index)
        STATUS_LOOKUPS.labels(StatusSource.DATABASE).inc()
        return status_code_at(self.db, status_list_id=shard_id, index=index)


class MemoryTrustSource(PlatformTrust):
    """Only the keys and statuses this server holds in memory, for a check on the event
    loop: anything else raises :class:`~darwaza.documents.statuses.NotInMemory`."""

    def __init__(self, memory: StatusMemory, *, settings: Settings, catalogue: Catalogue) -> None:
        super().__init__(settings=settings, catalogue=catalogue)
        self.memory = memory

    def _stored_key(self, agency_id: str, kid: str) -> dict[str, Any] | None:
        raise NotInMemory(kid)

    def status_of(self, uri: str, index: int) -> int | None:
        shard_id = self._shard_of(uri)
        if shard_id is None:
            return None
        return self.memory.code_in_memory(shard_id, index)
