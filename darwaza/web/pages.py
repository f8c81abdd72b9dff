"""Small helpers shared by the page routes of every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData, UploadFile

from darwaza.errors import DarwazaError, Message
from darwaza.paging import Page
from darwaza.web.context import read_submitted_form


async def read_form(request: Request) -> AsyncIterator[FormData]:
    """The submitted form, within the limits of any page's form; files are closed at the end."""
    form = await read_submitted_form(request)
    try:
        yield form
    finally:
        await form.close()


FormDep = Annotated[FormData, Depends(read_form)]


def redirect(url: str) -> RedirectResponse:
    """Post/redirect/get: answer a form with 303 See Other."""
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None, default: str = "/") -> str:
    """Only follow a ``next`` that stays on this site."""
    if not url:
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return default
    return url


def form_text(form: FormData, name: str) -> str:
    """A text field of a submitted form ('' if absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def form_file(form: FormData, name: str) -> UploadFile | None:
    """A file field of a submitted form, if a file was chosen."""
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None


def errors_of(error: DarwazaError) -> dict[str, Message]:
    """The per-field messages of an error, or its one message under ``_form``."""
    return error.fields or {"_form": error.message}


def pager_links(request: Request, page: Page[Any]) -> dict[str, Any]:
    """What the ``pager`` macro needs: the page, and this list's first and next pages
    (the address as asked, its ``after`` token replaced or taken away)."""
    return {
        "page": page,
        "first_page": request.url.remove_query_params("after"),
        "next_page": request.url.include_query_params(after=page.next_after or ""),
    }
