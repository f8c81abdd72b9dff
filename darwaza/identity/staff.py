"""Staff accounts: passwords (Argon2id), the authenticator-app second factor, creation.

Staff never sign up; an operator or an admin creates them, and each gets an
authenticator seed, sealed at rest like signing keys, shown once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.crypto.keys import seal_secret, unseal_secret
from darwaza.errors import InvalidInput
from darwaza.i18n import N_
from darwaza.identity.models import STAFF_ROLES, Role, SignInChallenge, StaffMember
from darwaza.numbers import parse_mobile
from darwaza.settings import Settings

_password_hasher = PasswordHasher()
# Checking a password against this keeps the time of an unknown username like a known one.
_DUMMY_PASSWORD_HASH = _password_hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An Argon2id hash of a staff password."""
    return _password_hasher.hash(password)


def password_matches(staff: StaffMember | None, password: str) -> bool:
    """Check a password; an unknown account costs the same work as a known one."""
    stored_hash = staff.password_hash if staff else _DUMMY_PASSWORD_HASH
    try:
        return _password_hasher.verify(stored_hash, password) and staff is not None
    except (VerificationError, InvalidHashError):
        return False


TOTP_STEP_SECONDS = 30


def authenticator_code_matches(
    db: Session, *, settings: Settings, challenge: SignInChallenge, typed: str
) -> bool:
    """Check a staff member's authenticator code, allowing one step of clock drift, once."""
    staff = db.get(StaffMember, challenge.staff_member_id) if challenge.staff_member_id else None
    if staff is None or staff.totp_secret_sealed is None:
        return False
    seed = unseal_secret(staff.totp_secret_sealed, settings.key_sealing_secret).decode()
    authenticator = pyotp.TOTP(seed, interval=TOTP_STEP_SECONDS)
    current = int(utcnow().timestamp()) // TOTP_STEP_SECONDS
    for step in (current - 1, current, current + 1):
        expected = authenticator.at(step * TOTP_STEP_SECONDS)
        if hmac.compare_digest(expected, typed) and step > staff.totp_last_step:
            staff.totp_last_step = step
            return True
    return False


def enrol_authenticator(
    db: Session, *, settings: Settings, staff: StaffMember, seed: str | None = None
) -> str:
    """Give a staff member a new authenticator seed; returns it once, to show as a QR/URI."""
    seed = seed or pyotp.random_base32()
    staff.totp_secret_sealed = seal_secret(seed.encode(), settings.key_sealing_secret)
    staff.totp_last_step = 0
    record_event(
        db,
        actor=Actor.operator(),
        action="staff.authenticator_enrolled",
        object_type="staff_member",
        object_id=staff.id,
    )
    return seed


def authenticator_uri(staff: StaffMember, seed: str) -> str:
    """The ``otpauth://`` address an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(seed, interval=TOTP_STEP_SECONDS).provisioning_uri(
        name=staff.username, issuer_name="Darwaza"
    )


@dataclass(frozen=True)
class StaffEnrolment:
    """A new staff account and its authenticator seed (shown once, never again)."""

    staff: StaffMember
    authenticator_seed: str


def create_staff_member(
    db: Session,
    *,
    settings: Settings,
    username: str,
    full_name: str,
    role: Role | str,
    agency_id: str | None,
    mobile: str,
    password: str,
    actor: Actor,
    authenticator_seed: str | None = None,
) -> StaffEnrolment:
    """Create a staff account with its authenticator (only operators and admins do this)."""
    if role not in STAFF_ROLES:
        raise InvalidInput(N_("Unknown role {role}."), {"role": role})
    role = Role(role)
    if role.works_cases and not agency_id:
        raise InvalidInput(N_("Officers and agency admins belong to an agency."))
    staff = StaffMember(
        username=username.strip().lower(),
        full_name=full_name,
        role=role,
        agency_id=agency_id,
        mobile=parse_mobile(mobile),
        password_hash=hash_password(password),
    )
    db.add(staff)
    db.flush()
    record_event(
        db,
        actor=actor,
        action="staff.created",
        object_type="staff_member",
        object_id=staff.id,
        after={"username": staff.username, "role": role, "agency_id": agency_id},
    )
    seed = enrol_authenticator(db, settings=settings, staff=staff, seed=authenticator_seed)
    return StaffEnrolment(staff=staff, authenticator_seed=seed)
