"""Signing up, signing in and sessions.

Citizens confirm their mobile number with a one-time code. Codes are random, kept only
as a keyed hash, expire, work once and allow a few tries. A request about an unknown
CNIC creates a challenge too (one that can never succeed and sends nothing), so the
answer does not tell whether an account exists.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.crypto.digests import token_hash
from darwaza.database import new_public_id
from darwaza.errors import InvalidInput, Message, NotFound, SignInFailed, TooManyRequests
from darwaza.i18n import N_, translate
from darwaza.identity.hashing import client_hash, keyed_hash
from darwaza.identity.models import (
    Citizen,
    IdentityProof,
    Passkey,
    SignInChallenge,
    StaffMember,
    UserSession,
)
from darwaza.identity.proofing import SimOwnership, identity_proofing_for
from darwaza.identity.staff import authenticator_code_matches, check_staff_password
from darwaza.notifications.jobs import send_sms_later
from darwaza.numbers import InvalidCnic, InvalidMobile, parse_cnic, parse_mobile
from darwaza.settings import Settings

PURPOSE_SIGN_UP = "citizen_sign_up"
PURPOSE_SIGN_IN = "citizen_sign_in"
PURPOSE_STAFF = "staff_sign_in"


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


def backoff_for(failures: int) -> timedelta:
    """How long one person waits for a new code after ``failures`` wrong codes in a day."""
    if failures < FAILURES_BEFORE_BACKOFF:
        return timedelta(0)
    steps = (failures - FAILURES_BEFORE_BACKOFF) // FAILURES_BEFORE_BACKOFF
    return min(timedelta(minutes=1) * (1 << min(steps, 20)), MAX_BACKOFF)


# Every request for a code, and every code typed, asks these: built once with bound
# parameters, so neither the statements nor their cache keys are made again on each call.
_CODES_FROM_ADDRESS = (
    select(func.count())
    .select_from(SignInChallenge)
    .where(
        SignInChallenge.client_hash == bindparam("client"),
        SignInChallenge.created_at > bindparam("since"),
    )
)
_CODES_TEXTED_SINCE = (
    select(func.count())
    .select_from(SignInChallenge)
    .where(SignInChallenge.recipient_hash != "", SignInChallenge.created_at > bindparam("since"))
)
_CODES_TEXTED_TO_SINCE = (
    select(func.count())
    .select_from(SignInChallenge)
    .where(
        SignInChallenge.recipient_hash == bindparam("recipient"),
        SignInChallenge.created_at > bindparam("since"),
    )
)
_WRONG_CODES_FROM_ADDRESS = select(
    func.coalesce(func.sum(SignInChallenge.failed_attempts), 0)
).where(
    SignInChallenge.client_hash == bindparam("client"),
    SignInChallenge.created_at > bindparam("since"),
)
_CHALLENGE_HELD_BY = (
    select(SignInChallenge)
    .where(SignInChallenge.binding_hash == bindparam("binding"))
    .with_for_update()
)
_CITIZEN_WITH_CNIC = select(Citizen).where(Citizen.cnic == bindparam("cnic"))
_PASSKEYS_OF = (
    select(func.count()).select_from(Passkey).where(Passkey.citizen_id == bindparam("citizen_id"))
)
_FAILURES_AND_LAST_ASKED = select(
    func.coalesce(func.sum(SignInChallenge.failed_attempts), 0),
    func.max(SignInChallenge.created_at),
).where(
    SignInChallenge.subject_hash == bindparam("subject"),
    SignInChallenge.created_at > bindparam("since"),
)


def _throttle(db: Session, *, settings: Settings, subject_hash: str, client: str) -> None:
    """Refuse a new code too soon, whether or not the account exists."""
    now = utcnow()
    from_address = db.scalar(_CODES_FROM_ADDRESS, {"client": client, "since": now - ADDRESS_WINDOW})
    if (from_address or 0) >= settings.otp_codes_per_address:
        raise TooManyRequests()
    texted_this_minute = db.scalar(_CODES_TEXTED_SINCE, {"since": now - timedelta(minutes=1)})
    if (texted_this_minute or 0) >= settings.sms_per_minute:
        # The same answer for everyone, whether or not a text would have gone out.
        raise TooManyRequests(
            N_("Many people are signing in right now. Please try again in a minute.")
        )
    recent = db.execute(
        _FAILURES_AND_LAST_ASKED, {"subject": subject_hash, "since": now - FAILURE_WINDOW}
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
    recipient: str | None = None,
) -> ChallengeIssued:
    token = secrets.token_urlsafe(32)
    # The code's hash is keyed by the challenge's id, so the id is chosen here: the row
    # goes in once, whole, not inserted and then updated.
    challenge_id = new_public_id()
    challenge = SignInChallenge(
        id=challenge_id,
        code_hash=keyed_hash(settings, challenge_id, code),
        purpose=purpose,
        subject_hash=subject_hash,
        client_hash=client,
        recipient_hash=keyed_hash(settings, "mobile", recipient) if recipient else "",
        citizen_id=citizen_id,
        staff_member_id=staff_member_id,
        binding_hash=token_hash(token),
        expires_at=utcnow() + timedelta(seconds=settings.otp_ttl_seconds),
    )
    if pending:
        challenge.pending_cnic, challenge.pending_full_name, challenge.pending_mobile = pending
    db.add(challenge)
    return ChallengeIssued(challenge_token=token, expires_at=challenge.expires_at)


def _may_text(db: Session, *, settings: Settings, mobile: str) -> bool:
    """Whether one more text may go to this number this hour.

    Past the cap nothing is sent, silently: the answer stays the same, so it says nothing
    about whether the number belongs to an account.
    """
    sent = db.scalar(
        _CODES_TEXTED_TO_SINCE,
        {
            "recipient": keyed_hash(settings, "mobile", mobile),
            "since": utcnow() - timedelta(hours=1),
        },
    )
    return int(sent or 0) < settings.sms_per_number_per_hour


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

    subject = keyed_hash(settings, "cnic", cnic_digits)
    client = client_hash(settings, client_address)
    _throttle(db, settings=settings, subject_hash=subject, client=client)
    code = _new_code()
    existing = db.scalar(_CITIZEN_WITH_CNIC, {"cnic": cnic_digits})
    if existing is not None:
        # Never bind a second number to an existing account; warn its owner instead and
        # answer exactly as for a new account.
        warn = _may_text(db, settings=settings, mobile=existing.mobile)
        if warn:
            send_sms_later(
                db,
                urgent=False,
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
            recipient=existing.mobile if warn else None,
        )
    text = _may_text(db, settings=settings, mobile=mobile_e164)
    issued = _create_challenge(
        db,
        settings=settings,
        purpose=PURPOSE_SIGN_UP,
        subject_hash=subject,
        client=client,
        code=code,
        pending=(cnic_digits, name, mobile_e164),
        recipient=mobile_e164 if text else None,
    )
    if text:
        minutes = settings.otp_ttl_seconds // 60
        send_sms_later(db, urgent=True, to=mobile_e164, text=_code_message(language, code, minutes))
    return issued


def start_citizen_sign_in(
    db: Session,
    *,
    settings: Settings,
    cnic: str,
    language: str,
    client_address: str = "",
) -> ChallengeIssued:
    """Ask for a code sent to the mobile number of the account with this CNIC."""
    try:
        cnic_digits = parse_cnic(cnic)
    except InvalidCnic as exc:
        raise _field_errors(cnic=exc.message) from exc
    subject = keyed_hash(settings, "cnic", cnic_digits)
    client = client_hash(settings, client_address)
    _throttle(db, settings=settings, subject_hash=subject, client=client)
    code = _new_code()
    citizen = db.scalar(_CITIZEN_WITH_CNIC, {"cnic": cnic_digits})
    text = citizen is not None and _may_text(db, settings=settings, mobile=citizen.mobile)
    issued = _create_challenge(
        db,
        settings=settings,
        purpose=PURPOSE_SIGN_IN,
        subject_hash=subject,
        client=client,
        code=code,
        citizen_id=citizen.id if citizen else None,
        recipient=citizen.mobile if citizen is not None and text else None,
    )
    if citizen is not None and text:
        send_sms_later(
            db,
            urgent=True,
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
    """Check a staff member's password; the second factor (authenticator or passkey) follows.

    Wrong passwords are counted per username and per address; once either is over its
    limit, every answer is the same refusal whether the password was right or not, and
    the password is not even checked. A wrong try is counted in the caller's
    transaction, which must be committed even though the caller then reports a failure.
    """
    client = client_hash(settings, client_address)
    staff = check_staff_password(
        db, settings=settings, username=username, password=password, client=client
    )
    if staff is None:
        raise InvalidInput(N_("The username or password is not right."))
    subject = keyed_hash(settings, "staff", staff.id)
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
    challenge = db.scalar(_CHALLENGE_HELD_BY, {"binding": token_hash(challenge_token)})
    typed = "".join(ch for ch in code if ch.isdigit())
    if challenge is None or challenge.purpose not in purposes:
        keyed_hash(settings, "0", typed)  # same work as a real check
        return None
    if challenge.purpose == PURPOSE_STAFF:
        matches = authenticator_code_matches(
            db, settings=settings, challenge=challenge, typed=typed
        )
    else:
        expected = challenge.code_hash
        matches = hmac.compare_digest(expected, keyed_hash(settings, challenge.id, typed))
    usable = (
        challenge.used_at is None
        and challenge.expires_at > utcnow()
        and challenge.failed_attempts < settings.otp_max_attempts
    )
    wrong_from_address = db.scalar(
        _WRONG_CODES_FROM_ADDRESS,
        {
            "client": client_hash(settings, client_address),
            "since": utcnow() - timedelta(hours=1),
        },
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
        if db.scalar(_CITIZEN_WITH_CNIC, {"cnic": challenge.pending_cnic}):
            return None
        return SignedIn(citizen=_create_citizen(db, settings=settings, challenge=challenge))
    if challenge.purpose == PURPOSE_SIGN_IN and challenge.citizen_id:
        if db.scalar(_PASSKEYS_OF, {"citizen_id": challenge.citizen_id}):
            return None  # with a passkey, a code by SMS (perhaps to a swapped SIM) is not enough
        signed_in_citizen = db.get(Citizen, challenge.citizen_id)
        return SignedIn(citizen=signed_in_citizen) if signed_in_citizen else None
    if challenge.purpose == PURPOSE_STAFF and challenge.staff_member_id:
        staff = db.get(StaffMember, challenge.staff_member_id)
        if staff is None or staff.disabled_at is not None:
            return None
        return SignedIn(staff_member=staff)
    return None


def _create_citizen(db: Session, *, settings: Settings, challenge: SignInChallenge) -> Citizen:
    """The new account: proven at once when the confirmed number is registered to the CNIC."""
    assert challenge.pending_cnic is not None and challenge.pending_mobile is not None
    ownership = identity_proofing_for(settings).sim_ownership(
        cnic=challenge.pending_cnic, mobile=challenge.pending_mobile
    )
    proven = ownership is SimOwnership.REGISTERED
    now = utcnow()
    citizen = Citizen(
        cnic=challenge.pending_cnic,
        full_name=challenge.pending_full_name or "",
        mobile=challenge.pending_mobile,
        mobile_confirmed_at=now,
        identity_proven_at=now if proven else None,
        identity_proof=IdentityProof.SIM_REGISTRY if proven else None,
    )
    db.add(citizen)
    db.flush()
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="citizen.signed_up",
        object_type="citizen",
        object_id=citizen.id,
        after={"mobile_confirmed": True, "sim_ownership": ownership.value},
    )
    return citizen


def record_in_person_check(
    db: Session, *, citizen: Citizen, mobile: str | None, actor: Actor
) -> Citizen:
    """An officer checked the person at a counter: the account is theirs from now on.

    With ``mobile``, the account's number becomes the one the person brought, and every
    session of whoever held the account before ends.
    """
    before = {"proven": citizen.identity_proven, "mobile_changed": False}
    if mobile:
        number = parse_mobile(mobile)
        if number != citizen.mobile:
            citizen.mobile = number
            citizen.mobile_confirmed_at = utcnow()
            before["mobile_changed"] = True
            for session in db.scalars(
                select(UserSession).where(
                    UserSession.citizen_id == citizen.id, UserSession.revoked_at.is_(None)
                )
            ):
                session.revoked_at = utcnow()
    citizen.identity_proven_at = utcnow()
    citizen.identity_proof = IdentityProof.IN_PERSON
    record_event(
        db,
        actor=actor,
        action="citizen.identity_checked_in_person",
        object_type="citizen",
        object_id=citizen.id,
        before={"proven": before["proven"]},
        after={"proven": True, "mobile_changed": before["mobile_changed"]},
        subject_id=citizen.id,
    )
    return citizen


def citizen_by_cnic(db: Session, *, cnic: str) -> Citizen:
    """The account of a CNIC, or :class:`NotFound`."""
    try:
        digits = parse_cnic(cnic)
    except InvalidCnic as error:
        raise InvalidInput(fields={"cnic": error.message}) from error
    citizen = db.scalar(select(Citizen).where(Citizen.cnic == digits))
    if citizen is None:
        raise NotFound()
    return citizen


def require_confirmed(signed_in: SignedIn | None) -> SignedIn:
    """Raise the one failure answer for any unconfirmed code."""
    if signed_in is None:
        raise SignInFailed()
    return signed_in


def set_preferred_language(db: Session, *, citizen: Citizen, language: str) -> None:
    """Remember a citizen's language, also for the messages sent to them."""
    if citizen.preferred_language != language:
        citizen.preferred_language = language
