"""What a verification answers: a verdict, who issued the document, and what it discloses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from darwaza.i18n import N_


class Verdict(StrEnum):
    """The answer a verifier sees, from best to worst news.

    ``invalid_signature`` is what a person checking a document calls "forged".
    """

    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    INVALID_SIGNATURE = "invalid_signature"
    UNKNOWN_ISSUER = "unknown_issuer"
    MALFORMED = "malformed"

    @property
    def label(self) -> str:
        """What a person checking a document reads (an English msgid)."""
        return _VERDICT_LABELS[self]


_VERDICT_LABELS: Final = {
    Verdict.VALID: N_("Valid"),
    Verdict.REVOKED: N_("Revoked"),
    Verdict.SUSPENDED: N_("Suspended"),
    Verdict.EXPIRED: N_("Expired"),
    Verdict.NOT_YET_VALID: N_("Not yet valid"),
    Verdict.INVALID_SIGNATURE: N_("Forged or altered"),
    Verdict.UNKNOWN_ISSUER: N_("Unknown issuer"),
    Verdict.MALFORMED: N_("Not a readable document"),
}


class CredentialFormat(StrEnum):
    """How the document reached the verifier."""

    SD_JWT = "sd_jwt"
    COMPACT_QR = "compact_qr"


@dataclass(frozen=True)
class IssuerInfo:
    """A trusted issuer, named in both languages of the platform."""

    issuer: str
    name_en: str
    name_ur: str


@dataclass(frozen=True)
class StatusReference:
    """Where a document's status is kept: entry ``index`` of the list at ``uri``."""

    uri: str
    index: int


@dataclass
class VerificationResult:
    """The outcome of checking one document.

    ``claims`` holds only what the holder disclosed (and what the issuer left in plain
    view), never the technical members such as ``_sd``, ``cnf`` or ``status``.
    ``reasons`` are English sentences marked for translation, shown where they are read.
    """

    verdict: Verdict
    format: CredentialFormat | None = None
    issuer: IssuerInfo | None = None
    document_type: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    status_reference: StatusReference | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    kid: str | None = None
    holder_bound: bool = False
    status_checked: bool = False

    @property
    def is_valid(self) -> bool:
        """True only for :attr:`Verdict.VALID`."""
        return self.verdict is Verdict.VALID
