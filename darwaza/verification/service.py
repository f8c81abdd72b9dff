"""Checking a document on the platform itself: against its own keys and status lists."""

from __future__ import annotations

from sqlalchemy.orm import Session

from darwaza.catalogue import Catalogue
from darwaza.clock import utcnow
from darwaza.settings import Settings
from darwaza.verification.publishing import DatabaseTrustSource
from darwaza.verification.verdicts import VerificationResult
from darwaza.verification.verifier import verify_credential
from darwaza.wallet import service as wallet

SHARE_PATH = "/s/"


def verify_text(
    db: Session, *, settings: Settings, catalogue: Catalogue, text: str, user_agent: str = ""
) -> VerificationResult:
    """Verify a QR text, an SD-JWT, or a share link of this platform."""
    candidate = text.strip()
    share_prefix = settings.base_url.rstrip("/") + SHARE_PATH
    if candidate.startswith((share_prefix, SHARE_PATH)):
        token = candidate.split(SHARE_PATH, 1)[1].split("?")[0].strip("/")
        share = wallet.live_share(db, token=token)
        result = verify_credential(
            share.presentation,
            trust=DatabaseTrustSource(db, settings=settings, catalogue=catalogue),
            now=utcnow(),
        )
        wallet.record_opening(db, share=share, verdict=result.verdict.value, user_agent=user_agent)
        return result
    return verify_credential(
        candidate,
        trust=DatabaseTrustSource(db, settings=settings, catalogue=catalogue),
        now=utcnow(),
    )
