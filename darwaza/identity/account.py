"""A person's own account: sessions, signing out everywhere, who looked at their records."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from darwaza.audit.access import OBJECT_LABELS, SECURITY_EVENTS, security_events_of, views_of
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.errors import NotSignedIn
from darwaza.identity.dependencies import PrincipalDep
from darwaza.identity.models import Passkey, StaffMember
from darwaza.identity.sessions import Principal, end_sessions, live_sessions
from darwaza.web.context import CSRF_PROTECTED, SESSION_COOKIE, CommittingRoute, DbDep
from darwaza.web.pages import redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)


def _require(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotSignedIn()
    return principal


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request, db: DbDep, principal: PrincipalDep, catalogue: CatalogueDep
) -> Response:
    me = _require(principal)
    looks = []
    if me.citizen is not None:
        for view in views_of(db, subject_id=me.citizen.id):
            staff = db.get(StaffMember, view.staff_id) if view.staff_id else None
            agency = catalogue.agencies.get(view.agency_id or "")
            label = OBJECT_LABELS.get(view.object_type, view.object_type)
            looks.append({"view": view, "staff": staff, "agency": agency, "label": label})
    owner_column = (
        Passkey.staff_member_id == me.staff_member.id
        if me.staff_member is not None
        else Passkey.citizen_id == (me.citizen.id if me.citizen else "")
    )
    passkey_count = db.scalar(select(func.count()).select_from(Passkey).where(owner_column))
    return render(
        request,
        "identity/account.html",
        {
            "passkey_count": passkey_count,
            "security_events": [
                (event.at, SECURITY_EVENTS[event.action])
                for event in security_events_of(
                    db,
                    person_id=(me.staff_member or me.citizen).id,  # type: ignore[union-attr]
                )
            ],
            "passkey_added": request.query_params.get("passkey") == "added",
            "sessions": live_sessions(db, principal=me),
            "current_id": me.session.id,
            "looks": looks,
            "citizen": me.citizen,
            "channels_saved": request.query_params.get("channels") == "saved",
        },
    )


@router.post("/account/sessions/{session_id}/end")
def end_one(session_id: str, db: DbDep, principal: PrincipalDep) -> Response:
    me = _require(principal)
    end_sessions(db, principal=me, session_id=session_id)
    if session_id == me.session.id:
        response = redirect("/")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return redirect("/account")


@router.post("/account/sessions/end-all")
def end_all(db: DbDep, principal: PrincipalDep) -> Response:
    """Sign out everywhere, this device included."""
    me = _require(principal)
    end_sessions(db, principal=me, session_id=None)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response
