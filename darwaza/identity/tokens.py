"""API tokens for agencies' own systems: scoped, expiring, shown once, stored hashed.

Every call made with a token is audited and updates the token's last use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.crypto.digests import token_hash
from darwaza.errors import InvalidInput, Message, NotFound
from darwaza.i18n import N_
from darwaza.identity.models import ApiToken

TOKEN_PREFIX: Final = "dzt_"  # noqa: S105 (a marker, not a secret)
SCOPE_ISSUE: Final = "documents:issue"
SCOPE_STATUS: Final = "documents:status"
SCOPES: Final = (SCOPE_ISSUE, SCOPE_STATUS)
MAX_LIFETIME: Final = timedelta(days=366)


@dataclass(frozen=True)
class TokenCreated:
    """The new token's record and, once only, its secret value."""

    record: ApiToken
    secret: str


def create_api_token(
    db: Session,
    *,
    agency_id: str,
    name: str,
    scopes: list[str],
    lifetime: timedelta,
    actor: Actor,
) -> TokenCreated:
    """Make a token for one agency with the given scopes; the secret is never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(
            fields={
                "scopes": Message(
                    N_("Choose scopes from: {scopes}."), {"scopes": ", ".join(SCOPES)}
                )
            }
        )
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise InvalidInput(fields={"expires": Message(N_("A token lives one year at most."))})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        agency_id=agency_id,
        name=name.strip()[:200] or agency_id,
        token_hash=token_hash(secret),
        scopes=sorted(set(scopes)),
        expires_at=utcnow() + lifetime,
    )
    db.add(record)
    db.flush()
    record_event(
        db,
        actor=actor,
        action="api_token.created",
        object_type="api_token",
        object_id=record.id,
        after={
            "agency_id": agency_id,
            "scopes": record.scopes,
            "expires_at": record.expires_at.isoformat(),
        },
    )
    return TokenCreated(record=record, secret=secret)


def revoke_api_token(db: Session, *, token_id: str, actor: Actor) -> ApiToken:
    """End a token at once."""
    record = db.get(ApiToken, token_id)
    if record is None:
        raise NotFound()
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        record_event(
            db,
            actor=actor,
            action="api_token.revoked",
            object_type="api_token",
            object_id=record.id,
        )
    return record


def resolve_api_token(db: Session, *, secret: str) -> ApiToken | None:
    """The live token this secret belongs to, or ``None``."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    record = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    now = utcnow()
    if record is None or record.revoked_at is not None or record.expires_at <= now:
        return None
    return record


def record_token_use(db: Session, *, token: ApiToken, method: str, path: str) -> None:
    """Remember that a token was used, and audit the call."""
    token.last_used_at = utcnow()
    record_event(
        db,
        actor=Actor.api_token(token.id),
        action="api_token.used",
        object_type="api_token",
        object_id=token.id,
        after={"method": method, "path": path[:200]},
    )
