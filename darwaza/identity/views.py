"""Pages to sign up, sign in and sign out, and the language switch."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from darwaza.errors import DarwazaError, Message, SignInFailed
from darwaza.i18n import LANGUAGES, N_
from darwaza.identity import service, sessions
from darwaza.identity.dependencies import SIGN_IN_COOKIE, PrincipalDep
from darwaza.web.context import (
    CSRF_PROTECTED,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    CommittingRoute,
    DbDep,
    LanguageDep,
    SettingsDep,
    client_address,
    request_language,
)
from darwaza.web.pages import FormDep, errors_of, form_text, redirect, safe_next
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)

ONE_YEAR = 365 * 24 * 3600


def _set_challenge_cookie(response: Response, token: str, settings: SettingsDep) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=settings.otp_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def set_session_cookie(response: Response, token: str, settings: SettingsDep) -> None:
    """The session cookie: HttpOnly, SameSite, Secure over HTTPS, for this site only."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@router.get("/sign-up", response_class=HTMLResponse)
def sign_up_page(request: Request) -> Response:
    return render(
        request,
        "identity/sign_up.html",
        {"values": {}, "errors": {}, "next": _next_of(request.query_params.get("next"))},
    )


def _next_of(url: str | None) -> str:
    """Where to go after signing in: a path on this site, or nothing."""
    return safe_next(url, "")


def _to_code_page(next_url: str) -> str:
    """The code page, carrying where to go afterwards."""
    return "/sign-in/code" + (f"?{urlencode({'next': next_url})}" if next_url else "")


@router.post("/sign-up")
def sign_up(
    request: Request, form: FormDep, db: DbDep, settings: SettingsDep, language: LanguageDep
) -> Response:
    values = {name: form_text(form, name) for name in ("cnic", "full_name", "mobile")}
    next_url = _next_of(form_text(form, "next"))
    try:
        issued = service.start_citizen_sign_up(
            db,
            settings=settings,
            cnic=values["cnic"],
            full_name=values["full_name"],
            mobile=values["mobile"],
            language=language,
            client_address=client_address(request),
        )
    except DarwazaError as error:
        return render(
            request,
            "identity/sign_up.html",
            {"values": values, "errors": errors_of(error), "next": next_url},
            status_code=error.status_code,
        )
    response = redirect(_to_code_page(next_url))
    _set_challenge_cookie(response, issued.challenge_token, settings)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> Response:
    return render(
        request,
        "identity/sign_in.html",
        {"values": {}, "errors": {}, "next": _next_of(request.query_params.get("next"))},
    )


@router.post("/sign-in")
def sign_in(
    request: Request, form: FormDep, db: DbDep, settings: SettingsDep, language: LanguageDep
) -> Response:
    values = {"cnic": form_text(form, "cnic")}
    next_url = _next_of(form_text(form, "next"))
    try:
        issued = service.start_citizen_sign_in(
            db,
            settings=settings,
            cnic=values["cnic"],
            language=language,
            client_address=client_address(request),
        )
    except DarwazaError as error:
        return render(
            request,
            "identity/sign_in.html",
            {"values": values, "errors": errors_of(error), "next": next_url},
            status_code=error.status_code,
        )
    response = redirect(_to_code_page(next_url))
    _set_challenge_cookie(response, issued.challenge_token, settings)
    return response


def _code_page(
    request: Request,
    *,
    staff: bool,
    errors: dict[str, Message],
    status: int = 200,
    next_url: str = "",
) -> Response:
    return render(
        request,
        "identity/code.html",
        {
            "staff": staff,
            "errors": errors,
            "action": "/console/sign-in/code" if staff else "/sign-in/code",
            "restart": "/console/sign-in" if staff else "/sign-in",
            "next": "" if staff else next_url,
        },
        status_code=status,
    )


@router.get("/sign-in/code", response_class=HTMLResponse)
def code_page(request: Request) -> Response:
    return _code_page(
        request, staff=False, errors={}, next_url=_next_of(request.query_params.get("next"))
    )


def _confirm(
    request: Request, form: FormDep, db: DbDep, settings: SettingsDep, *, staff: bool
) -> Response:
    purposes = (
        (service.PURPOSE_STAFF,) if staff else (service.PURPOSE_SIGN_IN, service.PURPOSE_SIGN_UP)
    )
    signed_in = service.confirm_code(
        db,
        settings=settings,
        challenge_token=request.cookies.get(SIGN_IN_COOKIE, ""),
        code=form_text(form, "code"),
        purposes=purposes,
        client_address=client_address(request),
    )
    if signed_in is None:
        db.commit()  # keep the count of wrong tries
        # Staff get no SMS: tell them about their authenticator, not about a message.
        failure = SignInFailed(STAFF_CODE_REFUSED) if staff else SignInFailed()
        return _code_page(
            request,
            staff=staff,
            errors={"code": failure.message},
            status=400,
            next_url=_next_of(form_text(form, "next")),
        )
    issued = sessions.start_session(
        db,
        settings=settings,
        signed_in=signed_in,
        user_agent=request.headers.get("user-agent", ""),
    )
    if signed_in.staff_member is not None:
        landing = {"auditor": "/audit", "platform_admin": "/admin"}
        response = redirect(landing.get(signed_in.staff_member.role, "/console"))
    else:
        if signed_in.citizen is not None:
            # The language of the pages they signed up or in with (the switch, else the
            # phone's) becomes the account's, so Urdu stays Urdu after signing in.
            service.set_preferred_language(
                db, citizen=signed_in.citizen, language=request_language(request)
            )
        response = redirect(safe_next(form_text(form, "next"), "/applications"))
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    set_session_cookie(response, issued.token, settings)
    return response


@router.post("/sign-in/code")
def confirm_citizen_code(
    request: Request, form: FormDep, db: DbDep, settings: SettingsDep
) -> Response:
    return _confirm(request, form, db, settings, staff=False)


STAFF_CODE_REFUSED = N_(
    "That code is not right. No code is sent by SMS to staff: enter the code your "
    "authenticator app shows now. Each code works once, so after signing in a moment ago "
    "wait for the next one."
)
# The username, remembered for a few minutes so that starting again keeps it filled.
STAFF_USERNAME_COOKIE = "dz_staff_username"


@router.get("/console/sign-in", response_class=HTMLResponse)
def staff_sign_in_page(request: Request) -> Response:
    remembered = request.cookies.get(STAFF_USERNAME_COOKIE, "")[:150]
    return render(
        request, "identity/staff_sign_in.html", {"values": {"username": remembered}, "errors": {}}
    )


@router.post("/console/sign-in")
def staff_sign_in(request: Request, form: FormDep, db: DbDep, settings: SettingsDep) -> Response:
    values = {"username": form_text(form, "username")}
    try:
        issued = service.start_staff_sign_in(
            db,
            settings=settings,
            username=values["username"],
            password=form_text(form, "password"),
            client_address=client_address(request),
        )
    except DarwazaError as error:
        return render(
            request,
            "identity/staff_sign_in.html",
            {"values": values, "errors": errors_of(error)},
            status_code=error.status_code,
        )
    response = redirect("/console/sign-in/code")
    _set_challenge_cookie(response, issued.challenge_token, settings)
    response.set_cookie(
        STAFF_USERNAME_COOKIE,
        values["username"][:150],
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/console/sign-in",
    )
    return response


@router.get("/console/sign-in/code", response_class=HTMLResponse)
def staff_code_page(request: Request) -> Response:
    return _code_page(request, staff=True, errors={})


@router.post("/console/sign-in/code")
def confirm_staff_code(
    request: Request, form: FormDep, db: DbDep, settings: SettingsDep
) -> Response:
    return _confirm(request, form, db, settings, staff=True)


@router.post("/sign-out")
def sign_out(db: DbDep, principal: PrincipalDep) -> Response:
    if principal is not None:
        sessions.end_session(db, principal=principal)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    # Forget the wallet pages kept for offline use on this device.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@router.post("/language")
def switch_language(
    request: Request, form: FormDep, db: DbDep, principal: PrincipalDep, settings: SettingsDep
) -> Response:
    """Remember the chosen language in a cookie, and on the citizen's account."""
    language = form_text(form, "language")
    response = redirect(safe_next(form_text(form, "next")))
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=ONE_YEAR,
            samesite="lax",
            secure=settings.secure_cookies,
            httponly=True,
            path="/",
        )
        if principal is not None and principal.citizen is not None:
            service.set_preferred_language(db, citizen=principal.citizen, language=language)
    return response
