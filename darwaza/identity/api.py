"""Signing in through the JSON API. A confirmed code gives a bearer session token."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from darwaza.errors import InvalidInput, NotSignedIn
from darwaza.identity import service, sessions
from darwaza.identity.dependencies import PrincipalDep
from darwaza.numbers import mask_cnic
from darwaza.web.api import error_responses
from darwaza.web.context import (
    CSRF_PROTECTED,
    CommittingRoute,
    DbDep,
    LanguageDep,
    SettingsDep,
    client_address,
)

router = APIRouter(
    route_class=CommittingRoute,
    prefix="/api/v1/auth",
    tags=["sign-in"],
    dependencies=CSRF_PROTECTED,
)


class SignUpRequest(BaseModel):
    cnic: str = Field(max_length=20)
    full_name: str = Field(max_length=300)
    mobile: str = Field(max_length=20)


class SignInRequest(BaseModel):
    cnic: str = Field(max_length=20)


class StaffSignInRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class ChallengeRead(BaseModel):
    """Keep the token to confirm the code; it is bound to this sign-in attempt."""

    challenge_token: str
    expires_at: datetime


class ConfirmRequest(BaseModel):
    challenge_token: str = Field(max_length=100)
    code: str = Field(max_length=12)


class SessionRead(BaseModel):
    session_token: str
    expires_at: datetime
    role: str


class MeRead(BaseModel):
    role: str
    full_name: str
    cnic_masked: str | None = None
    agency_id: str | None = None
    preferred_language: str | None = None
    identity_proven: bool | None = Field(
        default=None,
        description="Citizens: whether the account holds what is issued to its CNIC",
    )


@router.post("/sign-up", status_code=202, responses=error_responses(429))
def sign_up(
    body: SignUpRequest,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    language: LanguageDep,
) -> ChallengeRead:
    """Ask for a code to confirm a new account's mobile number."""
    issued = service.start_citizen_sign_up(
        db,
        settings=settings,
        cnic=body.cnic,
        full_name=body.full_name,
        mobile=body.mobile,
        language=language,
        client_address=client_address(request),
    )
    return ChallengeRead(challenge_token=issued.challenge_token, expires_at=issued.expires_at)


@router.post("/sign-in", status_code=202, responses=error_responses(429))
def sign_in(
    body: SignInRequest,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    language: LanguageDep,
) -> ChallengeRead:
    """Ask for a code sent to the account's mobile number (the same answer for any CNIC)."""
    issued = service.start_citizen_sign_in(
        db,
        settings=settings,
        cnic=body.cnic,
        language=language,
        client_address=client_address(request),
    )
    return ChallengeRead(challenge_token=issued.challenge_token, expires_at=issued.expires_at)


@router.post("/staff/sign-in", status_code=202, responses=error_responses(429))
def staff_sign_in(
    body: StaffSignInRequest, request: Request, db: DbDep, settings: SettingsDep
) -> ChallengeRead:
    """Check a staff password; then confirm with the authenticator-app code."""
    try:
        issued = service.start_staff_sign_in(
            db,
            settings=settings,
            username=body.username,
            password=body.password,
            client_address=client_address(request),
        )
    except InvalidInput:
        db.commit()  # keep the count of wrong passwords
        raise
    return ChallengeRead(challenge_token=issued.challenge_token, expires_at=issued.expires_at)


@router.post("/confirm", responses=error_responses())
def confirm(
    body: ConfirmRequest, request: Request, db: DbDep, settings: SettingsDep
) -> SessionRead:
    """Exchange a challenge and its code for a session token (send it as a bearer token)."""
    signed_in = service.confirm_code(
        db,
        settings=settings,
        challenge_token=body.challenge_token,
        code=body.code,
        purposes=(service.PURPOSE_SIGN_IN, service.PURPOSE_SIGN_UP, service.PURPOSE_STAFF),
        client_address=client_address(request),
    )
    if signed_in is None:
        db.commit()  # keep the count of wrong tries
    confirmed = service.require_confirmed(signed_in)
    issued = sessions.start_session(
        db,
        settings=settings,
        signed_in=confirmed,
        user_agent=request.headers.get("user-agent", ""),
    )
    role = confirmed.staff_member.role if confirmed.staff_member else "citizen"
    return SessionRead(session_token=issued.token, expires_at=issued.session.expires_at, role=role)


@router.get("/me", responses=error_responses(401))
def me(principal: PrincipalDep) -> MeRead:
    """Who the token belongs to."""
    if principal is None:
        raise NotSignedIn()
    if principal.staff_member is not None:
        staff = principal.staff_member
        return MeRead(role=staff.role, full_name=staff.full_name, agency_id=staff.agency_id)
    assert principal.citizen is not None
    citizen = principal.citizen
    return MeRead(
        role="citizen",
        full_name=citizen.full_name,
        cnic_masked=mask_cnic(citizen.cnic),
        preferred_language=citizen.preferred_language,
        identity_proven=citizen.identity_proven,
    )


@router.post("/sign-out", status_code=204, responses=error_responses(401))
def sign_out(db: DbDep, principal: PrincipalDep) -> None:
    """End this session at once."""
    if principal is None:
        raise NotSignedIn()
    sessions.end_session(db, principal=principal)
