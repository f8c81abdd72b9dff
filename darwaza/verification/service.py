"""Checking a document on the platform itself: against its own keys and status lists."""

from __future__ import annotations

from sqlalchemy.orm import Session

from darwaza.catalogue import Catalogue
from darwaza.clock import utcnow
from darwaza.database import read_session_factory, session_factory, transaction
from darwaza.metrics import VERIFICATIONS
from darwaza.settings import Settings
from darwaza.verification.offline import (
    FOREIGN_LINK,
    SHARE_PATH,
    is_link,
    on_platform,
    share_token_of,
)
from darwaza.verification.publishing import DatabaseTrustSource
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
    reader: Session | None = None,
) -> VerificationResult:
    """Verify a QR text, an SD-JWT, or a share link of this platform.

    Trust comes only from the platform's own database: a link naming another host is
    refused, never followed, even when its token is one of this platform's. A document
    checked as text is read through ``reader`` (a read-only session: the replica, or the
    primary without a write lock) when one is given.
    """
    candidate = text.strip()
    token: str | None = None
    if candidate.startswith(SHARE_PATH):
        token = candidate.removeprefix(SHARE_PATH).split("?")[0].strip("/")
    elif is_link(candidate):
        if not on_platform(candidate, settings.base_url):
            return VerificationResult(verdict=Verdict.UNKNOWN_ISSUER, reasons=[FOREIGN_LINK])
        token = share_token_of(candidate, settings.base_url)
    if token is not None:
        trust = DatabaseTrustSource(db, settings=settings, catalogue=catalogue)
        share = wallet.live_share(db, token=token)
        result = verify_credential(share.presentation, trust=trust, now=utcnow())
        wallet.record_opening(db, share=share, verdict=result.verdict.value, user_agent=user_agent)
    else:
        # A document checked as text changes nothing: its keys and status are read in a
        # read-only transaction of their own, which on SQLite takes no write lock, so
        # checks never queue behind each other or behind a write, and ``db`` is not used.
        if reader is not None:
            trust = DatabaseTrustSource(reader, settings=settings, catalogue=catalogue)
            result = verify_credential(candidate, trust=trust, now=utcnow())
        else:
            own_reader = session_factory(settings, immediate=False)()
            try:
                trust = DatabaseTrustSource(own_reader, settings=settings, catalogue=catalogue)
                result = verify_credential(candidate, trust=trust, now=utcnow())
            finally:
                own_reader.rollback()
                own_reader.close()
    VERIFICATIONS.labels(
        result.verdict.value, result.format.value if result.format else "unknown"
    ).inc()
    return result


def check_text(
    *, settings: Settings, catalogue: Catalogue, text: str, user_agent: str = ""
) -> VerificationResult:
    """Verify text in a transaction of its own: the primary for a share link (opening one
    is recorded), a read-only session (the replica, or no write lock) for a document."""
    if names_a_share(text):
        with transaction(settings) as db:
            return verify_text(
                db, settings=settings, catalogue=catalogue, text=text, user_agent=user_agent
            )
    reader = read_session_factory(settings)()
    try:
        return verify_text(
            reader,
            settings=settings,
            catalogue=catalogue,
            text=text,
            user_agent=user_agent,
            reader=reader,
        )
    finally:
        reader.rollback()
        reader.close()
