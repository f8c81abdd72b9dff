"""Server-rendered pages: one Jinja2 environment, translated per request.

Templates call ``_("English text", name=value)``; the function in their context
translates into the reader's language, so one environment serves both languages.
"""

from __future__ import annotations

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
        "csrf_token": csrf_token_for(request),
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
    html = environment.get_template(template).render(values)
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
