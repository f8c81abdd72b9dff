"""``POST /api/v1/verify``: a verdict for a QR text, an SD-JWT or a share link."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from darwaza.i18n import translate
from darwaza.verification.online import check_for_request
from darwaza.verification.verdicts import VerificationResult
from darwaza.wallet import service as wallet
from darwaza.web.api import error_responses
from darwaza.web.context import (
    CSRF_PROTECTED,
    CommittingRoute,
    DbDep,
    request_language,
)

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/api/v1",
    tags=["verification"],
    dependencies=CSRF_PROTECTED,
)


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


@router.post("/verify", response_model=VerifyRead, responses=error_responses(404))
async def verify(body: VerifyRequest, request: Request) -> Response:
    """Check a document: valid, revoked, suspended, expired, not yet valid, forged
    (``invalid_signature``), unknown issuer or malformed, with only what was disclosed."""
    # The route the whole country calls. Its settings, catalogue and language are read
    # here, not solved as dependencies, and its answer is written by orjson in the exact
    # form of VerifyRead (tested byte for byte), not validated and written by the model:
    # together about a tenth of a verification's CPU.
    settings = request.app.state.settings
    language = request_language(request)
    result = await check_for_request(
        request, settings=settings, catalogue=request.app.state.catalogue, text=body.credential
    )
    return Response(verification_json(result, language), media_type="application/json")


def verification_json(result: VerificationResult, language: str) -> bytes:
    """The answer to ``POST /api/v1/verify``: VerifyRead's JSON, byte for byte."""
    issuer = result.issuer
    answer = {
        "verdict": result.verdict.value,
        "verdict_label": translate(language, result.verdict.label),
        "issuer": None
        if issuer is None
        else {
            "issuer": issuer.issuer,
            "name": issuer.name_ur if language == "ur" else issuer.name_en,
        },
        "document_type": result.document_type,
        "claims": result.claims,
        "reasons": [translate(language, reason) for reason in result.reasons],
        "issued_at": result.issued_at,
        "expires_at": result.expires_at,
        "status_checked": result.status_checked,
    }
    try:
        return orjson.dumps(answer, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:  # what orjson cannot write (an integer past 64 bits)
        return VerifyRead.model_validate(answer).model_dump_json().encode()


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
