"""Every demo service can be filled in with realistic answers, and every document it
promises can be stated from those answers: no pattern refuses a real number, and no
claim lacks its value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from darwaza.applications.decisions import answers_for_claims
from darwaza.catalogue import Catalogue, FieldDefinition
from darwaza.catalogue.answers import validate_answers
from darwaza.catalogue.loading import load_catalogue
from darwaza.documents.service import resolve_claims

DEMO_CATALOGUE = Path(__file__).parents[2] / "darwaza" / "demo" / "catalogue"
TODAY = date(2026, 12, 1)

# Answers as citizens type them, for the fields whose pattern a made-up text would miss.
TYPED: dict[str, str] = {
    "registration_number": "BSCS/2019-123",
    "passport_number": "AB1234567",
    "blood_group": "B+",
    "roll_number": "123456",
    "chassis_number": "NZE141-1234567",
    "engine_number": "1NZ-4567890",
    "khata_number": "123/45",
    "eobi_number": "ABC1234567",
    "bank_account": "PK36 SCBL 0000 0011 2345 6702",
    "electricity_reference": "14 11111 1111111",
}


def typed_answer(field: FieldDefinition) -> str:
    if field.name in TYPED:
        return TYPED[field.name]
    if field.type == "select":
        return field.options[0].value
    if field.type == "number":
        return str(field.min) if isinstance(field.min, int) else "2015"
    return {
        "text": "Fatima Khan",
        "textarea": "House 12, Street 4, G-9/2, Islamabad",
        "date": "2000-03-14",
        "cnic": "35202-1234567-1",
        "phone": "0300 1234567",
        "email": "fatima@example.pk",
    }[field.type]


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(DEMO_CATALOGUE)


def test_every_demo_service_accepts_realistic_answers_and_issues_its_document(
    catalogue: Catalogue,
) -> None:
    for service in catalogue.services.values():
        typed = {field.name: typed_answer(field) for field in service.fields}
        checked = validate_answers(service, typed, today=TODAY, partial=False)
        assert checked.ok, (service.id, checked.errors)
        if service.issues_document_type is None:
            continue
        document_type = catalogue.document_type(service.issues_document_type)
        validity = document_type.validity.valid_for_days
        claims = resolve_claims(
            document_type,
            given={},
            citizen_full_name="Fatima Khan",
            holder_cnic="3520212345671",
            answers=answers_for_claims(service, dict(checked.values)),
            issued_on=TODAY,
            expires_on=date.fromordinal(TODAY.toordinal() + validity) if validity else None,
        )
        assert set(claims) == {claim.name for claim in document_type.claims}, service.id


def test_a_select_answer_is_stated_in_words(catalogue: Catalogue) -> None:
    service = catalogue.service("mofa-apostille")
    answers = answers_for_claims(service, {"issuing_authority": "hec"})
    assert answers["issuing_authority"] == "Higher Education Commission"
