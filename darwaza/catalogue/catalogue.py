"""The catalogue: every agency, service and document type, checked against each other."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from darwaza.catalogue.checks import (
    CatalogueError,
    CatalogueProblem,
    DefinitionKind,
    by_id,
    definition_file,
    document_type_problems,
    service_problems,
)
from darwaza.catalogue.schema import AgencyDefinition, DocumentTypeDefinition, ServiceDefinition
from darwaza.catalogue.search import Vocabulary, match_score, query_words, service_vocabulary
from darwaza.errors import NotFound


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
            agencies=by_id("agency", agencies, problems),
            services=by_id("service", services, problems),
            document_types=by_id("document_type", document_types, problems),
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
            problems.extend(
                service_problems(self.document_types, service, known_agencies, known_types)
            )
        vct_owner: dict[str, str] = {}
        for document_type in self.document_types.values():
            issuers = self.services_issuing(document_type.id)
            problems.extend(document_type_problems(issuers, document_type, known_agencies))
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

    def answer_labels(self) -> dict[str, dict[str, str]]:
        """Each choice's English label, as a document stores it, with its labels by language.

        A document keeps a chosen answer (a university) in English; pages show it in the
        reader's language from here.
        """
        labels: dict[str, dict[str, str]] = {}
        for service in self.services.values():
            for field in service.fields:
                for option in field.options or ():
                    labels.setdefault(option.label.en, option.label.model_dump())
        return labels

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
        words = query_words(query)
        found: list[tuple[int, str, ServiceDefinition]] = []
        for service in self.services.values():
            score = match_score(self._search_index[service.id], words)
            if score is not None:
                found.append((-score, service.title.in_language(language).casefold(), service))
        found.sort(key=lambda entry: (entry[0], entry[1], entry[2].id))
        return [service for _, _, service in found]

    @functools.cached_property
    def _search_index(self) -> dict[str, Vocabulary]:
        return {
            service.id: service_vocabulary(service, self.agencies.get(service.agency))
            for service in self.services.values()
        }
