"""The demo catalogue: it loads cleanly, and citizens find services in English and Urdu."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from darwaza.catalogue import Catalogue, CatalogueError
from darwaza.catalogue.loading import load_catalogue
from darwaza.errors import NotFound

DEMO_CATALOGUE = Path(__file__).parents[2] / "darwaza" / "demo" / "catalogue"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEMO_CATALOGUE)


# The first five services: the demo journeys and tests use these ids.
JOURNEY_SERVICES = {
    "nadra-cnic-renewal",
    "nadra-family-registration-certificate",
    "hec-degree-attestation",
    "ict-domicile-certificate",
    "ict-character-certificate",
}

# Every big event of a life has at least one service (issue 13, item 14).
LIFE_EVENTS: dict[str, set[str]] = {
    "birth": {
        "mci-birth-registration",
        "nadra-child-registration-certificate",
    },
    "school": {
        "fbise-certificate-verification",
        "bisp-taleemi-wazaif",
    },
    "degree": {
        "hec-degree-attestation",
        "hec-foreign-degree-equivalence",
        "hec-local-degree-equivalence",
    },
    "work": {
        "ict-character-certificate",
        "ict-domicile-certificate",
        "fbr-ntn-registration",
    },
    "marriage": {
        "mci-marriage-registration",
        "nadra-family-registration-certificate",
    },
    "travel": {
        "dgip-passport-new",
        "dgip-passport-renewal",
        "mofa-apostille",
    },
    "vehicle": {
        "itp-learner-permit",
        "itp-driving-licence",
        "itp-driving-licence-renewal",
        "excise-vehicle-registration",
        "excise-vehicle-transfer",
    },
    "property": {"ict-land-record-copy"},
    # Not one of the events the issue lists, but a part of every adult life.
    "identity": {
        "nadra-cnic-new",
        "nadra-cnic-renewal",
    },
    "business": {
        "secp-company-incorporation",
        "fbr-sales-tax-registration",
    },
    "old-age": {
        "eobi-old-age-pension",
        "bisp-kafaalat-registration",
    },
    "death": {
        "mci-death-registration",
        "nadra-cnic-cancellation-deceased",
        "eobi-survivors-pension",
    },
}

# Services whose result is a change in a register, not a document to hand over.
ISSUE_NO_DOCUMENT = {
    "nadra-cnic-cancellation-deceased",
    "bisp-kafaalat-registration",
    "bisp-taleemi-wazaif",
}


def test_demo_catalogue_loads_cleanly(catalogue: Catalogue) -> None:
    assert set(catalogue.agencies) == {
        "nadra",
        "hec",
        "ict-administration",
        "dgip",
        "fbise",
        "islamabad-traffic-police",
        "excise-islamabad",
        "fbr",
        "bisp",
        "mofa",
        "secp",
        "eobi",
        "mci",
        "darwaza",  # the platform itself: it issues fee receipts
    }
    assert len(catalogue.services) >= 30
    assert len(catalogue.agencies) >= 10
    assert set(catalogue.services) >= JOURNEY_SERVICES
    assert {
        "nadra-identity-card",
        "nadra-family-registration-certificate",
        "hec-degree-attestation",
        "ict-domicile-certificate",
        "ict-character-certificate",
    } <= set(catalogue.document_types)
    assert catalogue.problems() == []


def test_every_agency_offers_a_service(catalogue: Catalogue) -> None:
    for agency_id in catalogue.agencies:
        if agency_id == "darwaza":
            continue  # the platform offers no service of its own; it issues receipts
        assert catalogue.services_of(agency_id), agency_id


@pytest.mark.parametrize("life_event", sorted(LIFE_EVENTS))
def test_every_life_event_has_a_service(catalogue: Catalogue, life_event: str) -> None:
    services = LIFE_EVENTS[life_event]
    assert services
    assert services <= set(catalogue.services)


def test_every_service_belongs_to_a_life_event(catalogue: Catalogue) -> None:
    listed = set().union(*LIFE_EVENTS.values())
    assert set(catalogue.services) == listed


def test_every_demo_service_issues_a_document_of_its_own_agency(catalogue: Catalogue) -> None:
    for service in catalogue.services.values():
        if service.id in ISSUE_NO_DOCUMENT:
            assert service.issues_document_type is None
            continue
        assert service.issues_document_type is not None, service.id
        issued = catalogue.document_type(service.issues_document_type)
        assert issued.agency == service.agency
    for document_type in catalogue.document_types.values():
        assert document_type.vct == f"urn:darwaza:vct:{document_type.id}:1"
        assert sum(claim.in_qr for claim in document_type.claims) <= 8
        if document_type.agency != "darwaza":  # receipts come from payments, not a service
            assert catalogue.services_issuing(document_type.id), document_type.id


def test_every_service_is_findable_in_both_languages(catalogue: Catalogue) -> None:
    for service in catalogue.services.values():
        assert service.keywords.en and service.keywords.ur, service.id
        assert catalogue.search(service.title.en, "en")[0].id == service.id
        assert catalogue.search(service.title.ur, "ur")[0].id == service.id


def test_every_service_file_says_where_its_fee_comes_from() -> None:
    for path in sorted((DEMO_CATALOGUE / "services").glob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        fee_line = next(i for i, line in enumerate(lines) if line.startswith("fee_paisa:"))
        comment = []
        for line in reversed(lines[:fee_line]):
            if not line.startswith("#"):
                break
            comment.insert(0, line)
        text = " ".join(comment)
        # The source, and the date of the figures.
        assert text.startswith("# Fee"), path.name
        assert re.search(r"\b20[0-9]{2}\b", text), path.name


def test_urdu_spells_wallet_one_way() -> None:
    for path in sorted(DEMO_CATALOGUE.rglob("*.yaml")):
        assert "والیٹ" not in path.read_text(encoding="utf-8"), path.name


def test_fee_tiers_as_the_agencies_publish_them(catalogue: Catalogue) -> None:
    for service in catalogue.services.values():
        if service.fee_tiers:
            assert service.fee_paisa == service.fee_tiers[0].fee_paisa
            assert len(service.fee_tiers) >= 2, service.id
    renewal = catalogue.service("nadra-cnic-renewal")
    assert [(t.id, t.fee_paisa, t.service_level_days) for t in renewal.fee_tiers] == [
        ("normal", 75_000, 30),
        ("urgent", 150_000, 12),
        ("executive", 250_000, 7),
    ]
    passport = catalogue.service("dgip-passport-new")
    assert [t.id for t in passport.fee_tiers][:3] == ["normal", "urgent", "fast-track"]
    fast_track = passport.fee_tier("fast-track")
    assert fast_track is not None
    assert passport.service_level_days_for(fast_track) == 2
    attestation = catalogue.service("hec-degree-attestation")
    assert [(t.id, t.fee_paisa) for t in attestation.fee_tiers] == [
        ("normal", 100_000),
        ("urgent", 400_000),
    ]
    assert attestation.service_level_days_for(attestation.fee_tier("normal")) == 15


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
        "nadra-child-registration-certificate",
        "nadra-cnic-cancellation-deceased",
        "nadra-cnic-new",
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
        "nadra-cnic-new",
        "nadra-cnic-renewal",
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
    # NADRA's own services come first; others that only mention NADRA follow.
    nadra = {s.id for s in catalogue.services_of("nadra")}
    found = [s.id for s in catalogue.search("NADRA", "en")]
    assert set(found[: len(nadra)]) == nadra
    found_ur = [s.id for s in catalogue.search("نادرا", "ur")]
    assert set(found_ur[: len(nadra)]) == nadra
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


@pytest.mark.parametrize(
    ("query", "language", "expected"),
    [
        ("passport", "en", {"dgip-passport-new", "dgip-passport-renewal"}),
        ("پاسپورٹ", "ur", {"dgip-passport-new", "dgip-passport-renewal"}),
        ("passport renewal", "en", {"dgip-passport-renewal"}),
        ("پاسپورٹ کی تجدید", "ur", {"dgip-passport-renewal"}),
        ("B-Form", "en", {"nadra-child-registration-certificate"}),
        ("ب فارم", "ur", {"nadra-child-registration-certificate"}),
        ("birth certificate", "en", {"mci-birth-registration"}),
        ("پیدائشی سرٹیفکیٹ", "ur", {"mci-birth-registration"}),
        ("driving licence", "en", {"itp-driving-licence"}),
        ("ڈرائیونگ لائسنس", "ur", {"itp-driving-licence"}),
        ("NTN", "en", {"fbr-ntn-registration"}),
        ("این ٹی این", "ur", {"fbr-ntn-registration"}),
        ("apostille", "en", {"mofa-apostille"}),
        ("اپوسٹل", "ur", {"mofa-apostille"}),
        ("nikah", "en", {"mci-marriage-registration"}),
        ("نکاح نامہ", "ur", {"mci-marriage-registration"}),
        ("old age pension", "en", {"eobi-old-age-pension"}),
        ("بڑھاپے کی پنشن", "ur", {"eobi-old-age-pension"}),
        ("widow pension", "en", {"eobi-survivors-pension"}),
        ("بیوہ کی پنشن", "ur", {"eobi-survivors-pension"}),
        ("company registration", "en", {"secp-company-incorporation"}),
        ("کمپنی رجسٹریشن", "ur", {"secp-company-incorporation"}),
        ("fard", "en", {"ict-land-record-copy"}),
        ("فرد", "ur", {"ict-land-record-copy"}),
        ("vehicle transfer", "en", {"excise-vehicle-transfer"}),
        ("گاڑی کی منتقلی", "ur", {"excise-vehicle-transfer"}),
        ("8171", "ur", {"bisp-kafaalat-registration", "bisp-taleemi-wazaif"}),
    ],
)
def test_search_finds_new_services_in_english_and_urdu(
    catalogue: Catalogue, query: str, language: str, expected: set[str]
) -> None:
    found = [s.id for s in catalogue.search(query, language)]
    assert set(found[: len(expected)]) == expected


def test_typing_in_one_script_finds_a_service_in_the_other(catalogue: Catalogue) -> None:
    # Urdu readers often type English names; both land on the same service.
    assert catalogue.search("passport", "ur")[0].agency == "dgip"
    assert catalogue.search("EOBI", "ur")[0].agency == "eobi"
    assert catalogue.search("ایف بی آر", "en")[0].agency == "fbr"
