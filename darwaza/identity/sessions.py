"""Sessions: a random token the client holds, its hash the server keeps, idle and absolute ends."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.crypto.digests import token_hash
from darwaza.errors import NotFound
from darwaza.identity.contact import link, local_time, tell_citizen
from darwaza.identity.models import Citizen, Role, StaffMember, UserSession
from darwaza.identity.service import SignedIn
from darwaza.settings import Settings


@dataclass(frozen=True)
class SessionIssued:
    token: str
    session: UserSession


def start_session(
    db: Session, *, settings: Settings, signed_in: SignedIn, user_agent: str = ""
) -> SessionIssued:
    """A new session with a new random id (never reusing one the client brought)."""
    token = secrets.token_urlsafe(32)
    if signed_in.staff_member is not None:
        lifetime = timedelta(hours=settings.staff_session_absolute_hours)
    else:
        lifetime = timedelta(hours=settings.citizen_session_absolute_hours)
    session = UserSession(
        token_hash=token_hash(token),
        citizen_id=signed_in.citizen.id if signed_in.citizen else None,
        staff_member_id=signed_in.staff_member.id if signed_in.staff_member else None,
        expires_at=utcnow() + lifetime,
        user_agent=user_agent[:300],
    )
    db.add(session)
    db.flush()
    actor = (
        Actor.staff(signed_in.staff_member.id)
        if signed_in.staff_member is not None
        else Actor.citizen(session.citizen_id or "")
    )
    record_event(
        db, actor=actor, action="session.started", object_type="session", object_id=session.id
    )
    if signed_in.citizen is not None:
        citizen = signed_in.citizen
        tell_citizen(
            db,
            settings=settings,
            citizen=citizen,
            event="new_sign_in",
            values={
                "time": local_time(session.created_at or utcnow(), citizen.preferred_language),
                "link": link(settings, "/account"),
            },
        )
    return SessionIssued(token=token, session=session)


@dataclass(frozen=True)
class Principal:
    """The person behind a request."""

    session: UserSession
    citizen: Citizen | None = None
    staff_member: StaffMember | None = None

    @property
    def role(self) -> str:
        return self.staff_member.role if self.staff_member else Role.CITIZEN

    @property
    def actor(self) -> Actor:
        if self.staff_member:
            return Actor.staff(self.staff_member.id)
        assert self.citizen is not None
        return Actor.citizen(self.citizen.id)


def resolve_session(db: Session, *, settings: Settings, token: str | None) -> Principal | None:
    """The principal of a live session, or ``None`` if it is unknown, ended or idle too long;
    its last use is noted (see :func:`note_use`)."""
    principal = find_session(db, settings=settings, token=token)
    if principal is not None:
        note_use(principal.session)
    return principal


# Every signed-in request asks this: one statement, not a read for each row, and built
# once (a statement built anew has its cache key worked out again before it is found
# compiled in the cache).
_SESSION_AND_ITS_PERSON = (
    select(UserSession, Citizen, StaffMember)
    .outerjoin(Citizen, Citizen.id == UserSession.citizen_id)
    .outerjoin(StaffMember, StaffMember.id == UserSession.staff_member_id)
    .where(UserSession.token_hash == bindparam("token_hash"))
)


def find_session(db: Session, *, settings: Settings, token: str | None) -> Principal | None:
    """As :func:`resolve_session`, but only reads."""
    if not token:
        return None
    found = db.execute(_SESSION_AND_ITS_PERSON, {"token_hash": token_hash(token)}).one_or_none()
    if found is None:
        return None
    session, citizen, staff = found
    now = utcnow()
    if session.revoked_at is not None or session.expires_at <= now:
        return None
    idle = timedelta(
        minutes=settings.staff_session_idle_minutes
        if staff
        else settings.citizen_session_idle_minutes
    )
    if session.last_seen_at + idle <= now:
        return None
    if staff is not None and staff.disabled_at is not None:
        return None
    if citizen is None and staff is None:
        return None
    return Principal(session=session, citizen=citizen, staff_member=staff)


# A session's last use is written at most once a minute.
_USE_NOTED_EVERY = timedelta(seconds=60)


def use_to_note(session: UserSession) -> bool:
    """Whether this use of the session is to be written (see :func:`note_use`)."""
    return utcnow() - session.last_seen_at > _USE_NOTED_EVERY


def note_use(session: UserSession) -> None:
    """Note the session's use, for its idle end: at most one write a minute per session."""
    if use_to_note(session):
        session.last_seen_at = utcnow()


def end_session(db: Session, *, principal: Principal) -> None:
    """Sign out: the session can never be used again."""
    principal.session.revoked_at = utcnow()
    record_event(
        db,
        actor=principal.actor,
        action="session.ended",
        object_type="session",
        object_id=principal.session.id,
    )


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
