"""The browser's side of passkeys: JSON calls made by ``darwaza.js`` (CSRF token in a header)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from darwaza.errors import NotSignedIn
from darwaza.identity import passkeys
from darwaza.identity.dependencies import SIGN_IN_COOKIE, PrincipalDep
from darwaza.identity.models import Citizen, StaffMember
from darwaza.identity.sessions import start_session
from darwaza.identity.views import set_session_cookie
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)

CEREMONY_COOKIE = "dz_passkey"


def _with_ceremony(body: dict[str, Any], token: str, settings: SettingsDep) -> JSONResponse:
    response = JSONResponse(body)
    response.set_cookie(
        CEREMONY_COOKIE,
        token,
        max_age=300,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


def _owner(principal: PrincipalDep) -> Citizen | StaffMember:
    if principal is None:
        raise NotSignedIn()
    owner = principal.staff_member or principal.citizen
    assert owner is not None
    return owner


@router.post("/account/passkeys/options")
def passkey_registration_options(
    db: DbDep, settings: SettingsDep, principal: PrincipalDep
) -> JSONResponse:
    options, token = passkeys.registration_options(db, settings=settings, owner=_owner(principal))
    return _with_ceremony({"options": options}, token, settings)


@router.post("/account/passkeys")
def passkey_register(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    credential: dict[str, Any] = Body(embed=True),  # noqa: B008 (FastAPI's way to read JSON)
) -> JSONResponse:
    passkeys.add_passkey(
        db,
        settings=settings,
        owner=_owner(principal),
        ceremony_token=request.cookies.get(CEREMONY_COOKIE, ""),
        credential=credential,
    )
    response = JSONResponse({"redirect": "/account?passkey=added"}, status_code=201)
    response.delete_cookie(CEREMONY_COOKIE, path="/")
    return response


@router.post("/sign-in/passkey/options")
def passkey_sign_in_options(db: DbDep, settings: SettingsDep) -> JSONResponse:
    options, token = passkeys.sign_in_options(db, settings=settings)
    return _with_ceremony({"options": options}, token, settings)


@router.post("/sign-in/passkey")
def passkey_sign_in(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    credential: dict[str, Any] = Body(embed=True),  # noqa: B008
) -> JSONResponse:
    signed_in = passkeys.sign_in_with_passkey(
        db,
        settings=settings,
        ceremony_token=request.cookies.get(CEREMONY_COOKIE, ""),
        credential=credential,
    )
    issued = start_session(
        db, settings=settings, signed_in=signed_in, user_agent=request.headers.get("user-agent", "")
    )
    response = JSONResponse({"redirect": "/applications"})
    response.delete_cookie(CEREMONY_COOKIE, path="/")
    set_session_cookie(response, issued.token, settings)
    return response


@router.post("/console/sign-in/passkey/options")
def staff_passkey_options(request: Request, db: DbDep, settings: SettingsDep) -> JSONResponse:
    """After the password: a passkey instead of the authenticator code."""
    options, token = passkeys.staff_second_factor_options(
        db, settings=settings, staff_challenge_token=request.cookies.get(SIGN_IN_COOKIE, "")
    )
    return _with_ceremony({"options": options}, token, settings)


@router.post("/console/sign-in/passkey")
def staff_passkey_sign_in(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    credential: dict[str, Any] = Body(embed=True),  # noqa: B008
) -> JSONResponse:
    signed_in = passkeys.staff_second_factor(
        db,
        settings=settings,
        staff_challenge_token=request.cookies.get(SIGN_IN_COOKIE, ""),
        ceremony_token=request.cookies.get(CEREMONY_COOKIE, ""),
        credential=credential,
    )
    issued = start_session(
        db, settings=settings, signed_in=signed_in, user_agent=request.headers.get("user-agent", "")
    )
    landing = {"auditor": "/audit", "platform_admin": "/admin"}
    assert signed_in.staff_member is not None
    response = JSONResponse({"redirect": landing.get(signed_in.staff_member.role, "/console")})
    response.delete_cookie(CEREMONY_COOKIE, path="/")
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    set_session_cookie(response, issued.token, settings)
    return response
