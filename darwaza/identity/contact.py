"""How Darwaza reaches a person: their channels, their e-mail address, and telling them.

`darwaza.notifications` knows nothing of citizens; this module turns a citizen (or a
staff member) into the `Recipient` it needs. A citizen adds an e-mail address on
``/account``; it is used only once they open the link sent to it (a random token, kept
only as its SHA-256, valid 24 hours).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_date, format_datetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.audit.trail import record_event
from darwaza.clock import KARACHI, utcnow
from darwaza.crypto.digests import token_hash
from darwaza.errors import InvalidInput, Message
from darwaza.i18n import N_, babel_locale
from darwaza.identity.models import Citizen, StaffMember
from darwaza.notifications.service import Recipient, notify
from darwaza.settings import Settings

EMAIL_LINK_LIFETIME = timedelta(hours=24)
# Deliberately plain: one @, a dot in the domain, no spaces. The link proves the rest.
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def recipient_of(citizen: Citizen) -> Recipient:
    """A citizen as the notifications domain needs them: where, which language, what they chose."""
    return Recipient(
        recipient_id=citizen.id,
        mobile=citizen.mobile,
        language=citizen.preferred_language or "en",
        email=citizen.email,
        sms_chosen=citizen.notify_by_sms,
        email_chosen=citizen.notify_by_email,
    )


def staff_recipient(staff: StaffMember) -> Recipient:
    """A staff member: by SMS to the number on file, in English, no inbox."""
    return Recipient(recipient_id=staff.id, mobile=staff.mobile, language="en", inbox=False)


def tell_citizen(
    db: Session,
    *,
    settings: Settings,
    citizen: Citizen,
    event: str,
    values: dict[str, Any] | None = None,
    reference: str | None = None,
    send_after: datetime | None = None,
) -> None:
    """Send ``event`` to the citizen on their channels, in the caller's transaction."""
    notify(
        db,
        settings=settings,
        recipient=recipient_of(citizen),
        event=event,
        values={"name": citizen.full_name, **(values or {})},
        reference=reference,
        send_after=send_after,
    )


def local_date(value: datetime, language: str) -> str:
    """A date as the reader writes it, in Asia/Karachi."""
    return format_date(
        value.astimezone(KARACHI).date(), format="long", locale=babel_locale(language)
    )


def local_time(value: datetime, language: str) -> str:
    """A date and time as the reader writes it, in Asia/Karachi."""
    return format_datetime(
        value.astimezone(KARACHI), format="medium", locale=babel_locale(language)
    )


def link(settings: Settings, path: str) -> str:
    """An absolute link to a page of the platform, for a message."""
    return settings.base_url.rstrip("/") + path


def request_email_confirmation(
    db: Session, *, settings: Settings, citizen: Citizen, email: str
) -> None:
    """Keep ``email`` as pending and send it a link that confirms it."""
    address = email.strip()
    if not EMAIL_PATTERN.match(address) or len(address) > 254:
        raise InvalidInput(
            fields={"email": Message(N_("Enter an e-mail address such as name@example.com."))}
        )
    token = secrets.token_urlsafe(32)
    citizen.email_pending = address
    citizen.email_token_hash = token_hash(token)
    citizen.email_token_expires_at = utcnow() + EMAIL_LINK_LIFETIME
    notify(
        db,
        settings=settings,
        recipient=recipient_of(citizen),
        event="email_confirmation",
        values={"name": citizen.full_name, "link": link(settings, f"/account/email/{token}")},
        email_to=address,
    )
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="citizen.email_requested",
        object_type="citizen",
        object_id=citizen.id,
    )


def confirm_email(db: Session, *, token: str) -> Citizen | None:
    """Open a confirmation link: the pending address becomes the citizen's. None if unusable."""
    citizen = db.scalar(select(Citizen).where(Citizen.email_token_hash == token_hash(token)))
    if (
        citizen is None
        or citizen.email_pending is None
        or citizen.email_token_expires_at is None
        or citizen.email_token_expires_at < utcnow()
    ):
        return None
    citizen.email = citizen.email_pending
    citizen.email_pending = citizen.email_token_hash = citizen.email_token_expires_at = None
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="citizen.email_confirmed",
        object_type="citizen",
        object_id=citizen.id,
    )
    return citizen


def choose_channels(db: Session, *, citizen: Citizen, by_sms: bool, by_email: bool) -> None:
    """The citizen's choices for messages that need not reach them by SMS."""
    citizen.notify_by_sms = by_sms
    citizen.notify_by_email = by_email
    record_event(
        db,
        actor=Actor.citizen(citizen.id),
        action="citizen.channels_chosen",
        object_type="citizen",
        object_id=citizen.id,
        after={"sms": by_sms, "email": by_email},
    )
