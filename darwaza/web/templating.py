"""Server-rendered pages: one Jinja2 environment, translated per request.

Templates call ``_("English text", name=value)``; the function in their context
translates into the reader's language, so one environment serves both languages.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from darwaza.clock import show_day, show_moment
from darwaza.errors import Message
from darwaza.i18n import localised, rupees, text_direction, translate
from darwaza.numbers import format_cnic, mask_cnic
from darwaza.web.context import CSRF_COOKIE, CSRF_FIELD, csrf_token_for, request_language
from darwaza.web.static_files import static_url

FILE_KINDS = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _template_dirs() -> list[Path]:
    """The shared templates and each domain's own ``templates`` folder."""
    dirs = [PACKAGE_DIR / "web" / "templates"]
    dirs += sorted(p for p in PACKAGE_DIR.glob("*/templates") if p != dirs[0])
    return dirs


environment = Environment(
    loader=ChoiceLoader([FileSystemLoader(str(d)) for d in _template_dirs()]),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def local_time(value: datetime | None, language: str, format_name: str = "") -> str:
    """A UTC time shown in Pakistan's time, in the reader's language: one style for moments.

    ``format_name`` is accepted for old templates and ignored: one style is the point.
    """
    del format_name
    return show_moment(value, language)


def local_day(value: datetime | None, language: str) -> str:
    """The calendar day, in Pakistan, of a UTC time ("1 December 2026")."""
    return show_day(value, language)


def shown_value(value: Any, language: str) -> Any:
    """A claim's value as people read it: an ISO date in the one date style, else as it is."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return show_day(date.fromisoformat(value), language)
        except ValueError:
            return value
    return value


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render ``template`` in the request's language, with the CSRF token and cookies set."""
    html = _rendered(request, template, context, csrf_token=csrf_token_for(request))
    return _page(request, html, status_code)


# A public page looks the same to every visitor who is not signed in, but for the CSRF
# token in its forms: it is rendered once with this stand-in (64 hex digits, as a token)
# and each visitor's own token is put in its place.
_TOKEN_STAND_IN = secrets.token_hex(32)
_MOST_PUBLIC_PAGES = 256


def render_public(
    request: Request,
    template: str,
    context: Callable[[], dict[str, Any]],
    *,
    variant: Hashable = None,
) -> HTMLResponse:
    """A public page (the start page, services, a service, the verify page), rendered once
    per path, language and ``variant`` and kept for visitors who are not signed in.

    A page must depend on nothing else: the catalogue and the translations do not change
    while a process runs. A signed-in visitor's page (their name, their messages) is
    rendered for them. At most a few hundred are kept; ``variant`` must come from a small
    set (an agency's id, not a search). ``context`` is asked for only when the page is
    rendered.
    """
    if getattr(request.state, "viewer", None) is not None:
        return render(request, template, context())
    # Kept per application: each has its own catalogue (tests make several in a process).
    kept: dict[tuple[str, str, str, Hashable], str] | None = getattr(
        request.app.state, "public_pages", None
    )
    if kept is None:
        kept = request.app.state.public_pages = {}
    key = (template, request_language(request), request.url.path, variant)
    html = kept.get(key)
    if html is None:
        html = _rendered(request, template, context(), csrf_token=_TOKEN_STAND_IN)
        if len(kept) >= _MOST_PUBLIC_PAGES:
            kept.pop(next(iter(kept)))
        kept[key] = html
    return _page(request, html.replace(_TOKEN_STAND_IN, csrf_token_for(request)), 200)


def _rendered(
    request: Request, template: str, context: dict[str, Any] | None, *, csrf_token: str
) -> str:
    language = request_language(request)

    def gettext(message: str, **params: Any) -> str:
        return translate(language, message, params)

    def message_text(message: Message) -> str:
        return translate(language, message.msgid, message.params)

    values: dict[str, Any] = {
        "request": request,
        "_": gettext,
        "lang": language,
        "dir": text_direction(language),
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token,
        "viewer": getattr(request.state, "viewer", None),
        "pick": lambda value: localised(value, language),
        "when": lambda value, fmt="": local_time(value, language),
        "rupees": lambda paisa: rupees(paisa, language),
        "day": lambda value: local_day(value, language),
        "shown": lambda value: shown_value(value, language),
        "label": lambda value: translate(language, value.label),
        "message_text": message_text,
        "format_cnic": format_cnic,
        "mask_cnic": mask_cnic,
        "current_path": request.url.path,
        "static_url": static_url,
        "file_kinds": lambda types: ", ".join(FILE_KINDS.get(t, t) for t in types),
    }
    values.update(context or {})
    return environment.get_template(template).render(values)


def _page(request: Request, html: str, status_code: int) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status_code)
    if getattr(request.state, "set_csrf_cookie", False):
        response.set_cookie(
            CSRF_COOKIE,
            request.state.csrf_seed,
            httponly=True,
            samesite="lax",
            secure=request.app.state.settings.secure_cookies,
            path="/",
        )
    return response
