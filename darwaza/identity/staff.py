"""Staff accounts: passwords (Argon2id), the authenticator-app second factor, creation.

Staff never sign up; an operator or an admin creates them, and each gets an
authenticator seed, sealed at rest like signing keys, shown once.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.crypto.keys import seal_secret, unseal_secret
from darwaza.errors import InvalidInput, TooManyRequests
from darwaza.i18n import N_
from darwaza.identity.hashing import keyed_hash
from darwaza.identity.models import STAFF_ROLES, Role, SignInChallenge, StaffMember
from darwaza.numbers import parse_mobile
from darwaza.settings import Settings

_password_hasher = PasswordHasher()
# Checking a password against this keeps the time of an unknown username like a known one.
_DUMMY_PASSWORD_HASH = _password_hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An Argon2id hash of a staff password."""
    return _password_hasher.hash(password)


PASSWORD_FAILED = "password_failed"  # noqa: S105 (a purpose, not a secret; at most 20)
FAILURES_BEFORE_WAIT: Final = 5
USERNAME_WINDOW: Final = timedelta(hours=24)
ADDRESS_WINDOW: Final = timedelta(hours=1)
# Argon2 is deliberately costly: a few checks at once per process, so a flood of sign-ins
# queues here briefly and is then refused instead of taking every core.
_hashing = threading.BoundedSemaphore(2)
HASHING_WAIT_SECONDS: Final = 2.0


def wait_after(failures: int) -> timedelta:
    """How long a username waits after ``failures`` wrong passwords in a day.

    Nothing for the first few; then one minute, doubling every five, at most a day.
    """
    if failures < FAILURES_BEFORE_WAIT:
        return timedelta(0)
    steps = (failures - FAILURES_BEFORE_WAIT) // FAILURES_BEFORE_WAIT
    return min(timedelta(minutes=1) * (1 << min(steps, 20)), USERNAME_WINDOW)


def _refuse_if_throttled(db: Session, *, settings: Settings, subject: str, client: str) -> None:
    now = utcnow()
    failures, last = db.execute(
        select(func.count(), func.max(SignInChallenge.created_at)).where(
            SignInChallenge.purpose == PASSWORD_FAILED,
            SignInChallenge.subject_hash == subject,
            SignInChallenge.created_at > now - USERNAME_WINDOW,
        )
    ).one()
    if isinstance(last, str):  # some drivers return an aggregate's time as text
        last = datetime.fromisoformat(last)
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    if last is not None and last + wait_after(int(failures)) > now:
        raise TooManyRequests()
    from_address = db.scalar(
        select(func.count()).where(
            SignInChallenge.purpose == PASSWORD_FAILED,
            SignInChallenge.client_hash == client,
            SignInChallenge.created_at > now - ADDRESS_WINDOW,
        )
    )
    if int(from_address or 0) >= settings.staff_password_failures_per_address:
        raise TooManyRequests()


def _count_failure(db: Session, *, subject: str, client: str) -> None:
    now = utcnow()
    db.add(
        SignInChallenge(
            purpose=PASSWORD_FAILED,
            subject_hash=subject,
            client_hash=client,
            binding_hash=secrets.token_hex(32),
            expires_at=now,
            used_at=now,
            failed_attempts=1,
        )
    )
    db.flush()


def check_staff_password(
    db: Session, *, settings: Settings, username: str, password: str, client: str
) -> StaffMember | None:
    """The staff member if the password is theirs, ``None`` otherwise (a wrong try counts).

    Raises :class:`TooManyRequests` before looking at the password when the username or
    the address is throttled, or when too many passwords are being checked at once.
    """
    name = username.strip().lower()
    subject = keyed_hash(settings, "staff-username", name)
    _refuse_if_throttled(db, settings=settings, subject=subject, client=client)
    staff = db.scalar(select(StaffMember).where(StaffMember.username == name))
    if not _hashing.acquire(timeout=HASHING_WAIT_SECONDS):
        raise TooManyRequests()
    try:
        matches = password_matches(staff, password)
    finally:
        _hashing.release()
    if staff is None or not matches or staff.disabled_at is not None:
        _count_failure(db, subject=subject, client=client)
        return None
    return staff


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
