"""Checking a document on the platform itself: against its own keys and status lists."""

from __future__ import annotations

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from darwaza.catalogue import Catalogue
from darwaza.clock import utcnow
from darwaza.database import read_engine, read_without_waiting, transaction
from darwaza.documents.statuses import StatusMemory
from darwaza.metrics import VERIFICATIONS
from darwaza.settings import Settings
from darwaza.verification.offline import (
    FOREIGN_LINK,
    SHARE_PATH,
    is_link,
    on_platform,
    share_token_of,
)
from darwaza.verification.publishing import DatabaseTrustSource, MemoryTrustSource
from darwaza.verification.verdicts import Verdict, VerificationResult
from darwaza.verification.verifier import verify_credential
from darwaza.wallet import service as wallet


def names_a_share(text: str) -> bool:
    """Whether the text is a share link (opening one is recorded: a write)."""
    candidate = text.strip()
    return candidate.startswith(SHARE_PATH) or is_link(candidate)


def verify_text(
    db: Session,
    *,
    settings: Settings,
    catalogue: Catalogue,
    text: str,
    user_agent: str = "",
) -> VerificationResult:
    """Verify a QR text, an SD-JWT, or a share link of this platform.

    Trust comes only from the platform's own database: a link naming another host is
    refused, never followed, even when its token is one of this platform's. Opening a
    share link is recorded in ``db``; :func:`check_text` picks the session to match.
    """
    candidate = text.strip()
    token: str | None = None
    if candidate.startswith(SHARE_PATH):
        token = candidate.removeprefix(SHARE_PATH).split("?")[0].strip("/")
    elif is_link(candidate):
        if not on_platform(candidate, settings.base_url):
            return VerificationResult(verdict=Verdict.UNKNOWN_ISSUER, reasons=[FOREIGN_LINK])
        token = share_token_of(candidate, settings.base_url)
    if token is None:
        return verify_document(db, settings=settings, catalogue=catalogue, text=candidate)
    trust = DatabaseTrustSource(db, settings=settings, catalogue=catalogue)
    share = wallet.live_share(db, token=token)
    result = verify_credential(share.presentation, trust=trust, now=utcnow())
    wallet.record_opening(db, share=share, verdict=result.verdict.value, user_agent=user_agent)
    return _counted(result)


def verify_document(
    db: Session | Connection,
    *,
    settings: Settings,
    catalogue: Catalogue,
    text: str,
    memory: StatusMemory | None = None,
) -> VerificationResult:
    """Verify a QR text or an SD-JWT (not a share link) against the platform's keys and
    status lists: reads only, so a plain connection serves as well as a session."""
    trust = DatabaseTrustSource(db, settings=settings, catalogue=catalogue, memory=memory)
    return _counted(verify_credential(text, trust=trust, now=utcnow()))


def _counted(result: VerificationResult) -> VerificationResult:
    VERIFICATIONS.labels(
        result.verdict.value, result.format.value if result.format else "unknown"
    ).inc()
    return result


def check_text(
    *,
    settings: Settings,
    catalogue: Catalogue,
    text: str,
    user_agent: str = "",
    memory: StatusMemory | None = None,
) -> VerificationResult:
    """Verify text in a transaction of its own: the primary for a share link (opening one
    is recorded), else a read-only session. A document checked as text changes nothing:
    its keys and status are read from the replica, or from the primary without SQLite's
    write lock, so checks never queue behind each other or behind a write; on PostgreSQL
    without a transaction around them (one round trip for the status, not three)."""
    if names_a_share(text):
        with transaction(settings) as db:
            return verify_text(
                db, settings=settings, catalogue=catalogue, text=text, user_agent=user_agent
            )
    # A plain connection, not an ORM session: the check reads one row (two on a key's
    # first use), and a session's setup and rollback cost more than the read.
    with read_engine(settings, statement_by_statement=True).connect() as connection:
        return verify_document(
            connection, settings=settings, catalogue=catalogue, text=text, memory=memory
        )


def check_text_in_memory(
    memory: StatusMemory, *, settings: Settings, catalogue: Catalogue, text: str
) -> VerificationResult:
    """Verify a QR text or an SD-JWT with only the keys and statuses this server holds in
    memory (:mod:`darwaza.documents.statuses`), for the event loop: no wait, no round trip.
    Not for a share link (its opening is recorded).

    Raises :class:`~darwaza.documents.statuses.NotInMemory`, naming the key or shard,
    when something the check needs is not held: then :func:`check_text` answers, in a
    thread, and keeps what it read. Nothing was counted then.
    """
    trust = MemoryTrustSource(memory, settings=settings, catalogue=catalogue)
    return _counted(verify_credential(text, trust=trust, now=utcnow()))


def check_text_without_waiting(
    *, settings: Settings, catalogue: Catalogue, text: str
) -> VerificationResult | None:
    """Verify a QR text or an SD-JWT where the database can be read without waiting for
    any lock (see :func:`~darwaza.database.read_without_waiting`), for the event loop.

    ``None`` for a share link (its opening is a write), where the database has no such
    reader, or when a lock held elsewhere refused the read: :func:`check_text` then
    answers, in a thread. Nothing was counted or recorded for a ``None``.
    """
    if names_a_share(text):
        return None
    return read_without_waiting(
        settings,
        lambda connection: verify_document(
            connection, settings=settings, catalogue=catalogue, text=text
        ),
    )
