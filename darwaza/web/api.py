"""Shared pieces of the JSON API: the error envelope and the responses every route documents."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldProblem(BaseModel):
    """What is wrong with one field, in the reader's language."""

    code: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, FieldProblem] = {}


class ErrorResponse(BaseModel):
    """Every error of the API has this shape."""

    error: ErrorBody


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give."""
    descriptions = {
        400: "Bad request",
        401: "Not signed in",
        403: "Missing or wrong CSRF token (cookie sessions only), or a token without the scope",
        404: "Not found, or not yours to see",
        409: "Not allowed in the current state",
        413: "Too large",
        422: "Invalid input, with a message per field",
        429: "Too many requests",
    }
    return {
        code: {"model": ErrorResponse, "description": descriptions[code]}
        for code in sorted({*codes, 400, 403, 413, 422})
    }
