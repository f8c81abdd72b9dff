"""Passkeys (WebAuthn): citizens add them and then sign in without a text message.

Once a citizen has a passkey, codes sent by SMS no longer sign them in, so a swapped SIM
card cannot take the account over. Someone who lost every passkey recovers in person:
after checking their identity, an operator removes the passkeys (``darwaza passkeys
remove``) and SMS sign-in works again.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import utcnow
from darwaza.crypto.digests import token_hash
from darwaza.errors import SignInFailed
from darwaza.i18n import N_
from darwaza.identity.contact import staff_recipient, tell_citizen
from darwaza.identity.models import Citizen, Passkey, SignInChallenge, StaffMember
from darwaza.identity.service import PURPOSE_STAFF, SignedIn
from darwaza.notifications.service import notify
from darwaza.settings import Settings

PURPOSE_REGISTER = "passkey_register"
PURPOSE_SIGN_IN = "passkey_sign_in"
CEREMONY_TIMEOUT = timedelta(minutes=5)


def relying_party(settings: Settings) -> tuple[str, str]:
    """The relying party id (a host name) and the expected origin, from the base URL."""
    parts = urlsplit(settings.base_url)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def _new_challenge() -> bytes:
    """32 random bytes: as strong as needed, and its hex fits the challenge column."""
    return secrets.token_bytes(32)


def _start_ceremony(db: Session, *, purpose: str, challenge: bytes, owner_id: str | None) -> str:
    """Remember a WebAuthn challenge and, where known, whose ceremony it is."""
    token = secrets.token_urlsafe(32)
    db.add(
        SignInChallenge(
            purpose=purpose,
            subject_hash="passkey",
            client_hash="",
            ceremony_owner_id=owner_id,
            binding_hash=token_hash(token),
            code_hash=challenge.hex(),
            expires_at=utcnow() + CEREMONY_TIMEOUT,
        )
    )
    db.flush()
    return token


def _finish_ceremony(db: Session, *, purpose: str, ceremony_token: str) -> SignInChallenge | None:
    ceremony = db.scalar(
        select(SignInChallenge)
        .where(SignInChallenge.binding_hash == token_hash(ceremony_token))
        .with_for_update()
    )
    if (
        ceremony is None
        or ceremony.purpose != purpose
        or ceremony.used_at is not None
        or ceremony.expires_at <= utcnow()
    ):
        return None
    ceremony.used_at = utcnow()
    return ceremony


def _owner_filter(owner: Citizen | StaffMember) -> Any:
    if isinstance(owner, StaffMember):
        return Passkey.staff_member_id == owner.id
    return Passkey.citizen_id == owner.id


def registration_options(
    db: Session, *, settings: Settings, owner: Citizen | StaffMember
) -> tuple[dict[str, Any], str]:
    """Options for the browser to create a passkey, and the token binding this ceremony."""
    rp_id, _origin = relying_party(settings)
    existing = db.scalars(select(Passkey.credential_id).where(_owner_filter(owner)))
    name = owner.username if isinstance(owner, StaffMember) else owner.full_name
    options = generate_registration_options(
        challenge=_new_challenge(),
        rp_id=rp_id,
        rp_name="Darwaza",
        user_id=owner.id.encode(),
        user_name=name or "Darwaza",
        user_display_name=owner.full_name or "Darwaza",
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing
        ],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
    )
    token = _start_ceremony(
        db, purpose=PURPOSE_REGISTER, challenge=options.challenge, owner_id=owner.id
    )
    return json.loads(options_to_json(options)), token


def add_passkey(
    db: Session,
    *,
    settings: Settings,
    owner: Citizen | StaffMember,
    ceremony_token: str,
    credential: dict[str, Any],
) -> Passkey:
    """Verify the browser's new credential and keep it; tell the owner by SMS."""
    ceremony = _finish_ceremony(db, purpose=PURPOSE_REGISTER, ceremony_token=ceremony_token)
    if ceremony is None or ceremony.ceremony_owner_id != owner.id:
        raise SignInFailed(N_("That took too long or was interrupted. Please try again."))
    rp_id, origin = relying_party(settings)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=bytes.fromhex(ceremony.code_hash),
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as error:
        raise SignInFailed(N_("The passkey could not be added. Please try again.")) from error
    is_staff = isinstance(owner, StaffMember)
    passkey = Passkey(
        citizen_id=None if is_staff else owner.id,
        staff_member_id=owner.id if is_staff else None,
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=str(credential.get("name") or "")[:100],
    )
    db.add(passkey)
    db.flush()
    record_event(
        db,
        actor=Actor.staff(owner.id) if is_staff else Actor.citizen(owner.id),
        action="passkey.added",
        object_type="passkey",
        object_id=passkey.id,
    )
    if isinstance(owner, Citizen):
        tell_citizen(db, settings=settings, citizen=owner, event="passkey_added")
    else:
        notify(
            db,
            settings=settings,
            recipient=staff_recipient(owner),
            event="passkey_added",
            values={},
        )
    return passkey


def _check_assertion(
    *, settings: Settings, ceremony: SignInChallenge, passkey: Passkey, credential: dict[str, Any]
) -> None:
    """Verify a browser's passkey assertion against the ceremony; count the use."""
    rp_id, origin = relying_party(settings)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=bytes.fromhex(ceremony.code_hash),
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as error:
        raise SignInFailed(N_("This passkey did not sign you in. Please try again.")) from error
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()


def sign_in_options(db: Session, *, settings: Settings) -> tuple[dict[str, Any], str]:
    """Options to sign in with any passkey of this site (the browser offers the person's own)."""
    rp_id, _origin = relying_party(settings)
    options = generate_authentication_options(
        challenge=_new_challenge(),
        rp_id=rp_id,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    token = _start_ceremony(db, purpose=PURPOSE_SIGN_IN, challenge=options.challenge, owner_id=None)
    return json.loads(options_to_json(options)), token


def sign_in_with_passkey(
    db: Session, *, settings: Settings, ceremony_token: str, credential: dict[str, Any]
) -> SignedIn:
    """Check the browser's assertion; the same failure answer for every kind of problem."""
    ceremony = _finish_ceremony(db, purpose=PURPOSE_SIGN_IN, ceremony_token=ceremony_token)
    raw_id = credential.get("rawId") or credential.get("id")
    passkey = (
        db.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
        if isinstance(raw_id, str)
        else None
    )
    if ceremony is None or passkey is None:
        raise SignInFailed(N_("This passkey did not sign you in. Please try again."))
    _check_assertion(settings=settings, ceremony=ceremony, passkey=passkey, credential=credential)
    citizen = db.get(Citizen, passkey.citizen_id) if passkey.citizen_id else None
    if citizen is None:  # staff passkeys are a second factor, never a sign-in on their own
        raise SignInFailed(N_("This passkey did not sign you in. Please try again."))
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="passkey.used",
        object_type="passkey",
        object_id=passkey.id,
    )
    return SignedIn(citizen=citizen)


def remove_passkeys(db: Session, *, settings: Settings, citizen: Citizen, actor: Actor) -> int:
    """Recovery after an identity check in person: remove every passkey of the citizen.

    The citizen is told by SMS and in the inbox, in the same transaction.
    """
    removed = 0
    for passkey in db.scalars(select(Passkey).where(Passkey.citizen_id == citizen.id)):
        db.delete(passkey)
        removed += 1
    record_event(
        db,
        actor=actor,
        action="passkey.removed_all",
        object_type="citizen",
        object_id=citizen.id,
        after={"removed": removed},
    )
    tell_citizen(db, settings=settings, citizen=citizen, event="passkeys_removed")
    return removed


def staff_second_factor_options(
    db: Session, *, settings: Settings, staff_challenge_token: str
) -> tuple[dict[str, Any], str]:
    """After a correct password: options to prove the second factor with a staff passkey."""
    challenge = db.scalar(
        select(SignInChallenge).where(
            SignInChallenge.binding_hash == token_hash(staff_challenge_token)
        )
    )
    if (
        challenge is None
        or challenge.purpose != PURPOSE_STAFF
        or challenge.used_at is not None
        or challenge.expires_at <= utcnow()
        or challenge.staff_member_id is None
    ):
        raise SignInFailed(N_("That took too long or was interrupted. Please try again."))
    rp_id, _origin = relying_party(settings)
    credentials = db.scalars(
        select(Passkey.credential_id).where(Passkey.staff_member_id == challenge.staff_member_id)
    ).all()
    if not credentials:
        raise SignInFailed(N_("You have no passkey yet. Use your authenticator app."))
    options = generate_authentication_options(
        challenge=_new_challenge(),
        rp_id=rp_id,
        user_verification=UserVerificationRequirement.REQUIRED,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in credentials
        ],
    )
    token = _start_ceremony(
        db, purpose=PURPOSE_SIGN_IN, challenge=options.challenge, owner_id=challenge.staff_member_id
    )
    return json.loads(options_to_json(options)), token


def staff_second_factor(
    db: Session,
    *,
    settings: Settings,
    staff_challenge_token: str,
    ceremony_token: str,
    credential: dict[str, Any],
) -> SignedIn:
    """Finish a staff sign-in with a passkey of that same staff member."""
    challenge = db.scalar(
        select(SignInChallenge)
        .where(SignInChallenge.binding_hash == token_hash(staff_challenge_token))
        .with_for_update()
    )
    ceremony = _finish_ceremony(db, purpose=PURPOSE_SIGN_IN, ceremony_token=ceremony_token)
    raw_id = credential.get("rawId") or credential.get("id")
    passkey = (
        db.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
        if isinstance(raw_id, str)
        else None
    )
    failure = SignInFailed(N_("This passkey did not sign you in. Please try again."))
    if (
        challenge is None
        or ceremony is None
        or passkey is None
        or challenge.purpose != PURPOSE_STAFF
        or challenge.used_at is not None
        or challenge.expires_at <= utcnow()
        or passkey.staff_member_id != challenge.staff_member_id
        or ceremony.ceremony_owner_id != challenge.staff_member_id
    ):
        raise failure
    _check_assertion(settings=settings, ceremony=ceremony, passkey=passkey, credential=credential)
    challenge.used_at = utcnow()
    staff = db.get(StaffMember, challenge.staff_member_id)
    if staff is None or staff.disabled_at is not None:
        raise failure
    record_event(
        db,
        actor=Actor.staff(staff.id),
        action="passkey.used",
        object_type="passkey",
        object_id=passkey.id,
    )
    return SignedIn(staff_member=staff)
