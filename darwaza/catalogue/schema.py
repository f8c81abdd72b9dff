"""What a catalogue file may say: agencies, the services they offer, the documents they issue.

A service is data, not code. Each definition is a small YAML file read into one of
the models below; the models check the shape of one definition (types, slugs, Urdu
text, regular expressions, bounds). What only the whole catalogue can tell is checked
in :mod:`darwaza.catalogue.checks`.

Every piece of text a citizen reads is given in English and Urdu
(``{"en": .., "ur": ..}``), so labels can travel as message parameters and be shown in
the reader's language at the edge (see :func:`darwaza.i18n.translate`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from darwaza.crypto.claims import RESERVED_CLAIM_NAMES
from darwaza.i18n import localised

# --- small value types --------------------------------------------------------------------

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

MAX_ID_LENGTH: Final = 64
MAX_LABEL_LENGTH: Final = 200
MAX_TEXT_LENGTH: Final = 4000


def _problem(message: str, **context: Any) -> PydanticCustomError:
    # One error type for every rule of ours, so its message is shown exactly as written.
    return PydanticCustomError("catalogue_rule", message, context or None)


def _check_slug(value: str) -> str:
    if len(value) > MAX_ID_LENGTH or not _SLUG.fullmatch(value):
        raise _problem(
            "must be lowercase letters and digits in words joined by single hyphens, "
            "at most 64 characters, like hec-degree-attestation"
        )
    return value


def _check_name(value: str) -> str:
    if len(value) > MAX_ID_LENGTH or not _NAME.fullmatch(value):
        raise _problem(
            "must be lowercase letters, digits and underscores, starting with a letter, "
            "at most 64 characters, like full_name"
        )
    return value


def _check_text(value: str) -> str:
    if not value:
        raise _problem("must not be empty")
    if _CONTROL.search(value):
        raise _problem("must not contain control characters")
    return value


def _check_urdu(value: str) -> str:
    _check_text(value)
    if not _ARABIC_SCRIPT.search(value):
        raise _problem("must be written in Urdu (Arabic script), not in Latin letters")
    return value


def _check_uri(value: str) -> str:
    if not _URI.fullmatch(value):
        raise _problem("must be a URI, like urn:darwaza:vct:hec-degree-attestation:1")
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
"""An id of an agency, service or document type: ``hec-degree-attestation``."""

Name = Annotated[str, AfterValidator(_check_name)]
"""A name of a form field, required document or claim: ``full_name``."""

NonEmptyText = Annotated[str, AfterValidator(_check_text)]
UrduText = Annotated[str, AfterValidator(_check_urdu)]


class _Definition(BaseModel):
    # Strict: a YAML file says exactly what it means; "2015" is not 2015 and a typo in a
    # key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class LocalisedLabel(_Definition):
    """A short text in English and Urdu: a name, a title, a label."""

    en: Annotated[NonEmptyText, Field(max_length=MAX_LABEL_LENGTH)]
    ur: Annotated[UrduText, Field(max_length=MAX_LABEL_LENGTH)]

    def in_language(self, language: str) -> str:
        """The text in ``language``, English when that language is not given."""
        return str(localised(self.model_dump(), language))


class LocalisedText(_Definition):
    """A longer text in English and Urdu: a description, help, eligibility."""

    en: Annotated[NonEmptyText, Field(max_length=MAX_TEXT_LENGTH)]
    ur: Annotated[UrduText, Field(max_length=MAX_TEXT_LENGTH)]

    def in_language(self, language: str) -> str:
        """The text in ``language``, English when that language is not given."""
        return str(localised(self.model_dump(), language))


class LocalisedKeywords(_Definition):
    """Extra words a citizen may search with, per language (synonyms, acronyms)."""

    en: list[Annotated[NonEmptyText, Field(max_length=MAX_LABEL_LENGTH)]] = Field(
        default_factory=list
    )
    ur: list[Annotated[NonEmptyText, Field(max_length=MAX_LABEL_LENGTH)]] = Field(
        default_factory=list
    )


# --- agencies -----------------------------------------------------------------------------


class AgencyDefinition(_Definition):
    """A public body that offers services and issues documents."""

    id: Slug
    name: LocalisedLabel
    short_name: LocalisedLabel
    description: LocalisedText


# --- services -----------------------------------------------------------------------------

FieldType = Literal["text", "textarea", "number", "date", "select", "cnic", "phone", "email"]
FIELD_TYPES: Final[tuple[FieldType, ...]] = (
    "text",
    "textarea",
    "number",
    "date",
    "select",
    "cnic",
    "phone",
    "email",
)
TEXT_TYPES: Final = frozenset({"text", "textarea"})
BOUNDED_TYPES: Final = frozenset({"text", "textarea", "number", "date"})

TODAY: Final = "today"
"""A date bound that moves with the calendar: the day the answer is checked."""
CURRENT_YEAR: Final = "current_year"
"""A number bound that moves with the calendar: the year the answer is checked."""

# Longest answers accepted when a field sets no maximum, so no answer can be unbounded.
DEFAULT_MAX_LENGTH: Final[Mapping[str, int]] = {"text": 200, "textarea": 4000}
MAX_DECIMAL_PLACES: Final = 6

Bound = int | float | date | str


class SelectOption(_Definition):
    """One choice of a ``select`` field: the stored value and what the citizen reads."""

    value: Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
    label: LocalisedLabel


class FieldDefinition(_Definition):
    """One question of a service's form.

    ``min`` and ``max`` mean, by type: for ``text`` and ``textarea`` the length in
    characters; for ``number`` the value (a number, or ``current_year``); for ``date``
    the earliest and latest day (an ISO date such as ``1950-01-01``, or ``today``).
    ``pattern`` is a Python regular expression the whole answer must match (text types
    only). ``decimal_places`` is how many digits a number may have after the point
    (0: whole numbers only).
    """

    name: Name
    type: FieldType
    label: LocalisedLabel
    help: LocalisedText | None = None
    required: bool = True
    pattern: str | None = None
    min: Bound | None = None
    max: Bound | None = None
    decimal_places: Annotated[int, Field(ge=0, le=MAX_DECIMAL_PLACES)] = 0
    options: list[SelectOption] = Field(default_factory=list, validate_default=True)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None, info: ValidationInfo) -> str | None:
        if pattern is None:
            return None
        field_type = info.data.get("type")
        if field_type is not None and field_type not in TEXT_TYPES:
            raise _problem("only text and textarea fields can have a pattern")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _problem("is not a valid regular expression: {error}", error=str(exc)) from exc
        return pattern

    @field_validator("min", "max", mode="before")
    @classmethod
    def _bound_fits_type(cls, bound: Any, info: ValidationInfo) -> Bound | None:
        if bound is None:
            return None
        field_type = info.data.get("type")
        if field_type is None:
            return None  # the type itself is wrong; that error is enough
        if field_type not in BOUNDED_TYPES:
            raise _problem("only text, textarea, number and date fields can have min and max")
        checked = _check_bound(field_type, bound)
        if info.field_name == "max":
            lower = info.data.get("min")
            if _comparable(lower, checked) and lower > checked:  # type: ignore[operator]
                raise _problem("must not be less than min")
        return checked

    @field_validator("decimal_places")
    @classmethod
    def _decimals_only_for_numbers(cls, places: int, info: ValidationInfo) -> int:
        if places and info.data.get("type") not in (None, "number"):
            raise _problem("only number fields can have decimal_places")
        return places

    @field_validator("options")
    @classmethod
    def _options_only_for_select(
        cls, options: list[SelectOption], info: ValidationInfo
    ) -> list[SelectOption]:
        field_type = info.data.get("type")
        if field_type == "select" and not options:
            raise _problem("a select field needs at least one option")
        if field_type not in (None, "select") and options:
            raise _problem("only select fields can have options")
        return options

    @property
    def max_length(self) -> int | None:
        """The longest answer accepted for a text field (its ``max`` or the default)."""
        if self.type not in TEXT_TYPES:
            return None
        return int(self.max) if isinstance(self.max, int) else DEFAULT_MAX_LENGTH[self.type]

    def option(self, value: str) -> SelectOption | None:
        """The option of a select field stored as ``value``, if there is one."""
        return next((option for option in self.options if option.value == value), None)


def _check_bound(field_type: str, bound: Any) -> Bound:
    if field_type in TEXT_TYPES:
        if isinstance(bound, bool) or not isinstance(bound, int) or bound < 0:
            raise _problem("must be a whole number of characters, 0 or more")
        return bound
    if field_type == "number":
        if bound == CURRENT_YEAR:
            return CURRENT_YEAR
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise _problem("must be a number or current_year")
        return bound
    # A date: YAML already turns an unquoted 2000-01-01 into a date.
    if bound == TODAY:
        return TODAY
    if isinstance(bound, date) and not isinstance(bound, datetime):
        return bound
    if isinstance(bound, str):
        try:
            return date.fromisoformat(bound)
        except ValueError:
            pass
    raise _problem("must be a date as YYYY-MM-DD, or today")


def _comparable(lower: Any, upper: Any) -> bool:
    if isinstance(lower, date) and isinstance(upper, date):
        return True
    numbers = (int, float)
    return (
        isinstance(lower, numbers)
        and isinstance(upper, numbers)
        and not isinstance(lower, bool)
        and not isinstance(upper, bool)
    )


def resolve_bound(bound: Bound | None, *, today: date) -> int | float | date | None:
    """A field's ``min`` or ``max`` on the day ``today``: ``today`` and ``current_year``
    become the date and the year."""
    if bound == TODAY:
        return today
    if bound == CURRENT_YEAR:
        return today.year
    if isinstance(bound, str):
        return date.fromisoformat(bound)
    return bound


UploadType = Literal["application/pdf", "image/jpeg", "image/png"]
UPLOAD_TYPES: Final[tuple[UploadType, ...]] = ("application/pdf", "image/jpeg", "image/png")
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024


class UploadRule(_Definition):
    """What a citizen may upload: the kinds of file (recognised from their content, not
    their name) and the largest size."""

    allowed_types: Annotated[list[UploadType], Field(min_length=1)]
    max_bytes: Annotated[int, Field(gt=0, le=MAX_UPLOAD_BYTES)]


class RequiredDocument(_Definition):
    """A document an application needs: either a file the citizen uploads, or a
    document of a given type already in their wallet (asked once, never again)."""

    name: Name
    label: LocalisedLabel
    help: LocalisedText | None = None
    required: bool = True
    upload: UploadRule | None = None
    wallet_document_type: Slug | None = Field(default=None, validate_default=True)

    @field_validator("wallet_document_type")
    @classmethod
    def _upload_or_wallet(cls, document_type: str | None, info: ValidationInfo) -> str | None:
        if "upload" not in info.data:
            return document_type  # the upload rule itself is wrong; that error is enough
        has_upload = info.data["upload"] is not None
        if document_type is None and not has_upload:
            raise _problem("give either upload or wallet_document_type")
        if document_type is not None and has_upload:
            raise _problem("give either upload or wallet_document_type, not both")
        return document_type


Workflow = Literal["standard_review"]

RefundReason = Literal["rejected", "withdrawn"]
REFUND_REASONS: Final[tuple[RefundReason, ...]] = ("rejected", "withdrawn")


class FeeTier(_Definition):
    """One of the fees a service offers, such as NADRA's normal, urgent and executive
    categories: the citizen chooses one when applying. ``service_level_days``, when
    given, replaces the service's own for this tier."""

    id: Slug
    label: LocalisedLabel
    fee_paisa: Annotated[int, Field(ge=0)]
    service_level_days: Annotated[int, Field(gt=0, le=365)] | None = None


class ServiceDefinition(_Definition):
    """A public service: who offers it, what it asks, what it costs and what it issues."""

    id: Slug
    agency: Slug
    title: LocalisedLabel
    description: LocalisedText
    eligibility: LocalisedText
    keywords: LocalisedKeywords = Field(default_factory=LocalisedKeywords)
    fields: list[FieldDefinition] = Field(default_factory=list)
    required_documents: list[RequiredDocument] = Field(default_factory=list)
    fee_paisa: Annotated[int, Field(ge=0)]
    fee_tiers: list[FeeTier] = Field(default_factory=list)
    refund_fee_on: list[RefundReason] = Field(default_factory=list)
    service_level_days: Annotated[int, Field(gt=0, le=365)]
    workflow: Workflow = "standard_review"
    issues_document_type: Slug | None = None

    @field_validator("fee_tiers")
    @classmethod
    def _first_tier_is_the_fee(cls, tiers: list[FeeTier], info: ValidationInfo) -> list[FeeTier]:
        # fee_paisa stays the fee a service without a choice charges, and the default
        # choice when there is one, so the two must not disagree.
        fee = info.data.get("fee_paisa")
        if tiers and fee is not None and tiers[0].fee_paisa != fee:
            raise _problem(
                "the first tier's fee_paisa ({tier_fee}) must equal the service's "
                "fee_paisa ({fee})",
                tier_fee=tiers[0].fee_paisa,
                fee=fee,
            )
        return tiers

    @field_validator("refund_fee_on")
    @classmethod
    def _refund_reasons_once(cls, reasons: list[RefundReason]) -> list[RefundReason]:
        twice = next((reason for reason in reasons if reasons.count(reason) > 1), None)
        if twice is not None:
            raise _problem("{reason} is given more than once", reason=twice)
        return reasons

    def field(self, name: str) -> FieldDefinition | None:
        """The form field called ``name``, if there is one."""
        return next((field for field in self.fields if field.name == name), None)

    def required_document(self, name: str) -> RequiredDocument | None:
        """The required document called ``name``, if there is one."""
        return next((doc for doc in self.required_documents if doc.name == name), None)

    def fee_tier(self, tier_id: str) -> FeeTier | None:
        """The fee tier called ``tier_id``, if the service has one."""
        return next((tier for tier in self.fee_tiers if tier.id == tier_id), None)

    def service_level_days_for(self, tier: FeeTier | None) -> int:
        """Working days to a decision: the tier's own, or else the service's."""
        if tier is not None and tier.service_level_days is not None:
            return tier.service_level_days
        return self.service_level_days


# --- document types -----------------------------------------------------------------------

ClaimType = Literal["string", "date", "number"]

CLAIM_SOURCES: Final[Mapping[str, ClaimType]] = {
    "citizen.full_name": "string",
    "citizen.cnic": "string",
    "issued.date": "date",
    "issued.number": "string",
    "issued.expiry_date": "date",
}
"""Where a claim's value comes from, besides ``application.<field name>``."""
APPLICATION_SOURCE_PREFIX: Final = "application."
MAX_QR_CLAIMS: Final = 8


def _check_source(source: str) -> str:
    if source in CLAIM_SOURCES:
        return source
    if source.startswith(APPLICATION_SOURCE_PREFIX):
        _check_name(source.removeprefix(APPLICATION_SOURCE_PREFIX))
        return source
    raise _problem(
        "must be one of {known}, or application.<field name>",
        known=", ".join(CLAIM_SOURCES),
    )


class ClaimDefinition(_Definition):
    """One fact a document states, and where its value comes from when it is issued.

    A ``personal`` claim is selectively disclosable: the holder chooses whether to show
    it. ``in_qr`` claims also go into the compact QR code, which must stay small.
    """

    name: Name
    label: LocalisedLabel
    type: ClaimType
    personal: bool = True
    in_qr: bool = False
    source: Annotated[str, AfterValidator(_check_source)]

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_CLAIM_NAMES:
            raise _problem(
                "is a name the credential format uses itself; choose another "
                "(reserved: {reserved})",
                reserved=", ".join(sorted(RESERVED_CLAIM_NAMES)),
            )
        return name

    @property
    def application_field(self) -> str | None:
        """The form field the value is taken from, for ``application.<field>`` sources."""
        if self.source.startswith(APPLICATION_SOURCE_PREFIX):
            return self.source.removeprefix(APPLICATION_SOURCE_PREFIX)
        return None


class Validity(_Definition):
    """How long an issued document stays valid: ``never_expires: true`` or
    ``valid_for_days: N``."""

    never_expires: bool = False
    valid_for_days: Annotated[int, Field(gt=0, le=36500)] | None = Field(
        default=None, validate_default=True
    )

    @field_validator("valid_for_days")
    @classmethod
    def _one_of_the_two(cls, days: int | None, info: ValidationInfo) -> int | None:
        never = info.data.get("never_expires", False)
        if never and days is not None:
            raise _problem("give either never_expires: true or valid_for_days, not both")
        if not never and days is None:
            raise _problem("give either never_expires: true or valid_for_days")
        return days


class DocumentTypeDefinition(_Definition):
    """A kind of signed document an agency issues (a degree attestation, an identity
    card), with the claims it carries."""

    id: Slug
    agency: Slug
    title: LocalisedLabel
    vct: Annotated[str, AfterValidator(_check_uri)]
    validity: Validity
    claims: Annotated[list[ClaimDefinition], Field(min_length=1)]
    # The claims that name one document in a register (e.g. CNIC, university, degree,
    # year): bulk issuance gives each row an id derived from them, so a row is issued once.
    natural_key: Annotated[list[Name], Field(max_length=8)] | None = None

    @field_validator("natural_key")
    @classmethod
    def _key_names_claims(cls, key: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if key is None or "claims" not in info.data:
            return key  # claims that failed their own checks are reported there
        names = {claim.name for claim in info.data["claims"]}
        unknown = [name for name in key if name not in names]
        if unknown:
            raise _problem(
                "names claims this document type does not have: {unknown}",
                unknown=", ".join(unknown),
            )
        if not key or len(set(key)) != len(key):
            raise _problem("must list one or more different claim names")
        return key

    def claim(self, name: str) -> ClaimDefinition | None:
        """The claim called ``name``, if there is one."""
        return next((claim for claim in self.claims if claim.name == name), None)
