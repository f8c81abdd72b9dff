"""Who is asking: the signed-in person, or an agency's system with an API token.

These FastAPI dependencies are how every page and API route learns its caller. A
session is read once per request and cached on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from darwaza.audit.actors import Actor
from darwaza.clock import utcnow
from darwaza.database import read_without_waiting
from darwaza.errors import Forbidden, NotFound, NotSignedIn
from darwaza.identity.models import Citizen, StaffMember
from darwaza.identity.sessions import Principal, find_session, resolve_session, use_to_note
from darwaza.identity.tokens import TOKEN_PREFIX, record_token_use, resolve_api_token
from darwaza.notifications.service import unread_count
from darwaza.settings import Settings
from darwaza.web.context import (
    SESSION_COOKIE,
    DbDep,
    SettingsDep,
    Viewer,
    bearer_token,
    calls_the_api,
)
from darwaza.web.loop import read_on_the_loop

SIGN_IN_COOKIE = "dz_signin"


def session_token(request: Request) -> str | None:
    return bearer_token(request) or request.cookies.get(SESSION_COOKIE)


async def get_principal(request: Request, db: DbDep, settings: SettingsDep) -> Principal | None:
    """The signed-in person, if any (cached on the request).

    Without a session token nobody is signed in, and that is decided on the event loop:
    the visitors of the public pages cost no hop to a thread. A citizen's token is looked
    up on the event loop where the database has a reader that never waits (SQLite, see
    :func:`_citizen_signed_in_before_the_transaction`); anyone else's in the thread pool.
    """
    if not hasattr(request.state, "principal"):
        request.state.principal = None
        token = session_token(request)
        if token and not await read_on_the_loop(
            settings, _citizen_signed_in_before_the_transaction, request, db, settings, token
        ):
            await run_in_threadpool(_sign_in, request, db, settings, token)
    cached: Principal | None = request.state.principal
    return cached


def _sign_in(request: Request, db: Session, settings: Settings, token: str) -> None:
    principal = resolve_session(db, settings=settings, token=token)
    request.state.principal = principal
    if principal is not None and principal.staff_member is not None:
        staff = principal.staff_member
        request.state.viewer = Viewer("staff", staff.full_name, None, staff.role)
    elif principal is not None and principal.citizen is not None:
        request.state.viewer = _citizen_viewer(request, db, principal.citizen)


def _citizen_viewer(request: Request, db: Session, citizen: Citizen) -> Viewer:
    return Viewer(
        "citizen",
        citizen.full_name,
        citizen.preferred_language,
        identity_proven=citizen.identity_proven,
        # The count is for the bell in a page's header: an API call draws no header.
        unread=0 if calls_the_api(request) else unread_count(db, recipient_id=citizen.id),
    )


@dataclass(frozen=True)
class _LookedUp:
    principal: Principal | None
    viewer: Viewer | None


def _citizen_signed_in_before_the_transaction(
    request: Request, db: Session, settings: Settings, token: str
) -> bool:
    """Sign a citizen in on the event loop, before the request's transaction begins.

    On SQLite a writing request's transaction takes the one write lock when it begins:
    signed in within it, the lock was held for the sign-in's reads, a hop back to the
    loop and the loop's turns until the endpoint's thread began. Here the session is
    read through the reader that never waits, and the request's own session is given
    the citizen and the session as rows to read again (expired, not loaded): the
    endpoint reads them within its transaction, under the lock, so it never works on a
    copy another request has since changed. A session ended between this look and the
    transaction admits that one request, as it would have a moment earlier.

    False where the look was refused (a lock held elsewhere), or for a staff member,
    whose checks read the staff row on the loop: then the caller signs in in a thread.
    """
    looked_up = read_without_waiting(
        settings, functools.partial(_look_up, request=request, settings=settings, token=token)
    )
    if looked_up is None:
        return False
    found = looked_up.principal
    if found is not None and found.citizen is not None:
        session, citizen = db.merge(found.session, load=False), db.merge(found.citizen, load=False)
        db.expire(session)
        db.expire(citizen)
        if use_to_note(found.session):
            session.last_seen_at = utcnow()
        request.state.principal = Principal(session=session, citizen=citizen)
        request.state.viewer = looked_up.viewer
    return True


def _look_up(
    connection: Connection, *, request: Request, settings: Settings, token: str
) -> _LookedUp | None:
    with Session(bind=connection, expire_on_commit=False) as reading:
        principal = find_session(reading, settings=settings, token=token)
        if principal is None:
            return _LookedUp(None, None)
        if principal.citizen is None:
            return None  # staff: signed in in a thread
        return _LookedUp(principal, _citizen_viewer(request, reading, principal.citizen))


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def staff_of(principal: Principal | None) -> StaffMember:
    """The signed-in staff member, or 401."""
    if principal is None or principal.staff_member is None:
        raise NotSignedIn()
    return principal.staff_member


def officer_of(staff: StaffMember) -> StaffMember:
    """The staff member if they work cases, or 404."""
    if not staff.role.works_cases:
        raise NotFound()
    return staff


# The checks below only read what ``get_principal`` found: ``async`` keeps them on the
# event loop instead of a hop to the thread pool each.
async def require_citizen(principal: PrincipalDep) -> Citizen:
    if principal is None or principal.citizen is None:
        raise NotSignedIn()
    return principal.citizen


async def require_staff(principal: PrincipalDep) -> StaffMember:
    return staff_of(principal)


async def require_officer(staff: Annotated[StaffMember, Depends(require_staff)]) -> StaffMember:
    return officer_of(staff)


CitizenDep = Annotated[Citizen, Depends(require_citizen)]
OfficerDep = Annotated[StaffMember, Depends(require_officer)]


@dataclass(frozen=True)
class AgencyCaller:
    """Who acts for an agency on the API: an officer's session or an agency system's token."""

    agency_id: str
    actor: Actor


def agency_caller(scope: str) -> Callable[..., AgencyCaller]:
    """A dependency admitting an officer, or an API token of the agency that has ``scope``."""

    def dependency(request: Request, db: DbDep, principal: PrincipalDep) -> AgencyCaller:
        secret = bearer_token(request)
        if secret and secret.startswith(TOKEN_PREFIX):
            token = resolve_api_token(db, secret=secret)
            if token is None:
                raise NotSignedIn()
            if scope not in token.scopes:
                raise Forbidden()
            record_token_use(db, token=token, method=request.method, path=request.url.path)
            return AgencyCaller(token.agency_id, Actor.api_token(token.id))
        officer = officer_of(staff_of(principal))
        return AgencyCaller(officer.agency_id or "", Actor.staff(officer.id))

    return dependency
