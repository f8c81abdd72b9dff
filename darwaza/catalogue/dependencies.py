"""The catalogue the app was started with, for routes that need it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from darwaza.catalogue.catalogue import Catalogue


async def get_catalogue(request: Request) -> Catalogue:
    """The catalogue loaded (and checked) when the app was built."""
    catalogue: Catalogue = request.app.state.catalogue
    return catalogue


CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]
