"""``POST /api/v1/verify``: a verdict for a QR text, an SD-JWT or a share link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.i18n import translate
from darwaza.verification.service import check_text, names_a_share
from darwaza.wallet import service as wallet
from darwaza.web.api import error_responses
from darwaza.web.context import (
    CSRF_PROTECTED,
    DbDep,
    LanguageDep,
    SettingsDep,
    database_turn,
)

router = APIRouter(prefix="/api/v1", tags=["verification"], dependencies=CSRF_PROTECTED)


class VerifyRequest(BaseModel):
    credential: str = Field(max_length=64_000, description="QR text, SD-JWT, or share link")


class IssuerRead(BaseModel):
    issuer: str
    name: str


class VerifyRead(BaseModel):
    verdict: str
    verdict_label: str
    issuer: IssuerRead | None
    document_type: str | None
    claims: dict[str, Any]
    reasons: list[str]
    issued_at: datetime | None
    expires_at: datetime | None
    status_checked: bool


@router.post("/verify", responses=error_responses(404))
async def verify(
    body: VerifyRequest,
    request: Request,
    settings: SettingsDep,
    catalogue: CatalogueDep,
    language: LanguageDep,
) -> VerifyRead:
    """Check a document: valid, revoked, suspended, expired, not yet valid, forged
    (``invalid_signature``), unknown issuer or malformed, with only what was disclosed."""
    # One hop to the thread pool for all of it: the database reads (from a replica where
    # there is one; a share link's opening is recorded on the primary) and the signature.
    async with database_turn(request, writing=names_a_share(body.credential)):
        result = await run_in_threadpool(
            check_text,
            settings=settings,
            catalogue=catalogue,
            text=body.credential,
            user_agent=request.headers.get("user-agent", ""),
        )
    issuer = (
        IssuerRead(
            issuer=result.issuer.issuer,
            name=result.issuer.name_ur if language == "ur" else result.issuer.name_en,
        )
        if result.issuer
        else None
    )
    return VerifyRead(
        verdict=result.verdict.value,
        verdict_label=translate(language, result.verdict.label),
        issuer=issuer,
        document_type=result.document_type,
        claims=result.claims,
        reasons=[translate(language, reason) for reason in result.reasons],
        issued_at=result.issued_at,
        expires_at=result.expires_at,
        status_checked=result.status_checked,
    )


class SharedPresentation(BaseModel):
    presentation: str
    expires_at: datetime


@router.get("/shares/{token}", responses=error_responses(404))
def open_share(token: str, request: Request, db: DbDep) -> SharedPresentation:
    """What a share link holds: an SD-JWT presentation of only the disclosed claims.

    Opening it is recorded and shown to the holder; verify the presentation yourself.
    """
    share = wallet.live_share(db, token=token)
    wallet.record_opening(
        db, share=share, verdict="fetched", user_agent=request.headers.get("user-agent", "")
    )
    return SharedPresentation(presentation=share.presentation, expires_at=share.expires_at)
