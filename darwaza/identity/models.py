"""Tables of the identity domain: citizens, staff, sign-in challenges and sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from darwaza.clock import utcnow
from darwaza.database import Base, StrEnumType, UTCDateTime, new_public_id


class Role(StrEnum):
    """Roles a person can hold; checked in the service functions."""

    CITIZEN = "citizen"
    OFFICER = "officer"
    AGENCY_ADMIN = "agency_admin"
    PLATFORM_ADMIN = "platform_admin"
    AUDITOR = "auditor"

    @property
    def is_staff(self) -> bool:
        """Every role but citizen is held by staff, made by an operator or an admin."""
        return self is not Role.CITIZEN

    @property
    def works_cases(self) -> bool:
        """Officers and agency admins work their agency's queue and documents."""
        return self in (Role.OFFICER, Role.AGENCY_ADMIN)


STAFF_ROLES: Final = tuple(role for role in Role if role.is_staff)


class IdentityProof(StrEnum):
    """How a citizen was proven to hold their CNIC."""

    SIM_REGISTRY = "sim_registry"  # the mobile number is registered to the CNIC
    IN_PERSON = "in_person"  # an officer checked them at a counter


class Citizen(Base):
    """A person who uses public services, known by their CNIC."""

    __tablename__ = "citizens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    cnic: Mapped[str] = mapped_column(String(13), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str] = mapped_column(String(16))
    preferred_language: Mapped[str] = mapped_column(String(5), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mobile_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person was proven to hold this CNIC (their mobile number is registered to
    # it, or an officer checked them in person): only then does the account hold what
    # is issued to the CNIC.
    identity_proven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    identity_proof: Mapped[IdentityProof | None] = mapped_column(StrEnumType(IdentityProof, 20))
    # A confirmed e-mail address; a new one waits in email_pending until its link is opened.
    email: Mapped[str | None] = mapped_column(String(254))
    email_pending: Mapped[str | None] = mapped_column(String(254))
    email_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The citizen's choices for messages that need not reach them by SMS.
    notify_by_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notify_by_email: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    @property
    def identity_proven(self) -> bool:
        """Whether this account is known to belong to the holder of its CNIC."""
        return self.identity_proven_at is not None


class StaffMember(Base):
    """An officer, agency admin, platform admin or auditor. Never created by sign-up."""

    __tablename__ = "staff_members"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(StrEnumType(Role, 20))
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"))
    mobile: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    # The authenticator-app seed, sealed like signing keys; the second factor for staff.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The last time step accepted, so one code cannot be used twice.
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInChallenge(Base):
    """One request for a one-time code, bound to the browser or client that asked for it.

    A challenge exists even for an unknown CNIC (with no person attached and no message
    sent), so that known and unknown accounts get the same answer.
    """

    __tablename__ = "sign_in_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    purpose: Mapped[str] = mapped_column(String(20))
    # A keyed hash of the CNIC or staff id: lets throttling treat known and unknown alike.
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    # A keyed hash of the network address that asked, for throttling per address.
    client_hash: Mapped[str] = mapped_column(String(64), index=True, default="")
    # A keyed hash of the mobile number a code was sent to, for capping texts per number.
    recipient_hash: Mapped[str] = mapped_column(
        String(64), index=True, default="", server_default=""
    )
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"))
    staff_member_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"))
    pending_full_name: Mapped[str | None] = mapped_column(String(200))
    pending_cnic: Mapped[str | None] = mapped_column(String(13))
    pending_mobile: Mapped[str | None] = mapped_column(String(16))
    binding_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # For passkey ceremonies: whose passkey is being added or proved.
    ceremony_owner_id: Mapped[str | None] = mapped_column(String(36))
    code_hash: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(Base):
    """A server-side session; the client holds only a random token whose hash is the key."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    staff_member_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class ApiToken(Base):
    """A token an agency's own system uses on the API: scoped, expiring, revocable.

    Only a hash is stored; the token itself is shown once, when it is made.
    """

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(Base):
    """A WebAuthn credential (passkey) that signs a person in without a text message."""

    __tablename__ = "passkeys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_public_id)
    citizen_id: Mapped[str | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    staff_member_id: Mapped[str | None] = mapped_column(ForeignKey("staff_members.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(700), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
