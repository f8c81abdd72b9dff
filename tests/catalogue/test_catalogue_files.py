"""A broken catalogue file is refused with the file, the line and the field to fix."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from darwaza.catalogue import CatalogueError, CatalogueProblem
from darwaza.catalogue.loading import load_catalogue

DEMO_CATALOGUE = Path(__file__).parents[2] / "darwaza" / "demo" / "catalogue"
HEC_SERVICE = "services/hec-degree-attestation.yaml"


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "catalogue"
    shutil.copytree(DEMO_CATALOGUE, directory)
    return directory


def edit(directory: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / file
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_of(directory: Path) -> list[CatalogueProblem]:
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(directory)
    return refused.value.problems


def line_of(directory: Path, file: str, text: str) -> int:
    lines = (directory / file).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def test_an_unknown_field_type_names_the_file_line_and_field(catalogue_dir: Path) -> None:
    edit(catalogue_dir, HEC_SERVICE, lambda d: d["fields"][2].update(type="colour"))
    [problem] = problems_of(catalogue_dir)
    assert problem.file == HEC_SERVICE
    assert problem.field == "fields[2].type"
    assert problem.message == (
        "must be one of text, textarea, number, date, select, cnic, phone, email"
    )
    assert problem.line == line_of(catalogue_dir, HEC_SERVICE, "type: colour")
    assert str(problem) == (
        f"{HEC_SERVICE}:{problem.line}: fields[2].type: must be one of text, textarea, "
        "number, date, select, cnic, phone, email"
    )


def test_a_missing_urdu_title_is_named(catalogue_dir: Path) -> None:
    edit(catalogue_dir, HEC_SERVICE, lambda d: d["title"].pop("ur"))
    [problem] = problems_of(catalogue_dir)
    assert (problem.file, problem.field, problem.message) == (
        HEC_SERVICE,
        "title.ur",
        "is required",
    )
    assert problem.line == line_of(catalogue_dir, HEC_SERVICE, "title:")


def test_urdu_text_written_in_latin_letters_is_refused(catalogue_dir: Path) -> None:
    edit(catalogue_dir, "agencies/hec.yaml", lambda d: d["name"].update(ur="Higher Education"))
    [problem] = problems_of(catalogue_dir)
    assert (problem.file, problem.field) == ("agencies/hec.yaml", "name.ur")
    assert "Urdu" in problem.message


def test_an_unknown_agency_is_named(catalogue_dir: Path) -> None:
    edit(catalogue_dir, HEC_SERVICE, lambda d: d.update(agency="hec-typo"))
    problems = problems_of(catalogue_dir)
    assert [(p.file, p.field) for p in problems] == [(HEC_SERVICE, "agency")]
    assert problems[0].message == "unknown agency 'hec-typo' (there is no agencies/hec-typo.yaml)"
    assert problems[0].line == line_of(catalogue_dir, HEC_SERVICE, "agency: hec-typo")


def test_an_invalid_regular_expression_is_named(catalogue_dir: Path) -> None:
    edit(catalogue_dir, HEC_SERVICE, lambda d: d["fields"][4].update(pattern="[A-Z"))
    [problem] = problems_of(catalogue_dir)
    assert (problem.file, problem.field) == (HEC_SERVICE, "fields[4].pattern")
    assert problem.message.startswith("is not a valid regular expression")


def test_a_yaml_syntax_error_gives_its_line(catalogue_dir: Path) -> None:
    path = catalogue_dir / HEC_SERVICE
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "  en: [unclosed")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [problem] = problems_of(catalogue_dir)
    assert problem.file == HEC_SERVICE
    assert problem.line is not None and problem.line >= 4
    assert problem.message.startswith("is not valid YAML")
    assert f"line {problem.line}" in problem.message


def test_a_date_that_does_not_exist_is_named_with_its_line(catalogue_dir: Path) -> None:
    path = catalogue_dir / HEC_SERVICE
    path.write_text(
        path.read_text(encoding="utf-8").replace("min: 1900-01-01", "min: 1900-02-30"),
        encoding="utf-8",
    )
    [problem] = problems_of(catalogue_dir)
    assert problem.line == line_of(catalogue_dir, HEC_SERVICE, "min: 1900-02-30")
    assert "'1900-02-30' is not a real date" in problem.message


def test_a_key_given_twice_is_refused(catalogue_dir: Path) -> None:
    path = catalogue_dir / HEC_SERVICE
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "fee_paisa: 1\n", encoding="utf-8")
    [problem] = problems_of(catalogue_dir)
    assert problem.file == HEC_SERVICE
    assert "fee_paisa" in problem.message and "second time" in problem.message
    assert problem.line == len(text.splitlines()) + 1


def test_an_id_that_differs_from_the_file_name_is_refused(catalogue_dir: Path) -> None:
    edit(catalogue_dir, "agencies/hec.yaml", lambda d: d.update(id="hec-pakistan"))
    problems = problems_of(catalogue_dir)
    # Only the root cause: services that refer to "hec" are not reported again.
    assert [(p.file, p.field) for p in problems] == [("agencies/hec.yaml", "id")]
    assert "must equal the file name 'hec'" in problems[0].message


def test_a_duplicate_field_name_is_named(catalogue_dir: Path) -> None:
    edit(catalogue_dir, HEC_SERVICE, lambda d: d["fields"][3].update(name="full_name"))
    problems = problems_of(catalogue_dir)
    assert (HEC_SERVICE, "fields[3].name") in [(p.file, p.field) for p in problems]
    [duplicate] = [p for p in problems if p.field == "fields[3].name"]
    assert duplicate.message == "'full_name' is already the name of fields[0]"
    text = (catalogue_dir / HEC_SERVICE).read_text(encoding="utf-8").splitlines()
    uses = [number for number, line in enumerate(text, start=1) if "name: full_name" in line]
    assert duplicate.line == uses[1]


def test_problems_in_every_file_are_reported_together(catalogue_dir: Path) -> None:
    edit(catalogue_dir, HEC_SERVICE, lambda d: d.update(fee_paisa=-1))
    edit(catalogue_dir, "services/nadra-cnic-renewal.yaml", lambda d: d.pop("service_level_days"))
    edit(catalogue_dir, "agencies/nadra.yaml", lambda d: d.update(website="https://nadra.gov.pk"))
    problems = problems_of(catalogue_dir)
    assert [(p.file, p.field, p.message) for p in problems] == [
        (
            "agencies/nadra.yaml",
            "website",
            "is not a known key here (check its spelling and indentation)",
        ),
        (HEC_SERVICE, "fee_paisa", "must be at least 0"),
        ("services/nadra-cnic-renewal.yaml", "service_level_days", "is required"),
    ]
    with pytest.raises(CatalogueError, match="3 problems in the catalogue"):
        load_catalogue(catalogue_dir)


def test_unknown_document_types_and_another_agencys_document_are_refused(
    catalogue_dir: Path,
) -> None:
    def change(service: dict[str, Any]) -> None:
        service["required_documents"][2]["wallet_document_type"] = "nadra-passport"
        service["issues_document_type"] = "nadra-identity-card"

    edit(catalogue_dir, HEC_SERVICE, change)
    problems = {p.field: p.message for p in problems_of(catalogue_dir) if p.file == HEC_SERVICE}
    assert problems["required_documents[2].wallet_document_type"] == (
        "unknown document type 'nadra-passport' (there is no document-types/nadra-passport.yaml)"
    )
    assert problems["issues_document_type"] == (
        "'nadra-identity-card' is issued by agency 'nadra', not by 'hec'"
    )


def test_a_required_document_needs_exactly_one_of_upload_or_wallet(catalogue_dir: Path) -> None:
    def change(service: dict[str, Any]) -> None:
        service["required_documents"][0]["wallet_document_type"] = "nadra-identity-card"
        del service["required_documents"][1]["upload"]

    edit(catalogue_dir, HEC_SERVICE, change)
    problems = {p.field: p.message for p in problems_of(catalogue_dir)}
    assert problems["required_documents[0].wallet_document_type"] == (
        "give either upload or wallet_document_type, not both"
    )
    assert problems["required_documents[1].wallet_document_type"] == (
        "give either upload or wallet_document_type"
    )


def test_field_settings_that_do_not_fit_the_type_are_refused(catalogue_dir: Path) -> None:
    def change(service: dict[str, Any]) -> None:
        service["fields"][1]["options"] = []  # a select with nothing to choose
        service["fields"][5]["max"] = "next_year"
        service["fields"][6]["pattern"] = "[0-9-]+"  # a date field
        service["required_documents"][0]["upload"]["allowed_types"] = ["text/html"]

    edit(catalogue_dir, HEC_SERVICE, change)
    problems = {p.field: p.message for p in problems_of(catalogue_dir)}
    assert problems == {
        "fields[1].options": "a select field needs at least one option",
        "fields[5].max": "must be a number or current_year",
        "fields[6].pattern": "only text and textarea fields can have a pattern",
        "required_documents[0].upload.allowed_types[0]": (
            "must be one of application/pdf, image/jpeg, image/png"
        ),
    }


def test_document_type_claims_are_checked_against_the_issuing_service(
    catalogue_dir: Path,
) -> None:
    file = "document-types/hec-degree-attestation.yaml"

    def change(document_type: dict[str, Any]) -> None:
        document_type["claims"][3]["source"] = "application.cgpa"
        document_type["claims"][5]["type"] = "string"  # the year is a number field
        document_type["claims"][7]["source"] = "issued.expiry_date"

    edit(catalogue_dir, file, change)
    problems = {p.field: p.message for p in problems_of(catalogue_dir)}
    assert problems == {
        "claims[3].source": (
            "service 'hec-degree-attestation', which issues this document, has no field 'cgpa'"
        ),
        "claims[5].type": (
            "must be number, the type of the value from application.year_of_completion"
        ),
        "claims[7].source": (
            "issued.expiry_date needs validity.valid_for_days; this document never expires"
        ),
    }


def test_claim_names_of_the_credential_format_are_reserved(catalogue_dir: Path) -> None:
    file = "document-types/hec-degree-attestation.yaml"
    edit(catalogue_dir, file, lambda d: d["claims"][6].update(name="exp"))
    [problem] = problems_of(catalogue_dir)
    assert (problem.file, problem.field) == (file, "claims[6].name")
    assert problem.message.startswith("is a name the credential format uses itself")


def test_a_yml_file_is_not_silently_ignored(catalogue_dir: Path) -> None:
    (catalogue_dir / "agencies" / "hec.yaml").rename(catalogue_dir / "agencies" / "hec.yml")
    [problem] = problems_of(catalogue_dir)
    assert (problem.file, problem.field) == ("agencies/hec.yml", "")
    assert "rename" in problem.message


def test_empty_and_non_mapping_files_are_refused(catalogue_dir: Path) -> None:
    (catalogue_dir / "agencies" / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    (catalogue_dir / "agencies" / "list.yaml").write_text("- id: list\n", encoding="utf-8")
    problems = {p.file: p.message for p in problems_of(catalogue_dir)}
    assert problems == {
        "agencies/empty.yaml": "is empty",
        "agencies/list.yaml": "must be a mapping of keys to values",
    }


def test_a_missing_catalogue_folder_is_refused(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path / "nowhere")
    assert problem.message == "the catalogue folder does not exist"


def test_a_new_service_needs_no_code(catalogue_dir: Path) -> None:
    service = {
        "id": "hec-equivalence-certificate",
        "agency": "hec",
        "title": {"en": "Equivalence certificate", "ur": "مساوی حیثیت کا سرٹیفکیٹ"},
        "description": {
            "en": "Equivalence of a foreign degree to a Pakistani one.",
            "ur": "غیر ملکی ڈگری کی پاکستانی ڈگری کے مساوی حیثیت۔",
        },
        "eligibility": {"en": "Holders of foreign degrees.", "ur": "غیر ملکی ڈگری رکھنے والے۔"},
        "fields": [
            {"name": "country", "type": "text", "label": {"en": "Country", "ur": "ملک"}},
        ],
        "fee_paisa": 300000,
        "service_level_days": 20,
    }
    (catalogue_dir / "services" / "hec-equivalence-certificate.yaml").write_text(
        yaml.safe_dump(service, allow_unicode=True), encoding="utf-8"
    )
    catalogue = load_catalogue(catalogue_dir)
    assert catalogue.search("equivalence", "en")[0].id == "hec-equivalence-certificate"
    assert catalogue.service("hec-equivalence-certificate").workflow == "standard_review"
