"""Administration: agency admins manage their officers, tokens and keys; platform admins
manage staff of every agency; auditors read the audit trail and nothing else.

Every rule is checked here, in the functions, not only by hiding links on pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.agencies.keys import rotate_agency_key
from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditEvent
from darwaza.audit.trail import record_event, verify_chain
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.clock import utcnow
from darwaza.errors import DarwazaError, InvalidInput, Message, NotFound
from darwaza.i18n import N_
from darwaza.identity.dependencies import require_staff
from darwaza.identity.models import STAFF_ROLES, ApiToken, Role, StaffMember
from darwaza.identity.staff import StaffEnrolment, authenticator_uri, create_staff_member
from darwaza.identity.tokens import SCOPES, create_api_token, revoke_api_token
from darwaza.settings import Settings
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, DbDep, SettingsDep
from darwaza.web.pages import FormDep, errors_of, form_text, redirect
from darwaza.web.templating import render

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)

ADMINS = (Role.AGENCY_ADMIN, Role.PLATFORM_ADMIN)
AUDIT_READERS = (Role.AUDITOR, Role.PLATFORM_ADMIN)


def require_role(staff: StaffMember, roles: Sequence[str]) -> StaffMember:
    """The staff member if they hold one of ``roles``; otherwise it looks like nothing is here."""
    if staff.role not in roles or staff.disabled_at is not None:
        raise NotFound()
    return staff


def manageable_staff(db: Session, *, admin: StaffMember) -> Sequence[StaffMember]:
    """Staff an admin may manage: their agency's, or everyone's for a platform admin."""
    require_role(admin, ADMINS)
    query = select(StaffMember).order_by(StaffMember.agency_id, StaffMember.username)
    if admin.role == Role.AGENCY_ADMIN:
        query = query.where(StaffMember.agency_id == admin.agency_id)
    return db.scalars(query).all()


def managed_member(db: Session, *, admin: StaffMember, staff_id: str) -> StaffMember:
    member = db.get(StaffMember, staff_id)
    if member is None or member.id not in {m.id for m in manageable_staff(db, admin=admin)}:
        raise NotFound()
    return member


def add_staff(
    db: Session, *, settings: Settings, admin: StaffMember, values: dict[str, str]
) -> StaffEnrolment:
    """Create a staff account within what the admin may do."""
    require_role(admin, ADMINS)
    role = values.get("role", Role.OFFICER)
    agency_id: str | None = values.get("agency_id") or None
    if admin.role == Role.AGENCY_ADMIN:
        agency_id = admin.agency_id
        if role not in (Role.OFFICER, Role.AGENCY_ADMIN):
            raise InvalidInput(fields={"role": Message(N_("Choose one of the options."))})
    errors = {
        name: Message(N_("This is required."))
        for name in ("username", "full_name", "mobile", "password")
        if not values.get(name, "").strip()
    }
    if len(values.get("password", "")) < 12:
        errors.setdefault("password", Message(N_("Use at least 12 characters.")))
    if errors:
        raise InvalidInput(fields=errors)
    if db.scalar(select(StaffMember).where(StaffMember.username == values["username"].lower())):
        raise InvalidInput(fields={"username": Message(N_("That username is taken."))})
    return create_staff_member(
        db,
        settings=settings,
        username=values["username"],
        full_name=values["full_name"],
        role=role,
        agency_id=agency_id,
        mobile=values["mobile"],
        password=values["password"],
        actor=Actor.staff(admin.id),
    )


def set_disabled(db: Session, *, admin: StaffMember, member: StaffMember, disabled: bool) -> None:
    """Disable (or re-enable) a staff account; a disabled account's sessions stop at once."""
    if member.id == admin.id:
        raise InvalidInput(N_("You cannot disable your own account."))
    member.disabled_at = utcnow() if disabled else None
    record_event(
        db,
        actor=Actor.staff(admin.id),
        action="staff.disabled" if disabled else "staff.enabled",
        object_type="staff_member",
        object_id=member.id,
    )


AdminDep = Annotated[StaffMember, Depends(require_staff)]


def _admin_page(
    request: Request, db: DbDep, admin: StaffMember, catalogue: CatalogueDep, **extra: Any
) -> Response:
    tokens: Sequence[ApiToken] = []
    if admin.role == Role.AGENCY_ADMIN:
        tokens = db.scalars(
            select(ApiToken)
            .where(ApiToken.agency_id == admin.agency_id)
            .order_by(ApiToken.created_at.desc())
        ).all()
    context = {
        "admin": admin,
        "staff": manageable_staff(db, admin=admin),
        "tokens": tokens,
        "scopes": SCOPES,
        "agencies": catalogue.agencies,
        "roles": [Role.OFFICER, Role.AGENCY_ADMIN]
        if admin.role == Role.AGENCY_ADMIN
        else list(STAFF_ROLES),
        "errors": {},
        "values": {},
    }
    context.update(extra)
    status = 422 if context["errors"] else 200
    return render(request, "identity/admin.html", context, status_code=status)


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, db: DbDep, staff: AdminDep, catalogue: CatalogueDep) -> Response:
    return _admin_page(request, db, require_role(staff, ADMINS), catalogue)


@router.post("/admin/staff")
def admin_add_staff(
    request: Request,
    form: FormDep,
    db: DbDep,
    settings: SettingsDep,
    staff: AdminDep,
    catalogue: CatalogueDep,
) -> Response:
    admin = require_role(staff, ADMINS)
    values = {
        name: form_text(form, name)
        for name in ("username", "full_name", "mobile", "password", "role", "agency_id")
    }
    try:
        enrolment = add_staff(db, settings=settings, admin=admin, values=values)
    except DarwazaError as error:
        db.rollback()
        values.pop("password", None)
        return _admin_page(request, db, admin, catalogue, errors=errors_of(error), values=values)
    return _admin_page(
        request,
        db,
        admin,
        catalogue,
        enrolled=enrolment,
        enrolled_uri=authenticator_uri(enrolment.staff, enrolment.authenticator_seed),
    )


@router.post("/admin/staff/{staff_id}/{action}")
def admin_toggle_staff(staff_id: str, action: str, db: DbDep, staff: AdminDep) -> Response:
    admin = require_role(staff, ADMINS)
    if action not in ("disable", "enable"):
        raise NotFound()
    member = managed_member(db, admin=admin, staff_id=staff_id)
    set_disabled(db, admin=admin, member=member, disabled=action == "disable")
    return redirect("/admin")


@router.post("/admin/tokens")
def admin_create_token(
    request: Request, form: FormDep, db: DbDep, staff: AdminDep, catalogue: CatalogueDep
) -> Response:
    admin = require_role(staff, (Role.AGENCY_ADMIN,))
    try:
        created = create_api_token(
            db,
            agency_id=admin.agency_id or "",
            name=form_text(form, "name"),
            scopes=[s for s in form.getlist("scopes") if isinstance(s, str)],
            lifetime=timedelta(days=int(form_text(form, "days") or "90")),
            actor=Actor.staff(admin.id),
        )
    except (DarwazaError, ValueError) as error:
        db.rollback()
        problems = (
            errors_of(error)
            if isinstance(error, DarwazaError)
            else {"days": Message(N_("Enter a number."))}
        )
        return _admin_page(request, db, admin, catalogue, errors=problems)
    return _admin_page(request, db, admin, catalogue, new_token=created.secret)


@router.post("/admin/tokens/{token_id}/revoke")
def admin_revoke_token(token_id: str, db: DbDep, staff: AdminDep) -> Response:
    admin = require_role(staff, (Role.AGENCY_ADMIN,))
    token = db.get(ApiToken, token_id)
    if token is None or token.agency_id != admin.agency_id:
        raise NotFound()
    revoke_api_token(db, token_id=token.id, actor=Actor.staff(admin.id))
    return redirect("/admin")


@router.post("/admin/keys/rotate")
def admin_rotate_key(db: DbDep, settings: SettingsDep, staff: AdminDep) -> Response:
    admin = require_role(staff, (Role.AGENCY_ADMIN,))
    rotate_agency_key(
        db, settings=settings, agency_id=admin.agency_id or "", actor=Actor.staff(admin.id)
    )
    return redirect("/admin")


@router.get("/audit", response_class=HTMLResponse)
def audit_trail(
    request: Request,
    db: DbDep,
    staff: AdminDep,
    object_id: str = "",
    action: str = "",
    check: str = "",
) -> Response:
    """The audit trail, read-only, for auditors and platform admins."""
    require_role(staff, AUDIT_READERS)
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(200)
    if object_id.strip():
        query = query.where(AuditEvent.object_id == object_id.strip())
    if action.strip():
        query = query.where(AuditEvent.action == action.strip())
    events = db.scalars(query).all()
    # Walking the whole chain reads every event, so it runs only when asked for.
    result = verify_chain(db) if check == "1" else None
    return render(
        request,
        "identity/audit.html",
        {"events": events, "check": result, "object_id": object_id, "action": action},
    )
