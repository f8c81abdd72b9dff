"""Fee tiers: a service may offer a choice of fees (normal, urgent, executive), and a
tier list is checked like every other part of a definition."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from darwaza.catalogue import CatalogueError, CatalogueProblem, ServiceDefinition
from darwaza.catalogue.loading import load_catalogue

DEMO_CATALOGUE = Path(__file__).parents[2] / "darwaza" / "demo" / "catalogue"
SERVICE = "services/nadra-cnic-renewal.yaml"

TIERS: list[dict[str, Any]] = [
    {"id": "normal", "label": {"en": "Normal", "ur": "عام"}, "fee_paisa": 75000},
    {
        "id": "urgent",
        "label": {"en": "Urgent", "ur": "ارجنٹ"},
        "fee_paisa": 150000,
        "service_level_days": 12,
    },
]


@pytest.fixture
def catalogue_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "catalogue"
    shutil.copytree(DEMO_CATALOGUE, directory)
    return directory


def write_service(directory: Path, **changes: Any) -> None:
    path = directory / SERVICE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    for key, value in changes.items():
        if value is None:
            del data[key]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_of(directory: Path) -> list[CatalogueProblem]:
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(directory)
    return [p for p in refused.value.problems if p.file == SERVICE]


def test_a_service_without_tiers_has_one_fee() -> None:
    service = ServiceDefinition.model_validate(
        {
            "id": "plain",
            "agency": "nadra",
            "title": {"en": "Plain", "ur": "سادہ"},
            "description": {"en": "Plain.", "ur": "سادہ۔"},
            "eligibility": {"en": "Anyone.", "ur": "کوئی بھی۔"},
            "fee_paisa": 0,
            "service_level_days": 3,
        }
    )
    assert service.fee_tiers == []
    assert service.refund_fee_on == []
    assert service.fee_tier("normal") is None
    assert service.service_level_days_for(None) == 3


def test_tiers_are_read_and_a_tier_may_set_its_own_days(catalogue_dir: Path) -> None:
    write_service(
        catalogue_dir, fee_paisa=75000, fee_tiers=TIERS, refund_fee_on=["rejected", "withdrawn"]
    )
    service = load_catalogue(catalogue_dir).service("nadra-cnic-renewal")
    assert [(t.id, t.fee_paisa) for t in service.fee_tiers] == [
        ("normal", 75000),
        ("urgent", 150000),
    ]
    assert service.refund_fee_on == ["rejected", "withdrawn"]
    urgent = service.fee_tier("urgent")
    assert urgent is not None and urgent.label.in_language("ur") == "ارجنٹ"
    assert service.service_level_days_for(urgent) == 12
    # A tier without its own days takes the service's.
    assert service.service_level_days_for(service.fee_tier("normal")) == (
        service.service_level_days
    )


def test_the_fee_must_equal_the_first_tiers_fee(catalogue_dir: Path) -> None:
    write_service(catalogue_dir, fee_paisa=150000, fee_tiers=TIERS)
    [problem] = problems_of(catalogue_dir)
    assert problem.field == "fee_tiers"
    assert problem.message == (
        "the first tier's fee_paisa (75000) must equal the service's fee_paisa (150000)"
    )
    assert problem.line is not None


def test_tier_ids_are_unique_slugs(catalogue_dir: Path) -> None:
    tiers = [TIERS[0], {**TIERS[1], "id": "normal"}, {**TIERS[1], "id": "Fast Track"}]
    write_service(catalogue_dir, fee_paisa=75000, fee_tiers=tiers)
    problems = {p.field: p.message for p in problems_of(catalogue_dir)}
    assert set(problems) == {"fee_tiers[2].id"}
    assert problems["fee_tiers[2].id"].startswith("must be lowercase letters and digits")
    write_service(catalogue_dir, fee_paisa=75000, fee_tiers=tiers[:2])
    [problem] = problems_of(catalogue_dir)
    assert (problem.field, problem.message) == (
        "fee_tiers[1].id",
        "'normal' is already the id of fee_tiers[0]",
    )


def test_each_tier_is_checked(catalogue_dir: Path) -> None:
    tiers = [
        TIERS[0],
        {"id": "urgent", "label": {"en": "Urgent", "ur": "Urgent"}, "fee_paisa": -1},
        {"id": "executive", "label": {"en": "Executive", "ur": "ایگزیکٹو"}, "fee_paisa": "2500"},
        {**TIERS[1], "id": "late", "service_level_days": 0, "colour": "red"},
    ]
    write_service(catalogue_dir, fee_paisa=75000, fee_tiers=tiers)
    problems = {p.field: p.message for p in problems_of(catalogue_dir)}
    assert problems == {
        "fee_tiers[1].label.ur": "must be written in Urdu (Arabic script), not in Latin letters",
        "fee_tiers[1].fee_paisa": "must be at least 0",
        "fee_tiers[2].fee_paisa": "must be a whole number",
        "fee_tiers[3].service_level_days": "must be more than 0",
        "fee_tiers[3].colour": "is not a known key here (check its spelling and indentation)",
    }


def test_refunds_name_known_reasons_once(catalogue_dir: Path) -> None:
    write_service(catalogue_dir, refund_fee_on=["rejected", "lost"])
    [problem] = problems_of(catalogue_dir)
    assert problem.field == "refund_fee_on[1]"
    assert problem.message == "must be one of rejected, withdrawn"
    write_service(catalogue_dir, refund_fee_on=["rejected", "rejected"])
    [problem] = problems_of(catalogue_dir)
    assert (problem.field, problem.message) == (
        "refund_fee_on",
        "rejected is given more than once",
    )
