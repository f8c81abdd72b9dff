"""Pages to find a service: the start page, browsing by agency, search, one service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.web.context import CSRF_PROTECTED, CommittingRoute, LanguageDep
from darwaza.web.loop import on_the_loop
from darwaza.web.templating import render, render_public

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, catalogue: CatalogueDep) -> Response:
    return await on_the_loop(
        render_public,
        request,
        "catalogue/home.html",
        lambda: {"agencies": list(catalogue.agencies.values())},
    )


@router.get("/services", response_class=HTMLResponse)
async def services(
    request: Request,
    catalogue: CatalogueDep,
    language: LanguageDep,
    q: str = "",
    agency: str = "",
) -> Response:
    query = q.strip()[:100]
    chosen_agency = catalogue.agencies.get(agency) if agency else None

    def values() -> dict[str, Any]:
        found = list(catalogue.search(query, language) if query else catalogue.services.values())
        if chosen_agency is not None:
            found = [service for service in found if service.agency == chosen_agency.id]
        return {
            "services": found,
            "query": query,
            "agency": chosen_agency,
            "agencies": list(catalogue.agencies.values()),
            "agencies_by_id": catalogue.agencies,
        }

    if query:  # searches are many and each its own: rendered for each
        return await on_the_loop(render, request, "catalogue/services.html", values())
    variant = chosen_agency.id if chosen_agency is not None else None
    return await on_the_loop(
        render_public, request, "catalogue/services.html", values, variant=variant
    )


@router.get("/services/{service_id}", response_class=HTMLResponse)
async def service_page(request: Request, service_id: str, catalogue: CatalogueDep) -> Response:
    service = catalogue.service(service_id)
    return await on_the_loop(
        render_public,
        request,
        "catalogue/service.html",
        lambda: {"service": service, "agency": catalogue.agencies[service.agency]},
    )
