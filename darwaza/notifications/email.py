"""Sending e-mail: over SMTP when ``DARWAZA_SMTP_HOST`` is set, else to an outbox file.

`SmtpEmailGateway` speaks real SMTP with `smtplib` (STARTTLS and a login when
configured). The server's answer decides what happens next: 4xx, a timeout or a lost
connection is temporary (the job is retried with back-off); 5xx is permanent (a hard
bounce: the address is suppressed). `OutboxEmailGateway` appends each message to
``outbox/email.jsonl`` in the data directory, as the SMS outbox does.
"""

from __future__ import annotations

import fcntl
import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

from darwaza.clock import utcnow
from darwaza.notifications.sms import DeliveryFailed
from darwaza.settings import Settings

SMTP_TIMEOUT_SECONDS = 20


class EmailGateway(Protocol):
    """Delivers one e-mail; returns the provider's id of it.

    ``message_id`` becomes the Message-ID header, so a relay and the reader's mail
    program can tell a repeat after a crash from a new message.
    """

    def send(self, *, to: str, subject: str, text: str, message_id: str) -> str: ...


def _message(
    settings: Settings, *, to: str, subject: str, text: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    domain = settings.smtp_from.rpartition("@")[2].strip("> ") or "darwaza.localhost"
    message["Message-ID"] = make_msgid(idstring=message_id, domain=domain)
    message.set_content(text)
    return message


class SmtpEmailGateway:
    """Hands each message to an SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, *, to: str, subject: str, text: str, message_id: str) -> str:
        settings = self.settings
        message = _message(settings, to=to, subject=subject, text=text, message_id=message_id)
        try:
            with smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
            ) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            raise DeliveryFailed(f"recipient refused: {codes}", permanent=permanent) from None
        except smtplib.SMTPResponseException as error:
            raise DeliveryFailed(
                f"SMTP {error.smtp_code}", permanent=500 <= error.smtp_code < 600
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryFailed(
                f"SMTP unreachable: {type(error).__name__}", permanent=False
            ) from None
        return str(message["Message-ID"])


class OutboxEmailGateway:
    """Writes e-mails to a local file instead of a mail server (the default)."""

    def __init__(self, outbox_dir: Path) -> None:
        self.path = outbox_dir / "email.jsonl"

    def send(self, *, to: str, subject: str, text: str, message_id: str) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "to": to,
            "subject": subject,
            "text": text,
            "message_id": message_id,
            "sent_at": utcnow().isoformat(),
        }
        with self.path.open("a", encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)
            try:
                outbox.write(json.dumps(record, ensure_ascii=False) + "\n")
            finally:
                fcntl.flock(outbox, fcntl.LOCK_UN)
        return message_id


def email_gateway_for(settings: Settings) -> EmailGateway:
    """SMTP when a host is configured, else the outbox file."""
    if settings.smtp_host:
        return SmtpEmailGateway(settings)
    return OutboxEmailGateway(settings.outbox_dir)
