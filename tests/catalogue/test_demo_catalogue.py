"""The demo catalogue: it loads cleanly, and citizens find services in English and Urdu."""

from __future__ import annotations

from pathlib import Path

import pytest

from darwaza.catalogue import Catalogue, CatalogueError
from darwaza.catalogue.loading import load_catalogue
from darwaza.errors import NotFound

DEMO_CATALOGUE = Path(__file__).parents[2] / "darwaza" / "demo" / "catalogue"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEMO_CATALOGUE)


def test_demo_catalogue_loads_cleanly(catalogue: Catalogue) -> None:
    assert set(catalogue.agencies) == {"nadra", "hec", "ict-administration"}
    assert set(catalogue.services) == {
        "nadra-cnic-renewal",
        "nadra-family-registration-certificate",
        "hec-degree-attestation",
        "ict-domicile-certificate",
        "ict-character-certificate",
    }
    assert set(catalogue.document_types) == {
        "nadra-identity-card",
        "nadra-family-registration-certificate",
        "hec-degree-attestation",
        "ict-domicile-certificate",
        "ict-character-certificate",
    }
    assert catalogue.problems() == []


def test_every_demo_service_issues_a_document_of_its_own_agency(catalogue: Catalogue) -> None:
    for service in catalogue.services.values():
        assert service.issues_document_type is not None
        issued = catalogue.document_type(service.issues_document_type)
        assert issued.agency == service.agency
        assert issued.vct == f"urn:darwaza:vct:{issued.id}:1"


def test_degree_attestation_is_defined_as_the_journey_needs(catalogue: Catalogue) -> None:
    service = catalogue.service("hec-degree-attestation")
    assert service.agency == "hec"
    assert service.fee_paisa == 100_000
    assert [field.name for field in service.fields] == [
        "full_name",
        "university",
        "degree_title",
        "programme",
        "registration_number",
        "year_of_completion",
        "date_of_birth",
    ]
    year = service.field("year_of_completion")
    assert year is not None
    assert (year.min, year.max) == (1950, "current_year")
    identity_card = service.required_document("identity_card")
    assert identity_card is not None
    assert identity_card.upload is None
    assert identity_card.wallet_document_type == "nadra-identity-card"
    degree = service.required_document("degree")
    assert degree is not None and degree.upload is not None
    assert degree.upload.max_bytes == 5 * 1024 * 1024
    attestation = catalogue.document_type("hec-degree-attestation")
    disclosable = {claim.name for claim in attestation.claims if claim.personal}
    assert {"full_name", "degree_title", "university"} <= disclosable


def test_lookups(catalogue: Catalogue) -> None:
    assert [s.id for s in catalogue.services_of("nadra")] == [
        "nadra-cnic-renewal",
        "nadra-family-registration-certificate",
    ]
    assert catalogue.services_of("no-such-agency") == []
    assert catalogue.agency("hec").short_name.en == "HEC"
    assert catalogue.agency("hec").short_name.in_language("ur") == "ایچ ای سی"
    identity_card = catalogue.document_type_by_vct("urn:darwaza:vct:nadra-identity-card:1")
    assert identity_card is not None and identity_card.id == "nadra-identity-card"
    assert catalogue.document_type_by_vct("urn:unknown") is None
    assert [s.id for s in catalogue.services_issuing("nadra-identity-card")] == [
        "nadra-cnic-renewal"
    ]
    with pytest.raises(NotFound):
        catalogue.service("no-such-service")
    with pytest.raises(NotFound):
        catalogue.agency("no-such-agency")
    with pytest.raises(NotFound):
        catalogue.document_type("no-such-type")


@pytest.mark.parametrize(
    ("query", "language"),
    [
        ("degree", "en"),
        ("Degree", "ur"),
        ("attestation", "en"),
        ("attest", "en"),
        ("HEC", "en"),
        ("hec", "ur"),
        ("Higher Education", "en"),
        ("degree attestation", "en"),
        ("ڈگری", "ur"),
        ("تصدیق", "ur"),
        ("ڈگری کی تصدیق", "ur"),
        ("ایچ ای سی", "ur"),
        ("ہائر ایجوکیشن", "en"),
    ],
)
def test_search_finds_degree_attestation(catalogue: Catalogue, query: str, language: str) -> None:
    assert catalogue.search(query, language)[0].id == "hec-degree-attestation"


def test_search_ranks_title_matches_first_and_requires_every_word(catalogue: Catalogue) -> None:
    # تصدیق is in the HEC title and in the ICT descriptions: the title wins.
    found = [s.id for s in catalogue.search("تصدیق", "ur")]
    assert found[0] == "hec-degree-attestation"
    assert "ict-character-certificate" in found
    assert catalogue.search("degree domicile", "en") == []
    assert catalogue.search("zzzz", "en") == []


def test_search_folds_urdu_spelling_variants(catalogue: Catalogue) -> None:
    # Arabic yeh (ي) and kaf (ك), as typed on an Arabic keyboard, and a diacritic.
    assert catalogue.search("شناختي كارڈ", "ur")[0].id == "nadra-cnic-renewal"
    assert catalogue.search("تَصدیق", "ur")[0].id == "hec-degree-attestation"


def test_search_by_agency_and_english_words(catalogue: Catalogue) -> None:
    assert {s.id for s in catalogue.search("NADRA", "en")} == {
        "nadra-cnic-renewal",
        "nadra-family-registration-certificate",
    }
    assert catalogue.search("نادرا", "ur")[0].agency == "nadra"
    assert catalogue.search("CNIC renewal", "en")[0].id == "nadra-cnic-renewal"
    assert catalogue.search("domicile", "en")[0].id == "ict-domicile-certificate"
    assert catalogue.search("ڈومیسائل", "ur")[0].id == "ict-domicile-certificate"
    assert catalogue.search("police", "en")[0].id == "ict-character-certificate"


def test_empty_search_lists_every_service(catalogue: Catalogue) -> None:
    assert len(catalogue.search("", "en")) == len(catalogue.services)
    assert len(catalogue.search("   ", "ur")) == len(catalogue.services)


def test_catalogue_from_definitions_refuses_duplicate_ids(catalogue: Catalogue) -> None:
    hec = catalogue.agency("hec")
    with pytest.raises(CatalogueError) as refused:
        Catalogue.from_definitions(agencies=[hec, hec])
    assert [str(p) for p in refused.value.problems] == [
        "agencies/hec.yaml: id: 'hec' is defined more than once"
    ]


def test_catalogue_from_definitions_checks_references(catalogue: Catalogue) -> None:
    service = catalogue.service("hec-degree-attestation")
    with pytest.raises(CatalogueError) as refused:
        Catalogue.from_definitions(services=[service])
    fields = {(p.file, p.field) for p in refused.value.problems}
    assert ("services/hec-degree-attestation.yaml", "agency") in fields
    assert ("services/hec-degree-attestation.yaml", "issues_document_type") in fields
    assert (
        "services/hec-degree-attestation.yaml",
        "required_documents[2].wallet_document_type",
    ) in fields
    rebuilt = Catalogue.from_definitions(
        catalogue.agencies.values(),
        catalogue.services.values(),
        catalogue.document_types.values(),
    )
    assert set(rebuilt.services) == set(catalogue.services)
