"""The catalogue in the JSON API: agencies and services as published."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.web.api import error_responses
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, LanguageDep

router = APIRouter(
    route_class=CommittingRoute, prefix="/api/v1", tags=["catalogue"], dependencies=CSRF_PROTECTED
)


@router.get("/agencies", responses=error_responses())
def list_agencies(catalogue: CatalogueDep) -> list[dict[str, Any]]:
    """Every agency that publishes services."""
    return [agency.model_dump(mode="json") for agency in catalogue.agencies.values()]


@router.get("/services", responses=error_responses())
def list_services(
    catalogue: CatalogueDep, language: LanguageDep, q: str = "", agency: str = ""
) -> list[dict[str, Any]]:
    """The catalogue: every service, or those matching a search in English or Urdu."""
    query = q.strip()[:100]
    found = catalogue.search(query, language) if query else catalogue.services.values()
    return [
        service.model_dump(mode="json")
        for service in found
        if not agency or service.agency == agency
    ]


@router.get("/services/{service_id}", responses=error_responses(404))
def get_service(service_id: str, catalogue: CatalogueDep) -> dict[str, Any]:
    """One service definition: its form, required documents, fee and service-level time."""
    return catalogue.service(service_id).model_dump(mode="json")
