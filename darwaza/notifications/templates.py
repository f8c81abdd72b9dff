"""Message templates as data: one YAML file per event, in English and Urdu.

Each file ``<event>.yaml`` has ``en`` and ``ur``, each with a ``subject`` (the e-mail
subject and the inbox title) and a ``text`` (the SMS, the e-mail body and the inbox
message). Placeholders are ``{name}``-style fields, and each event declares in `EVENTS`
which values its callers supply. `load_templates` checks every file at start-up
(``create_app`` and ``darwaza worker``): a malformed file, a missing language or part, or
a placeholder the event does not supply stops the start with the file and field named,
so a half-filled message is never sent.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from darwaza.i18n import LANGUAGES

TEMPLATES_DIR = Path(__file__).parent / "templates"
PARTS = ("subject", "text")


@dataclass(frozen=True)
class EventSpec:
    """What an event's callers supply, and whether it must reach the person by SMS."""

    fields: frozenset[str]
    must_reach: bool
    inbox: bool = True


def _spec(*fields: str, must_reach: bool, inbox: bool = True) -> EventSpec:
    return EventSpec(frozenset(fields), must_reach, inbox)


APPLICATION = ("name", "service", "tracking_number", "link")

EVENTS: dict[str, EventSpec] = {
    "application_submitted": _spec(*APPLICATION, "due_date", must_reach=False),
    "information_requested": _spec(*APPLICATION, "request", must_reach=True),
    "application_approved": _spec(*APPLICATION, must_reach=True),
    "document_issued": _spec(*APPLICATION, "document", must_reach=True),
    "application_rejected": _spec(*APPLICATION, "reason", must_reach=True),
    "document_suspended": _spec("name", "document", "link", must_reach=True),
    "document_revoked": _spec("name", "document", "link", must_reach=True),
    "new_sign_in": _spec("name", "time", "link", must_reach=False),
    "passkey_added": _spec(must_reach=True),
    "passkeys_removed": _spec("name", must_reach=True),
    "email_confirmation": _spec("name", "link", must_reach=False, inbox=False),
    "overdue_digest": _spec("name", "count", "link", must_reach=True, inbox=False),
    # A document issued from a register (no application): the holder finds it in the wallet.
    "document_received": _spec("name", "document", "issuer", "link", must_reach=True),
    # Fees: the PSID is what a citizen types at a bank, so it must reach them by SMS.
    "fee_due": _spec(*APPLICATION, "amount", "psid", "pay_by", must_reach=True),
    "fee_paid": _spec(*APPLICATION, "amount", "reference", must_reach=False),
    "fee_refunded": _spec(*APPLICATION, "amount", must_reach=True),
}


class TemplateError(ValueError):
    """A template file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str


@dataclass(frozen=True)
class Template:
    event: str
    path: Path
    parts: dict[str, dict[str, str]]  # language -> part -> text

    def render(self, language: str, values: dict[str, Any]) -> RenderedMessage:
        """The message in ``language`` with every placeholder filled.

        Raises `TemplateError` rather than send a message with a value missing.
        """
        missing = EVENTS[self.event].fields - values.keys()
        if missing:
            raise TemplateError(
                f"{self.path.name}: no value given for {', '.join(sorted(missing))}"
            )
        texts = self.parts.get(language) or self.parts["en"]
        clean = {key: str(value) for key, value in values.items()}
        return RenderedMessage(
            subject=" ".join(texts["subject"].format_map(clean).split()),
            text=texts["text"].format_map(clean).strip(),
        )


def _placeholders(path: Path, where: str, text: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise TemplateError(f"{path.name}: {where} is malformed ({error})") from None
    names: set[str] = set()
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise TemplateError(f"{path.name}: {where} has an unusable placeholder {{{field}}}")
        names.add(field)
    return names


def _load_one(path: Path, event: str) -> Template:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"{path.name}: not readable YAML ({error})") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path.name}: expected a mapping of languages")
    supplied = EVENTS[event].fields
    parts: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        texts = data.get(language)
        if not isinstance(texts, dict):
            raise TemplateError(f"{path.name}: {language} is missing")
        parts[language] = {}
        for part in PARTS:
            text = texts.get(part)
            where = f"{language}.{part}"
            if not isinstance(text, str) or not text.strip():
                raise TemplateError(f"{path.name}: {where} is missing or empty")
            unknown = _placeholders(path, where, text) - supplied
            if unknown:
                raise TemplateError(
                    f"{path.name}: {where} uses {{{sorted(unknown)[0]}}}, "
                    f"which the event {event} does not supply"
                )
            parts[language][part] = text
    extra = set(data) - set(LANGUAGES)
    if extra:
        raise TemplateError(f"{path.name}: unknown language {sorted(extra)[0]}")
    return Template(event=event, path=path, parts=parts)


def load_templates(directory: Path = TEMPLATES_DIR) -> dict[str, Template]:
    """Read and check every event's template; `TemplateError` names what is wrong."""
    templates: dict[str, Template] = {}
    for event in EVENTS:
        path = directory / f"{event}.yaml"
        if not path.is_file():
            raise TemplateError(f"{path.name}: the template of event {event} is missing")
        templates[event] = _load_one(path, event)
    return templates


@functools.cache
def templates_in(directory: Path) -> dict[str, Template]:
    """The checked templates of a directory, read once per process."""
    return load_templates(directory)
