"""Sending text messages.

`SmsGateway` is the interface a real provider implements. `OutboxSmsGateway`, the
default, appends each message as one JSON line to ``outbox/sms.jsonl`` in the data
directory, which is how the demo and the tests read the codes they were sent. Messages
that must not hold up a request go through the job queue (`darwaza.notifications.jobs`).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import BinaryIO, Protocol

from darwaza.clock import utcnow
from darwaza.settings import Settings


class SmsGateway(Protocol):
    """Delivers one text message to one mobile number (E.164, e.g. +923001234567).

    ``message_id`` is the client reference a real SMS API takes: the provider accepts a
    message with a reference it has seen once and ignores repeats, so a job that sends
    and then crashes before it is marked done does not text the citizen twice.

    It returns the provider's id of the message (or None). A provider that times out or
    answers 5xx raises any exception (the job is retried with back-off); one that refuses
    the message for good (an invalid number) raises `DeliveryFailed` with
    ``permanent=True``. ``reports_delivery`` says whether the provider later calls the
    delivery-status callback; if not, an accepted message counts as delivered.
    """

    reports_delivery: bool

    def send(self, *, to: str, text: str, message_id: str | None = None) -> str | None: ...


class DeliveryFailed(Exception):
    """A provider refused a message: for now (``permanent=False``) or for good."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class OutboxSmsGateway:
    """Writes messages to a local file instead of a mobile network.

    Like a provider, it skips a message whose id it has already written: it reads the
    ids in its file once per process, then only the lines other processes appended since.
    """

    def __init__(self, outbox_dir: Path) -> None:
        self.path = outbox_dir / "sms.jsonl"
        self._sent_ids: set[str] = set()
        self._read_up_to = 0
        self._lock = threading.Lock()

    reports_delivery = False

    def send(self, *, to: str, text: str, message_id: str | None = None) -> str | None:
        """Append the message; a lock keeps lines whole when several workers write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"to": to, "text": text, "sent_at": utcnow().isoformat()}
        if message_id is not None:
            record["message_id"] = message_id
        line = json.dumps(record, ensure_ascii=False)
        with self._lock, self.path.open("a+b") as outbox:
            fcntl.flock(outbox, fcntl.LOCK_EX)
            try:
                whole_line = self._catch_up(outbox)
                if message_id is not None and message_id in self._sent_ids:
                    return message_id
                # A writer killed mid-line leaves a fragment: start on a line of our own.
                outbox.write(("" if whole_line else "\n").encode() + (line + "\n").encode())
                outbox.flush()
                os.fsync(outbox.fileno())
                self._read_up_to = outbox.tell()
                if message_id is not None:
                    self._sent_ids.add(message_id)
            finally:
                fcntl.flock(outbox, fcntl.LOCK_UN)
        return message_id

    def _catch_up(self, outbox: BinaryIO) -> bool:
        """Learn the ids appended since the last read; True if the file ends with a whole line."""
        size = outbox.seek(0, os.SEEK_END)
        if size < self._read_up_to:  # emptied by hand: start again
            self._sent_ids.clear()
            self._read_up_to = 0
        outbox.seek(self._read_up_to)
        appended = outbox.read()
        for raw in appended.splitlines():
            try:
                record = json.loads(raw)
            except ValueError:  # a fragment left by a writer that was killed
                continue
            if isinstance(record, dict) and isinstance(record.get("message_id"), str):
                self._sent_ids.add(record["message_id"])
        self._read_up_to += len(appended)
        if size == 0:
            return True
        outbox.seek(-1, os.SEEK_END)
        return outbox.read(1) == b"\n"


_gateways: dict[Path, SmsGateway] = {}
_gateways_lock = threading.Lock()


def install_sms_gateway(settings: Settings, gateway: SmsGateway | None) -> None:
    """Use ``gateway`` for these settings in this process (None: back to the default).

    How a deployment plugs in its provider's client, and how tests use a fake one.
    """
    path = settings.outbox_dir.resolve()
    with _gateways_lock:
        if gateway is None:
            _gateways.pop(path, None)
        else:
            _gateways[path] = gateway


def sms_gateway_for(settings: Settings) -> SmsGateway:
    """The gateway the settings name (only the outbox ships with the platform).

    One per outbox and process, so the ids it has seen are read once.
    """
    path = settings.outbox_dir.resolve()
    with _gateways_lock:
        gateway = _gateways.get(path)
        if gateway is None:
            gateway = _gateways[path] = OutboxSmsGateway(settings.outbox_dir)
        return gateway
