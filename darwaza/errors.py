"""Errors that reach a user. Each carries its HTTP status, a stable code and a message.

Messages are English msgids, translated where they are shown; every API error is
serialised to one JSON shape: ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from darwaza.i18n import N_


@dataclass(frozen=True)
class Message:
    """A translatable message: an English msgid and its ``{name}`` parameters.

    A parameter may itself be a mapping of language to text (``{"en": .., "ur": ..}``),
    such as a field label from the catalogue; it is resolved in the reader's language.
    """

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)


class DarwazaError(Exception):
    """Base of every error a user may see."""

    status_code = 400
    code = "bad_request"
    default_message = N_("The request could not be understood.")

    def __init__(
        self,
        message: str | None = None,
        params: Mapping[str, Any] | None = None,
        *,
        fields: Mapping[str, Message] | None = None,
    ) -> None:
        self.message = Message(message or self.default_message, params or {})
        self.fields = dict(fields or {})
        super().__init__(self.message.msgid)


class NotFound(DarwazaError):
    """Absent, or not the caller's to see: both look the same."""

    status_code = 404
    code = "not_found"
    default_message = N_("We could not find that page or record.")


class Forbidden(DarwazaError):
    """Known caller, but this action is outside what they were given (e.g. a token's scopes)."""

    status_code = 403
    code = "forbidden"
    default_message = N_("You are not allowed to do that.")


class NotSignedIn(DarwazaError):
    status_code = 401
    code = "not_signed_in"
    default_message = N_("Please sign in to continue.")


class InvalidInput(DarwazaError):
    status_code = 422
    code = "invalid_input"
    default_message = N_("Some answers need your attention.")


class IllegalTransition(DarwazaError):
    status_code = 409
    code = "illegal_transition"
    default_message = N_("This application cannot do that in its current state.")


class Conflict(DarwazaError):
    status_code = 409
    code = "conflict"
    default_message = N_("That was changed by someone else; please reload and try again.")


class SignInFailed(DarwazaError):
    status_code = 400
    code = "sign_in_failed"
    default_message = N_(
        "That code is not right, or it has expired. Check the latest message or ask for a new code."
    )


class TooManyRequests(DarwazaError):
    status_code = 429
    code = "too_many_requests"
    default_message = N_("Too many tries. Please wait a little and try again.")


class CsrfFailed(DarwazaError):
    status_code = 403
    code = "csrf_failed"
    default_message = N_("This form has expired. Please go back, reload the page and try again.")


class PayloadTooLarge(DarwazaError):
    status_code = 413
    code = "payload_too_large"
    default_message = N_("That is too large to send.")


class ServiceBusy(DarwazaError):
    """Every database connection is in use: try again in a moment (never a hang)."""

    status_code = 503
    code = "busy"
    default_message = N_("The service is very busy. Please try again in a moment.")
