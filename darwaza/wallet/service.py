"""The citizen's wallet: their documents, and the links they share them by.

A share reveals only the claims the citizen chose, until it expires or the citizen ends
it. Every opening is recorded and shown to the citizen.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.catalogue import DocumentTypeDefinition
from darwaza.clock import utcnow
from darwaza.crypto.digests import token_hash
from darwaza.documents.formats.sd_jwt import present_sd_jwt
from darwaza.documents.models import Document
from darwaza.errors import InvalidInput, Message, NotFound
from darwaza.i18n import N_
from darwaza.identity.models import Citizen
from darwaza.settings import Settings
from darwaza.wallet.models import Share, ShareOpening

SHARE_LIFETIMES = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


@dataclass(frozen=True)
class ShareCreated:
    share: Share
    token: str


def create_share(
    db: Session,
    *,
    citizen: Citizen,
    document: Document,
    document_type: DocumentTypeDefinition,
    claims: Sequence[str],
    lifetime: str,
    recipient: str | None,
) -> ShareCreated:
    """Make a link that shows ``claims`` of ``document`` until it expires or is ended."""
    chosen = [name for name in dict.fromkeys(claims) if document_type.claim(name)]
    errors: dict[str, Message] = {}
    if not chosen:
        errors["claims"] = Message(N_("Choose at least one thing to share."))
    if lifetime not in SHARE_LIFETIMES:
        errors["lifetime"] = Message(N_("Choose how long the link works: one hour to thirty days."))
    label = (recipient or "").strip()[:200] or None
    if errors:
        raise InvalidInput(fields=errors)
    token = secrets.token_urlsafe(24)
    share = Share(
        token_hash=token_hash(token),
        document_id=document.id,
        citizen_id=citizen.id,
        disclosed_claims=chosen,
        presentation=present_sd_jwt(document.sd_jwt, chosen),
        recipient=label,
        expires_at=utcnow() + SHARE_LIFETIMES[lifetime],
    )
    db.add(share)
    db.flush()
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="share.created",
        object_type="share",
        object_id=share.id,
        after={
            "document_id": document.id,
            "claims": chosen,
            "lifetime": lifetime,
            "recipient": label,
        },
    )
    return ShareCreated(share=share, token=token)


def shares_of(db: Session, *, citizen: Citizen, document: Document) -> Sequence[Share]:
    """The citizen's shares of one document, newest first."""
    return db.scalars(
        select(Share)
        .where(Share.citizen_id == citizen.id, Share.document_id == document.id)
        .order_by(Share.created_at.desc())
    ).all()


def citizen_share(db: Session, *, citizen: Citizen, share_id: str) -> Share:
    share = db.get(Share, share_id)
    if share is None or share.citizen_id != citizen.id:
        raise NotFound()
    return share


def end_share(db: Session, *, citizen: Citizen, share: Share) -> None:
    """End a share at once: the link answers 'not found' from now on."""
    if share.ended_at is None:
        share.ended_at = utcnow()
        record_event(
            db,
            actor=Actor.citizen(citizen.id),
            action="share.ended",
            object_type="share",
            object_id=share.id,
        )


def live_share(db: Session, *, token: str) -> Share:
    """The share a link names, while it is live; otherwise 404."""
    share = db.scalar(select(Share).where(Share.token_hash == token_hash(token)))
    if share is None or share.ended_at is not None or share.expires_at <= utcnow():
        raise NotFound()
    return share


def record_opening(db: Session, *, share: Share, verdict: str, user_agent: str) -> ShareOpening:
    """Someone looked: remember when and what they were told."""
    opening = ShareOpening(share_id=share.id, verdict=verdict, user_agent=user_agent[:200])
    db.add(opening)
    db.flush()
    record_event(
        db,
        actor=Actor.public(),
        action="share.opened",
        object_type="share",
        object_id=share.id,
        after={"verdict": verdict},
    )
    return opening


def openings_of(db: Session, *, share_ids: Sequence[str]) -> Sequence[ShareOpening]:
    """Every opening of these shares, newest first."""
    if not share_ids:
        return []
    return db.scalars(
        select(ShareOpening)
        .where(ShareOpening.share_id.in_(share_ids))
        .order_by(ShareOpening.opened_at.desc())
    ).all()


def share_url(settings: Settings, token: str) -> str:
    """The link a citizen sends: the platform's address and the share's secret."""
    return f"{settings.base_url.rstrip('/')}/s/{token}"
