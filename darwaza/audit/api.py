"""The audit trail's signed checkpoints, published for outside witnesses to mirror."""

from __future__ import annotations

from fastapi import APIRouter, Response

from darwaza.audit.anchors import checkpoint_anchor_for
from darwaza.web.api import error_responses
from darwaza.web.context import CommittingRoute, SettingsDep

router = APIRouter(route_class=CommittingRoute, tags=["trust"])


@router.get(
    "/transparency/checkpoints",
    response_class=Response,
    responses=error_responses() | {200: {"content": {"application/jsonl": {}}}},
)
def signed_checkpoints(settings: SettingsDep) -> Response:
    """Every checkpoint the platform's root key signed over the audit trail, oldest first.

    One JSON object per line, ``{"checkpoint": <compact JWS>}``: keep a copy, and a later
    rewrite of the trail, or a deleted checkpoint, can be shown.
    """
    lines = [
        f'{{"checkpoint": "{signed}"}}'
        for signed in checkpoint_anchor_for(settings).signed_checkpoints()
    ]
    return Response(
        "".join(line + "\n" for line in lines),
        media_type="application/jsonl",
        headers={"Cache-Control": "public, max-age=60"},
    )
