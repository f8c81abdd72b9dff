"""Sending text messages.

`SmsGateway` is the interface a real provider implements. `OutboxSmsGateway`, the
default, appends each message as one JSON line to ``outbox/sms.jsonl`` in the data
directory, which is how the demo and the tests read the codes they were sent.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Protocol

from darwaza.clock import utcnow
from darwaza.settings import Settings


class SmsGateway(Protocol):
    """Delivers one text message to one mobile number (E.164, e.g. +923001234567)."""

    def send(self, *, to: str, text: str) -> None: ...


class OutboxSmsGateway:
    """Writes messages to a local file instead of a mobile network."""

    def __init__(self, outbox_dir: Path) -> None:
        self.path = outbox_dir / "sms.jsonl"

    def send(self, *, to: str, text: str) -> None:
        """Append the message; a lock keeps lines whole when several workers write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"to": to, "text": text, "sent_at": utcnow().isoformat()}, ensure_ascii=False
        )
        with self.path.open("a", encoding="utf-8") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)
            try:
                outbox.write(line + "\n")
                outbox.flush()
                os.fsync(outbox.fileno())
            finally:
                fcntl.flock(outbox, fcntl.LOCK_UN)


def sms_gateway_for(settings: Settings) -> SmsGateway:
    """The gateway the settings name (only the outbox ships with the platform)."""
    return OutboxSmsGateway(settings.outbox_dir)


class MessagesAfterResponse:
    """Collects messages during a request and sends them once the answer has gone out.

    Whether a message is sent (a known account) or not (an unknown one) then makes no
    difference to how long the answer takes.
    """

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway
        self.pending: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        self.pending.append((to, text))

    def deliver(self) -> None:
        """Hand every collected message to the real gateway."""
        for to, text in self.pending:
            self.gateway.send(to=to, text=text)
        self.pending.clear()
