"""A person's own account: sessions, signing out everywhere, who looked at their records."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.applications.models import Application
from darwaza.audit.access import OBJECT_LABELS, SECURITY_EVENTS, security_events_of, views_of
from darwaza.audit.trail import record_event
from darwaza.database import utcnow
from darwaza.documents.models import Document
from darwaza.errors import NotFound, NotSignedIn
from darwaza.identity.models import Citizen, Passkey, StaffMember, UserSession
from darwaza.identity.service import Principal
from darwaza.web.context import SESSION_COOKIE, CatalogueDep, DbDep, PrincipalDep
from darwaza.web.pages import PAGE_DEPENDENCIES, redirect
from darwaza.web.templating import render

router = APIRouter(dependencies=PAGE_DEPENDENCIES, include_in_schema=False)


def live_sessions(db: Session, *, principal: Principal) -> Sequence[UserSession]:
    """The person's sessions that have not ended, newest first."""
    query = select(UserSession).where(
        UserSession.revoked_at.is_(None), UserSession.expires_at > utcnow()
    )
    if principal.staff_member is not None:
        query = query.where(UserSession.staff_member_id == principal.staff_member.id)
    else:
        assert principal.citizen is not None
        query = query.where(UserSession.citizen_id == principal.citizen.id)
    return db.scalars(query.order_by(UserSession.last_seen_at.desc())).all()


def end_sessions(db: Session, *, principal: Principal, session_id: str | None) -> int:
    """End one of the person's sessions, or all of them; returns how many ended."""
    ended = 0
    for session in live_sessions(db, principal=principal):
        if session_id is None or session.id == session_id:
            session.revoked_at = utcnow()
            ended += 1
    if session_id is not None and ended == 0:
        raise NotFound()
    record_event(
        db,
        actor=principal.actor,
        action="session.ended_by_owner",
        object_type="session",
        object_id=session_id,
        after={"everywhere": session_id is None, "ended": ended},
    )
    return ended


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
        citizen: Citizen = me.citizen
        ids = list(db.scalars(select(Application.id).where(Application.citizen_id == citizen.id)))
        ids += list(
            db.scalars(
                select(Document.id).where(
                    (Document.citizen_id == citizen.id) | (Document.holder_cnic == citizen.cnic)
                )
            )
        )
        for view in views_of(db, object_ids=ids):
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
