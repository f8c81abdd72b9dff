"""Signing up, signing in and sessions.

Citizens confirm their mobile number with a one-time code. Codes are random, kept only
as a keyed hash, expire, work once and allow a few tries. A request about an unknown
CNIC creates a challenge too (one that can never succeed and sends nothing), so the
answer does not tell whether an account exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.agencies.key_material import seal_secret, unseal_secret
from darwaza.audit.trail import Actor, record_event
from darwaza.database import utcnow
from darwaza.errors import InvalidInput, Message, SignInFailed, TooManyRequests
from darwaza.i18n import N_, translate
from darwaza.identity.models import (
    Citizen,
    Passkey,
    Role,
    SignInChallenge,
    StaffMember,
    UserSession,
)
from darwaza.identity.numbers import InvalidCnic, InvalidMobile, parse_cnic, parse_mobile
from darwaza.notifications.sms import SmsGateway
from darwaza.settings import Settings

PURPOSE_SIGN_UP = "citizen_sign_up"
PURPOSE_SIGN_IN = "citizen_sign_in"
PURPOSE_STAFF = "staff_sign_in"

_password_hasher = PasswordHasher()
# Checking a password against this keeps the time of an unknown username like a known one.
_DUMMY_PASSWORD_HASH = _password_hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An Argon2id hash of a staff password."""
    return _password_hasher.hash(password)


def _keyed_hash(settings: Settings, *parts: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), "\x1f".join(parts).encode(), hashlib.sha256
    ).hexdigest()


def token_hash(token: str) -> str:
    """The stored form of a bearer token (session or challenge)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ChallengeIssued:
    """What the client keeps to finish signing in: an opaque token, never the code."""

    challenge_token: str
    expires_at: datetime


def _new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


# Limits on asking for codes and guessing them. Growing back-off: after every five wrong
# codes for one person within a day, the wait before the next code doubles.
ADDRESS_WINDOW = timedelta(minutes=10)
FAILURE_WINDOW = timedelta(hours=24)
FAILURES_BEFORE_BACKOFF = 5
MAX_BACKOFF = timedelta(hours=24)


def client_hash(settings: Settings, address: str) -> str:
    """A keyed hash of a network address: enough to count, not to identify."""
    return _keyed_hash(settings, "client", address or "unknown")


def backoff_for(failures: int) -> timedelta:
    """How long one person waits for a new code after ``failures`` wrong codes in a day."""
    if failures < FAILURES_BEFORE_BACKOFF:
        return timedelta(0)
    steps = (failures - FAILURES_BEFORE_BACKOFF) // FAILURES_BEFORE_BACKOFF
    return min(timedelta(minutes=1) * (1 << min(steps, 20)), MAX_BACKOFF)


def _throttle(db: Session, *, settings: Settings, subject_hash: str, client: str) -> None:
    """Refuse a new code too soon, whether or not the account exists."""
    now = utcnow()
    from_address = db.scalar(
        select(func.count())
        .select_from(SignInChallenge)
        .where(
            SignInChallenge.client_hash == client, SignInChallenge.created_at > now - ADDRESS_WINDOW
        )
    )
    if (from_address or 0) >= settings.otp_codes_per_address:
        raise TooManyRequests()
    recent = db.execute(
        select(
            func.coalesce(func.sum(SignInChallenge.failed_attempts), 0),
            func.max(SignInChallenge.created_at),
        ).where(
            SignInChallenge.subject_hash == subject_hash,
            SignInChallenge.created_at > now - FAILURE_WINDOW,
        )
    ).one()
    failures, last_asked = int(recent[0] or 0), recent[1]
    if last_asked is None:
        return
    if isinstance(last_asked, str):  # some drivers return an aggregate's time as text
        last_asked = datetime.fromisoformat(last_asked)
    if last_asked.tzinfo is None:
        last_asked = last_asked.replace(tzinfo=UTC)
    wait = max(timedelta(seconds=settings.otp_resend_cooldown_seconds), backoff_for(failures))
    if last_asked + wait > now:
        raise TooManyRequests(
            N_("A code was sent a moment ago. Please wait a minute before asking again.")
            if failures < FAILURES_BEFORE_BACKOFF
            else N_("Too many wrong codes. Please wait a while before asking for a new one.")
        )


def _create_challenge(
    db: Session,
    *,
    settings: Settings,
    purpose: str,
    subject_hash: str,
    client: str,
    code: str,
    citizen_id: str | None = None,
    staff_member_id: str | None = None,
    pending: tuple[str, str, str] | None = None,
) -> ChallengeIssued:
    token = secrets.token_urlsafe(32)
    challenge = SignInChallenge(
        purpose=purpose,
        subject_hash=subject_hash,
        client_hash=client,
        citizen_id=citizen_id,
        staff_member_id=staff_member_id,
        binding_hash=token_hash(token),
        expires_at=utcnow() + timedelta(seconds=settings.otp_ttl_seconds),
    )
    if pending:
        challenge.pending_cnic, challenge.pending_full_name, challenge.pending_mobile = pending
    db.add(challenge)
    db.flush()
    challenge.code_hash = _keyed_hash(settings, challenge.id, code)
    return ChallengeIssued(challenge_token=token, expires_at=challenge.expires_at)


def _code_message(language: str, code: str, minutes: int) -> str:
    return translate(
        language,
        N_("Your Darwaza code is {code}. It expires in {minutes} minutes. Never share it."),
        {"code": code, "minutes": minutes},
    )


def _field_errors(**errors: Message) -> InvalidInput:
    return InvalidInput(fields=errors)


def start_citizen_sign_up(
    db: Session,
    *,
    settings: Settings,
    sms: SmsGateway,
    cnic: str,
    full_name: str,
    mobile: str,
    language: str,
    client_address: str = "",
) -> ChallengeIssued:
    """Ask for a code to confirm a new account's mobile number."""
    errors: dict[str, Message] = {}
    try:
        cnic_digits = parse_cnic(cnic)
    except InvalidCnic as exc:
        errors["cnic"] = exc.message
    try:
        mobile_e164 = parse_mobile(mobile)
    except InvalidMobile as exc:
        errors["mobile"] = exc.message
    name = " ".join(full_name.split())
    if not name:
        errors["full_name"] = Message(N_("Enter your full name as on your CNIC."))
    elif len(name) > 200:
        errors["full_name"] = Message(N_("A name can be at most 200 characters."))
    if errors:
        raise _field_errors(**errors)

    subject = _keyed_hash(settings, "cnic", cnic_digits)
    client = client_hash(settings, client_address)
    _throttle(db, settings=settings, subject_hash=subject, client=client)
    code = _new_code()
    existing = db.scalar(select(Citizen).where(Citizen.cnic == cnic_digits))
    if existing is not None:
        # Never bind a second number to an existing account; warn its owner instead and
        # answer exactly as for a new account.
        sms.send(
            to=existing.mobile,
            text=translate(
                existing.preferred_language,
                N_(
                    "Someone tried to create a Darwaza account with your CNIC. "
                    "If it was you, sign in instead. If not, you do not need to do anything."
                ),
            ),
        )
        return _create_challenge(
            db,
            settings=settings,
            purpose=PURPOSE_SIGN_UP,
            subject_hash=subject,
            client=client,
            code=code,
        )
    issued = _create_challenge(
        db,
        settings=settings,
        purpose=PURPOSE_SIGN_UP,
        subject_hash=subject,
        client=client,
        code=code,
        pending=(cnic_digits, name, mobile_e164),
    )
    sms.send(to=mobile_e164, text=_code_message(language, code, settings.otp_ttl_seconds // 60))
    return issued


def start_citizen_sign_in(
    db: Session,
    *,
    settings: Settings,
    sms: SmsGateway,
    cnic: str,
    language: str,
    client_address: str = "",
) -> ChallengeIssued:
    """Ask for a code sent to the mobile number of the account with this CNIC."""
    try:
        cnic_digits = parse_cnic(cnic)
    except InvalidCnic as exc:
        raise _field_errors(cnic=exc.message) from exc
    subject = _keyed_hash(settings, "cnic", cnic_digits)
    client = client_hash(settings, client_address)
    _throttle(db, settings=settings, subject_hash=subject, client=client)
    code = _new_code()
    citizen = db.scalar(select(Citizen).where(Citizen.cnic == cnic_digits))
    issued = _create_challenge(
        db,
        settings=settings,
        purpose=PURPOSE_SIGN_IN,
        subject_hash=subject,
        client=client,
        code=code,
        citizen_id=citizen.id if citizen else None,
    )
    if citizen is not None:
        sms.send(
            to=citizen.mobile,
            text=_code_message(
                citizen.preferred_language or language, code, settings.otp_ttl_seconds // 60
            ),
        )
    return issued


def start_staff_sign_in(
    db: Session,
    *,
    settings: Settings,
    username: str,
    password: str,
    client_address: str = "",
) -> ChallengeIssued:
    """Check a staff member's password; the second factor (authenticator or passkey) follows."""
    staff = db.scalar(select(StaffMember).where(StaffMember.username == username.strip().lower()))
    stored_hash = staff.password_hash if staff else _DUMMY_PASSWORD_HASH
    password_ok: bool
    try:
        password_ok = _password_hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        password_ok = False
    if staff is None or not password_ok or staff.disabled_at is not None:
        raise InvalidInput(N_("The username or password is not right."))
    subject = _keyed_hash(settings, "staff", staff.id)
    client = client_hash(settings, client_address)
    _throttle(db, settings=settings, subject_hash=subject, client=client)
    code = _new_code()
    issued = _create_challenge(
        db,
        settings=settings,
        purpose=PURPOSE_STAFF,
        subject_hash=subject,
        client=client,
        code=code,
        staff_member_id=staff.id,
    )
    # Staff prove the second factor with their authenticator app: no text message is sent,
    # because an SMS code alone must never sign in staff.
    return issued


@dataclass(frozen=True)
class SignedIn:
    """A confirmed person: exactly one of citizen or staff member."""

    citizen: Citizen | None = None
    staff_member: StaffMember | None = None


TOTP_STEP_SECONDS = 30


def _authenticator_code_matches(
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


def confirm_code(
    db: Session,
    *,
    settings: Settings,
    challenge_token: str,
    code: str,
    purposes: tuple[str, ...],
    client_address: str = "",
) -> SignedIn | None:
    """Check a code against its challenge. ``None`` means no, for whatever reason.

    A wrong try is counted in the caller's transaction, which must be committed even
    though the caller then reports a failure.
    """
    challenge = db.scalar(
        select(SignInChallenge)
        .where(SignInChallenge.binding_hash == token_hash(challenge_token))
        .with_for_update()
    )
    typed = "".join(ch for ch in code if ch.isdigit())
    if challenge is None or challenge.purpose not in purposes:
        _keyed_hash(settings, "0", typed)  # same work as a real check
        return None
    if challenge.purpose == PURPOSE_STAFF:
        matches = _authenticator_code_matches(
            db, settings=settings, challenge=challenge, typed=typed
        )
    else:
        expected = challenge.code_hash
        matches = hmac.compare_digest(expected, _keyed_hash(settings, challenge.id, typed))
    usable = (
        challenge.used_at is None
        and challenge.expires_at > utcnow()
        and challenge.failed_attempts < settings.otp_max_attempts
    )
    wrong_from_address = db.scalar(
        select(func.coalesce(func.sum(SignInChallenge.failed_attempts), 0)).where(
            SignInChallenge.client_hash == client_hash(settings, client_address),
            SignInChallenge.created_at > utcnow() - timedelta(hours=1),
        )
    )
    if not usable or int(wrong_from_address or 0) >= settings.otp_wrong_codes_per_address:
        return None
    if not matches:
        challenge.failed_attempts += 1
        return None
    challenge.used_at = utcnow()
    if challenge.purpose == PURPOSE_SIGN_UP:
        if challenge.pending_cnic is None or challenge.pending_mobile is None:
            return None
        if db.scalar(select(Citizen).where(Citizen.cnic == challenge.pending_cnic)):
            return None
        citizen = Citizen(
            cnic=challenge.pending_cnic,
            full_name=challenge.pending_full_name or "",
            mobile=challenge.pending_mobile,
            mobile_confirmed_at=utcnow(),
        )
        db.add(citizen)
        db.flush()
        record_event(
            db,
            actor=Actor("citizen", citizen.id),
            action="citizen.signed_up",
            object_type="citizen",
            object_id=citizen.id,
            after={"mobile_confirmed": True},
        )
        return SignedIn(citizen=citizen)
    if challenge.purpose == PURPOSE_SIGN_IN and challenge.citizen_id:
        if db.scalar(
            select(func.count())
            .select_from(Passkey)
            .where(Passkey.citizen_id == challenge.citizen_id)
        ):
            return None  # with a passkey, a code by SMS (perhaps to a swapped SIM) is not enough
        signed_in_citizen = db.get(Citizen, challenge.citizen_id)
        return SignedIn(citizen=signed_in_citizen) if signed_in_citizen else None
    if challenge.purpose == PURPOSE_STAFF and challenge.staff_member_id:
        staff = db.get(StaffMember, challenge.staff_member_id)
        if staff is None or staff.disabled_at is not None:
            return None
        return SignedIn(staff_member=staff)
    return None


def require_confirmed(signed_in: SignedIn | None) -> SignedIn:
    """Raise the one failure answer for any unconfirmed code."""
    if signed_in is None:
        raise SignInFailed()
    return signed_in


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
        Actor("citizen", session.citizen_id)
        if session.citizen_id
        else Actor("staff", session.staff_member_id)
    )
    record_event(
        db, actor=actor, action="session.started", object_type="session", object_id=session.id
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
            return Actor("staff", self.staff_member.id)
        assert self.citizen is not None
        return Actor("citizen", self.citizen.id)


def resolve_session(db: Session, *, settings: Settings, token: str | None) -> Principal | None:
    """The principal of a live session, or ``None`` if it is unknown, ended or idle too long."""
    if not token:
        return None
    session = db.get(UserSession, token_hash(token))
    now = utcnow()
    if session is None or session.revoked_at is not None or session.expires_at <= now:
        return None
    staff = db.get(StaffMember, session.staff_member_id) if session.staff_member_id else None
    citizen = db.get(Citizen, session.citizen_id) if session.citizen_id else None
    idle = timedelta(
        minutes=settings.staff_session_idle_minutes
        if staff
        else settings.citizen_session_idle_minutes
    )
    if session.last_seen_at + idle <= now:
        return None
    if staff is not None and staff.disabled_at is not None:
        return None
    if now - session.last_seen_at > timedelta(seconds=60):
        session.last_seen_at = now  # at most one write a minute per session
    if citizen is None and staff is None:
        return None
    return Principal(session=session, citizen=citizen, staff_member=staff)


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


def set_preferred_language(db: Session, *, citizen: Citizen, language: str) -> None:
    """Remember a citizen's language, also for the messages sent to them."""
    if citizen.preferred_language != language:
        citizen.preferred_language = language


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
    role: str,
    agency_id: str | None,
    mobile: str,
    password: str,
    actor: Actor,
    authenticator_seed: str | None = None,
) -> StaffEnrolment:
    """Create a staff account with its authenticator (only operators and admins do this)."""
    if role not in Role.STAFF:
        raise InvalidInput(N_("Unknown role {role}."), {"role": role})
    if role in (Role.OFFICER, Role.AGENCY_ADMIN) and not agency_id:
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
