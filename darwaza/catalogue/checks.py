"""What only the whole catalogue can tell: unique ids and names, references between files.

Each problem names the file (relative to the catalogue folder), the place in the
definition and what is wrong, so an author can fix every one in a single pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from darwaza.catalogue.schema import (
    CLAIM_SOURCES,
    MAX_QR_CLAIMS,
    ClaimType,
    DocumentTypeDefinition,
    ServiceDefinition,
)

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


def by_id(
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


def service_problems(
    document_types: Mapping[str, DocumentTypeDefinition],
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
        issued_type = document_types.get(issued)
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


def document_type_problems(
    issuers: Iterable[ServiceDefinition],
    document_type: DocumentTypeDefinition,
    known_agencies: set[str],
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
