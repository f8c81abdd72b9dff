"""What a catalogue holds: agencies, the services they offer, the documents they issue.

A service is data, not code. Each definition is a small YAML file read into one of
the models below; the models check the shape of one definition (types, slugs, Urdu
text, regular expressions, bounds), and :meth:`Catalogue.problems` checks what only
the whole catalogue can tell (unique ids and names, references between definitions).
Build a catalogue with :meth:`Catalogue.from_definitions` or
:func:`darwaza.catalogue.loading.load_catalogue`, which run both checks.

Every piece of text a citizen reads is given in English and Urdu
(``{"en": .., "ur": ..}``), so labels can travel as message parameters and be shown in
the reader's language at the edge (see :func:`darwaza.i18n.translate`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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

from darwaza.errors import NotFound
from darwaza.i18n import localised
from darwaza.identity.numbers import ascii_digits

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
        twice = next(iter(_duplicates(reasons)), None)
        if twice is not None:
            raise _problem("{reason} is given more than once", reason=twice[1])
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

# Claim names the credential formats use themselves (JWT, SD-JWT VC, status lists).
RESERVED_CLAIM_NAMES: Final = frozenset(
    {"iss", "sub", "aud", "iat", "nbf", "exp", "jti", "vct", "cnf", "status"}
)
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

    def claim(self, name: str) -> ClaimDefinition | None:
        """The claim called ``name``, if there is one."""
        return next((claim for claim in self.claims if claim.name == name), None)


# --- the catalogue ------------------------------------------------------------------------

DefinitionKind = Literal["agency", "service", "document_type"]
FOLDERS: Final[Mapping[DefinitionKind, str]] = {
    "agency": "agencies",
    "service": "services",
    "document_type": "document-types",
}


def definition_file(kind: DefinitionKind, definition_id: str) -> str:
    """Where a definition lives, relative to the catalogue folder: ``services/x.yaml``."""
    return f"{FOLDERS[kind]}/{definition_id}.yaml"


@dataclass(frozen=True)
class CatalogueProblem:
    """One thing wrong in the catalogue: the file (relative to the catalogue folder),
    the place in the definition (``fields[2].pattern``, empty for the whole file), what
    is wrong, and the line when it is known."""

    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return ": ".join(part for part in (where, self.field, self.message) if part)


class CatalogueError(Exception):
    """The catalogue cannot be used; ``problems`` lists everything found, in all files."""

    def __init__(self, problems: list[CatalogueProblem]) -> None:
        self.problems = problems
        count = len(problems)
        heading = f"{count} problem{'s' if count != 1 else ''} in the catalogue:"
        super().__init__("\n  ".join([heading, *map(str, problems)]))


@dataclass(frozen=True, eq=False)
class Catalogue:
    """Every agency, service and document type, by id, checked against each other."""

    agencies: Mapping[str, AgencyDefinition]
    services: Mapping[str, ServiceDefinition]
    document_types: Mapping[str, DocumentTypeDefinition]

    @classmethod
    def from_definitions(
        cls,
        agencies: Iterable[AgencyDefinition] = (),
        services: Iterable[ServiceDefinition] = (),
        document_types: Iterable[DocumentTypeDefinition] = (),
    ) -> Catalogue:
        """A checked catalogue of these definitions, or :class:`CatalogueError`."""
        problems: list[CatalogueProblem] = []
        catalogue = cls(
            agencies=_by_id("agency", agencies, problems),
            services=_by_id("service", services, problems),
            document_types=_by_id("document_type", document_types, problems),
        )
        problems.extend(catalogue.problems())
        if problems:
            raise CatalogueError(problems)
        return catalogue

    def problems(
        self, *, unloaded: Mapping[DefinitionKind, Iterable[str]] | None = None
    ) -> list[CatalogueProblem]:
        """What is wrong between definitions: names used twice in one definition,
        references to agencies or document types that do not exist.

        ``unloaded`` names definitions that exist but could not be read (their own
        problems are already reported); references to them are not reported again.
        """
        unloaded = unloaded or {}
        known_agencies = set(self.agencies) | set(unloaded.get("agency", ()))
        known_types = set(self.document_types) | set(unloaded.get("document_type", ()))
        problems: list[CatalogueProblem] = []
        for service in self.services.values():
            problems.extend(_service_problems(self, service, known_agencies, known_types))
        vct_owner: dict[str, str] = {}
        for document_type in self.document_types.values():
            problems.extend(_document_type_problems(self, document_type, known_agencies))
            owner = vct_owner.setdefault(document_type.vct, document_type.id)
            if owner != document_type.id:
                problems.append(
                    CatalogueProblem(
                        definition_file("document_type", document_type.id),
                        "vct",
                        f"{document_type.vct!r} is already the vct of "
                        f"{definition_file('document_type', owner)}",
                    )
                )
        return problems

    def agency(self, agency_id: str) -> AgencyDefinition:
        """The agency with this id, or :class:`~darwaza.errors.NotFound`."""
        agency = self.agencies.get(agency_id)
        if agency is None:
            raise NotFound()
        return agency

    def service(self, service_id: str) -> ServiceDefinition:
        """The service with this id, or :class:`~darwaza.errors.NotFound`."""
        service = self.services.get(service_id)
        if service is None:
            raise NotFound()
        return service

    def document_type(self, document_type_id: str) -> DocumentTypeDefinition:
        """The document type with this id, or :class:`~darwaza.errors.NotFound`."""
        document_type = self.document_types.get(document_type_id)
        if document_type is None:
            raise NotFound()
        return document_type

    def document_type_by_vct(self, vct: str) -> DocumentTypeDefinition | None:
        """The document type a credential's ``vct`` names, if this catalogue has it."""
        return next((dt for dt in self.document_types.values() if dt.vct == vct), None)

    def services_of(self, agency_id: str) -> list[ServiceDefinition]:
        """The services an agency offers, by id."""
        return sorted(
            (service for service in self.services.values() if service.agency == agency_id),
            key=lambda service: service.id,
        )

    def services_issuing(self, document_type_id: str) -> list[ServiceDefinition]:
        """The services whose approval issues a document of this type."""
        return sorted(
            (s for s in self.services.values() if s.issues_document_type == document_type_id),
            key=lambda service: service.id,
        )

    def search(self, query: str, language: str) -> list[ServiceDefinition]:
        """Services matching every word of ``query``, best first.

        Words are matched, ignoring case and Urdu spelling variants, against the
        beginnings of words in the titles, descriptions, eligibility, keywords and
        agency names, in English and in Urdu alike (citizens often type "HEC" or "CNIC"
        while reading Urdu). Title matches rank above keywords and agency names, which
        rank above descriptions. An empty query lists every service. ``language`` orders
        results that rank the same by their title in that language.
        """
        words = _query_words(query)
        found: list[tuple[int, str, ServiceDefinition]] = []
        for service in self.services.values():
            score = _match_score(self._search_index[service.id], words)
            if score is not None:
                found.append((-score, service.title.in_language(language).casefold(), service))
        found.sort(key=lambda entry: (entry[0], entry[1], entry[2].id))
        return [service for _, _, service in found]

    @functools.cached_property
    def _search_index(self) -> dict[str, list[tuple[int, frozenset[str]]]]:
        index: dict[str, list[tuple[int, frozenset[str]]]] = {}
        for service in self.services.values():
            agency = self.agencies.get(service.agency)
            weighted: list[tuple[int, list[str]]] = [
                (_TITLE_WEIGHT, [service.title.en, service.title.ur]),
                (_KEYWORD_WEIGHT, [*service.keywords.en, *service.keywords.ur]),
                (_KEYWORD_WEIGHT, [service.id.replace("-", " ")]),
                (_DESCRIPTION_WEIGHT, [service.description.en, service.description.ur]),
                (_DESCRIPTION_WEIGHT, [service.eligibility.en, service.eligibility.ur]),
            ]
            if agency is not None:
                weighted.append(
                    (
                        _KEYWORD_WEIGHT,
                        [
                            agency.id,
                            agency.name.en,
                            agency.name.ur,
                            agency.short_name.en,
                            agency.short_name.ur,
                        ],
                    )
                )
            index[service.id] = [
                (weight, frozenset(word for text in texts for word in search_words(text)))
                for weight, texts in weighted
            ]
        return index


def _by_id(
    kind: DefinitionKind,
    definitions: Iterable[Any],
    problems: list[CatalogueProblem],
) -> dict[str, Any]:
    by_id: dict[str, Any] = {}
    for definition in definitions:
        if definition.id in by_id:
            problems.append(
                CatalogueProblem(
                    definition_file(kind, definition.id),
                    "id",
                    f"{definition.id!r} is defined more than once",
                )
            )
            continue
        by_id[definition.id] = definition
    return by_id


def _duplicates(names: Iterable[str]) -> Iterable[tuple[int, str, int]]:
    """``(index, name, index of the first use)`` for each name used again."""
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        earlier = first.setdefault(name, index)
        if earlier != index:
            yield index, name, earlier


def _service_problems(
    catalogue: Catalogue,
    service: ServiceDefinition,
    known_agencies: set[str],
    known_types: set[str],
) -> list[CatalogueProblem]:
    file = definition_file("service", service.id)
    problems: list[CatalogueProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(CatalogueProblem(file, field, message))

    if service.agency not in known_agencies:
        problem(
            "agency",
            f"unknown agency {service.agency!r} "
            f"(there is no {definition_file('agency', service.agency)})",
        )
    for index, name, earlier in _duplicates(field.name for field in service.fields):
        problem(f"fields[{index}].name", f"{name!r} is already the name of fields[{earlier}]")
    for position, field in enumerate(service.fields):
        for index, value, earlier in _duplicates(option.value for option in field.options):
            problem(
                f"fields[{position}].options[{index}].value",
                f"{value!r} is already the value of options[{earlier}]",
            )
    for index, tier_id, earlier in _duplicates(tier.id for tier in service.fee_tiers):
        problem(f"fee_tiers[{index}].id", f"{tier_id!r} is already the id of fee_tiers[{earlier}]")
    field_names = {field.name for field in service.fields}
    documents = service.required_documents
    for index, name, earlier in _duplicates(doc.name for doc in documents):
        problem(
            f"required_documents[{index}].name",
            f"{name!r} is already the name of required_documents[{earlier}]",
        )
    for index, document in enumerate(documents):
        # Answers and attachments share one set of error keys, so names must not clash.
        if document.name in field_names:
            problem(
                f"required_documents[{index}].name",
                f"{document.name!r} is also the name of a form field",
            )
        wanted = document.wallet_document_type
        if wanted is not None and wanted not in known_types:
            problem(
                f"required_documents[{index}].wallet_document_type",
                f"unknown document type {wanted!r} "
                f"(there is no {definition_file('document_type', wanted)})",
            )
    issued = service.issues_document_type
    if issued is not None:
        issued_type = catalogue.document_types.get(issued)
        if issued not in known_types:
            problem(
                "issues_document_type",
                f"unknown document type {issued!r} "
                f"(there is no {definition_file('document_type', issued)})",
            )
        elif (
            issued_type is not None
            and service.agency in known_agencies
            and issued_type.agency != service.agency
        ):
            problem(
                "issues_document_type",
                f"{issued!r} is issued by agency {issued_type.agency!r}, not by {service.agency!r}",
            )
    return problems


def _document_type_problems(
    catalogue: Catalogue, document_type: DocumentTypeDefinition, known_agencies: set[str]
) -> list[CatalogueProblem]:
    file = definition_file("document_type", document_type.id)
    problems: list[CatalogueProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(CatalogueProblem(file, field, message))

    if document_type.agency not in known_agencies:
        problem(
            "agency",
            f"unknown agency {document_type.agency!r} "
            f"(there is no {definition_file('agency', document_type.agency)})",
        )
    claims = document_type.claims
    for index, name, earlier in _duplicates(claim.name for claim in claims):
        problem(f"claims[{index}].name", f"{name!r} is already the name of claims[{earlier}]")
    in_qr = sum(claim.in_qr for claim in claims)
    if in_qr > MAX_QR_CLAIMS:
        problem(
            "claims",
            f"{in_qr} claims have in_qr: true; at most {MAX_QR_CLAIMS} fit a QR code "
            "that cheap phone cameras can read",
        )
    issuers = catalogue.services_issuing(document_type.id)
    for index, claim in enumerate(claims):
        if claim.source == "issued.expiry_date" and document_type.validity.never_expires:
            problem(
                f"claims[{index}].source",
                "issued.expiry_date needs validity.valid_for_days; this document never expires",
            )
        expected = CLAIM_SOURCES.get(claim.source)
        field_name = claim.application_field
        for service in issuers:
            if field_name is None:
                continue
            field = service.field(field_name)
            if field is None:
                problem(
                    f"claims[{index}].source",
                    f"service {service.id!r}, which issues this document, has no field "
                    f"{field_name!r}",
                )
                continue
            expected = _CLAIM_TYPE_OF_FIELD.get(field.type, "string")
        if expected is not None and claim.type != expected:
            problem(
                f"claims[{index}].type",
                f"must be {expected}, the type of the value from {claim.source}",
            )
    return problems


_CLAIM_TYPE_OF_FIELD: Final[Mapping[str, ClaimType]] = {"number": "number", "date": "date"}


# --- search -------------------------------------------------------------------------------

_TITLE_WEIGHT: Final = 4
_KEYWORD_WEIGHT: Final = 2
_DESCRIPTION_WEIGHT: Final = 1

# Letters Urdu text is typed with in more than one way: Arabic yeh and kaf from Arabic
# keyboards, and heh for heh goal.
_URDU_VARIANTS: Final = str.maketrans(
    {"ي": "ی", "ى": "ی", "ك": "ک", "ه": "ہ", "ۃ": "ہ", "\u0640": None, "\u200c": None}
)
_WORD: Final = re.compile(r"\w+")
_STOP_WORDS: Final = frozenset(
    {"a", "an", "and", "the", "of", "for", "to", "in", "on", "my", "i", "me"}
    | {"کی", "کا", "کے", "کو", "میں", "اور", "سے", "نے", "پر", "ہے"}
)


def search_words(text: str) -> list[str]:
    """The words of ``text`` in the form search compares: case, accents, Urdu
    diacritics and spelling variants folded away, digits in ASCII."""
    decomposed = unicodedata.normalize("NFKD", ascii_digits(text))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _WORD.findall(bare.translate(_URDU_VARIANTS).casefold())


def _query_words(query: str) -> list[str]:
    words = list(dict.fromkeys(search_words(query)))
    meaningful = [word for word in words if word not in _STOP_WORDS]
    return meaningful or words


def _match_score(index: list[tuple[int, frozenset[str]]], words: list[str]) -> int | None:
    score = 0
    for word in words:
        best = max(
            (
                weight
                for weight, vocabulary in index
                if any(known.startswith(word) for known in vocabulary)
            ),
            default=0,
        )
        if not best:
            return None
        score += best
    return score
