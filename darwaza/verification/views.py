"""Checking documents: the verify page, share links, and what verifiers download.

Public endpoints: issuer metadata at ``/.well-known/jwt-vc-issuer/agencies/{id}``, status
list tokens at ``/status-lists/{id}``, the signed trust bundle at ``/trust-bundle``.
"""

from __future__ import annotations

import time
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from darwaza.catalogue import Catalogue
from darwaza.catalogue.dependencies import CatalogueDep
from darwaza.documents.statuses import StatusMemory
from darwaza.errors import DarwazaError, Message
from darwaza.i18n import N_, translate
from darwaza.settings import Settings
from darwaza.verification.images import (
    MAX_IMAGE_BYTES,
    NO_QR_IN_PICTURE,
    read_qr_image_off_loop,
)
from darwaza.verification.online import check_for_request
from darwaza.verification.publishing import (
    STATUS_LIST_TTL_SECONDS,
    TRUST_BUNDLE_TTL_SECONDS,
    Published,
    entity_tag,
    published_issuer_metadata,
    published_status_list,
    published_trust_bundle,
    read_root_key_thumbprint,
    root_key_thumbprint_without_waiting,
    signed_status_list_without_waiting,
)
from darwaza.verification.service import verify_text
from darwaza.verification.verdicts import Verdict, VerificationResult
from darwaza.web.api import error_responses
from darwaza.web.context import (
    CSRF_PROTECTED,
    CommittingRoute,
    DbDep,
    SettingsDep,
    client_address,
    database_turn,
    in_one_read_transaction,
    request_language,
)
from darwaza.web.loop import on_the_loop, read_on_the_loop
from darwaza.web.pages import FormDep, form_file, form_text
from darwaza.web.templating import render, render_public

T = TypeVar("T")

router = APIRouter(
    route_class=CommittingRoute, dependencies=CSRF_PROTECTED, include_in_schema=False
)
public = APIRouter(route_class=CommittingRoute, tags=["trust"])

SHARE_PATH = "/s/"
NOTHING_TO_CHECK = N_("Paste the text of a document, or choose a photo of its QR code.")


def result_context(catalogue: Catalogue, result: VerificationResult) -> dict[str, Any]:
    """What the result page needs: labels for the document type and claims."""
    document_type = (
        catalogue.document_type_by_vct(result.document_type) if result.document_type else None
    )
    labels = {claim.name: claim.label for claim in document_type.claims} if document_type else {}
    return {
        "result": result,
        "verdict_label": result.verdict.label,
        "document_type": document_type,
        "claim_labels": labels,
        "answer_labels": catalogue.answer_labels(),
    }


# What the verifier in the browser (static/js/verifier.js) may say, besides the verdicts.
OFFLINE_REASONS = (
    N_("This is not a document this service can read."),
    N_("This is neither a Darwaza QR code nor an SD-JWT document."),
    N_("The QR code does not hold a readable Darwaza document."),
    N_("The issuer or its signing key is not in the trust list."),
    N_("The document is not signed with ES256, the only algorithm accepted."),
    N_("The signature does not match the issuer's key."),
    N_("The document is not valid yet."),
    N_("The document is dated in the future."),
    N_("The document has expired."),
    N_("The status of the document could not be checked; it may have been revoked."),
    N_("The issuer has revoked this document."),
    N_("The issuer has suspended this document."),
    N_("The status list gives a value this verifier does not understand."),
    N_("Only QR codes can be checked without a connection."),
    N_("No trust list has been saved on this device yet."),
    N_("The trust bundle is not signed by the pinned root key."),
    N_("The trust bundle has expired; sync a fresh one."),
)


_texts: dict[str, tuple[Catalogue, dict[str, Any]]] = {}


def offline_verifier_texts(language: str, catalogue: Catalogue) -> dict[str, Any]:
    """The words the browser's offline verifier shows, in the reader's language.

    Worked out once per language and catalogue: every verify page carries them.
    """
    remembered = _texts.get(language)
    if remembered is not None and remembered[0] is catalogue:
        return remembered[1]
    texts = _verifier_texts(language, catalogue)
    _texts[language] = (catalogue, texts)
    return texts


def _verifier_texts(language: str, catalogue: Catalogue) -> dict[str, Any]:
    claims: dict[str, str] = {}
    for document_type in catalogue.document_types.values():
        for claim in document_type.claims:
            if claim.in_qr:  # only these are in a QR code: the page stays light
                claims.setdefault(claim.name, claim.label.in_language(language))
    return {
        "verdicts": {v.value: translate(language, v.label) for v in Verdict},
        "reasons": {reason: translate(language, reason) for reason in OFFLINE_REASONS},
        "claims": claims,
        "issuedBy": translate(language, N_("Issued by {issuer}"), {"issuer": "{issuer}"}),
        "refreshed": translate(language, N_("Lists last updated: {when}"), {"when": "{when}"}),
        "offlineNote": translate(language, N_("Checked on this device, without a connection.")),
    }


# The root key is made once, when a platform first needs it, and no command replaces it;
# a process reads its thumbprint at most this often (as a replica's copy may lag).
ROOT_THUMBPRINT_SECONDS = 10.0


async def _root_thumbprint(request: Request, settings: Settings) -> str:
    """The root key's thumbprint, pinned in the verify page for the verifier in the
    browser, which checks the trust bundle's signature against it (docs/verification.md).

    Remembered by the application for ``ROOT_THUMBPRINT_SECONDS``. It is read on the
    event loop where no lock can make that wait (SQLite), else in a thread (where a new
    platform's first look makes the root key).
    """
    remembered: tuple[str, float] | None = getattr(request.app.state, "root_thumbprint", None)
    now = time.monotonic()
    if remembered is not None and now - remembered[1] < ROOT_THUMBPRINT_SECONDS:
        return remembered[0]
    thumbprint = await read_on_the_loop(settings, root_key_thumbprint_without_waiting, settings)
    if thumbprint is None:
        async with database_turn(request, writing=False):
            thumbprint = await run_in_threadpool(read_root_key_thumbprint, settings)
    request.app.state.root_thumbprint = (thumbprint, now)
    return thumbprint


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(request: Request, settings: SettingsDep, catalogue: CatalogueDep) -> Response:
    thumbprint = await _root_thumbprint(request, settings)
    language = request_language(request)
    return await on_the_loop(
        render_public,
        request,
        "verification/verify.html",
        lambda: {
            "errors": {},
            "root_thumbprint": thumbprint,
            "verifier_texts": offline_verifier_texts(language, catalogue),
        },
        variant=thumbprint,
    )


@router.get("/verify/offline", response_class=HTMLResponse)
async def offline_verifiers_page(request: Request, settings: SettingsDep) -> Response:
    """For offline verifiers: the root key's thumbprint to pin and compare."""
    thumbprint = await _root_thumbprint(request, settings)
    return await on_the_loop(
        render_public,
        request,
        "verification/offline.html",
        lambda: {"root_thumbprint": thumbprint},
        variant=thumbprint,
    )


def _verify_form(request: Request, errors: dict[str, Message], status_code: int) -> Response:
    return render(request, "verification/verify.html", {"errors": errors}, status_code=status_code)


@router.post("/verify", response_class=HTMLResponse)
async def verify_submitted(
    request: Request, form: FormDep, settings: SettingsDep, catalogue: CatalogueDep
) -> Response:
    """Check pasted text or a photo of a QR code. Pictures are decoded off the event loop."""
    text = form_text(form, "credential")
    upload = form_file(form, "image")
    if upload is not None and not text.strip():
        content = await upload.read(MAX_IMAGE_BYTES + 1)
        try:
            decoded = await read_qr_image_off_loop(content, client_address=client_address(request))
        except DarwazaError as error:
            return _verify_form(request, {"image": error.message}, error.status_code)
        if decoded is None:
            return _verify_form(request, {"image": Message(NO_QR_IN_PICTURE)}, 422)
        text = decoded
    if not text.strip():
        return _verify_form(request, {"credential": Message(NOTHING_TO_CHECK)}, 422)
    result = await check_for_request(request, settings=settings, catalogue=catalogue, text=text)
    return render(request, "verification/result.html", result_context(catalogue, result))


@router.get("/s/{token}", response_class=HTMLResponse)
def open_share(
    request: Request, token: str, db: DbDep, settings: SettingsDep, catalogue: CatalogueDep
) -> Response:
    """Someone opened a shared link: show the verdict and only what was disclosed."""
    result = verify_text(
        db,
        settings=settings,
        catalogue=catalogue,
        text=SHARE_PATH + token,
        user_agent=request.headers.get("user-agent", ""),
    )
    response = render(
        request, "verification/result.html", result_context(catalogue, result) | {"shared": True}
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- published for verifiers --------------------------------------------------------------
# Verifiers call these most. Each reads its settings and catalogue from the app and makes
# its session in one hop to a thread, only when it needs one: solved as dependencies, they
# cost more than the work.


@public.get("/.well-known/jwt-vc-issuer/agencies/{agency_id}", responses=error_responses(404))
async def jwt_vc_issuer_metadata(agency_id: str, request: Request) -> JSONResponse:
    """SD-JWT VC issuer metadata: the agency's issuer URL and its public keys (JWKS)."""
    metadata = await _issuer_metadata(request, agency_id)
    return JSONResponse(metadata, headers={"Cache-Control": "public, max-age=300"})


@public.get("/agencies/{agency_id}/jwks.json", responses=error_responses(404))
async def agency_jwks(agency_id: str, request: Request) -> JSONResponse:
    """The agency's public keys, current and retired-but-still-needed."""
    metadata = await _issuer_metadata(request, agency_id)
    return JSONResponse(metadata["jwks"], headers={"Cache-Control": "public, max-age=300"})


async def _issuer_metadata(request: Request, agency_id: str) -> dict[str, Any]:
    published = published_issuer_metadata(
        request.app.state.settings, request.app.state.catalogue, agency_id
    )
    return await _kept_or_read(request, published)


async def _kept_or_read(request: Request, published: Published[T]) -> T:
    """On PostgreSQL, what the server's memory keeps (told of every change), from the
    event loop; else read, and kept, in a thread by one request of this process at a time
    for the path, the others then finding it kept. Without the memory, read in a thread."""
    settings: Settings = request.app.state.settings
    memory: StatusMemory | None = getattr(request.app.state, "status_memory", None)
    if memory is None:
        return await in_one_read_transaction(request, settings, published.read)
    kept = await on_the_loop(published.in_memory, memory)
    if kept is not None:
        return kept
    async with memory.one_reader(request.url.path):
        kept = await on_the_loop(published.in_memory, memory)  # kept by the one waited for
        if kept is not None:
            return kept
        async with database_turn(request, writing=False):
            return await run_in_threadpool(published.read_to_keep, memory, settings)


@public.get(
    "/status-lists/{status_list_id}",
    response_class=Response,
    responses=error_responses(404) | {200: {"content": {"application/statuslist+jwt": {}}}},
)
async def status_list(status_list_id: str, request: Request) -> Response:
    """A signed status list token (draft-ietf-oauth-status-list), 2 bits per document.

    Sent with a strong ETag and kept for the token's ``ttl``; a copy still current gets
    ``304 Not Modified``.
    """
    token = await _status_list_token(request, status_list_id)
    return _cacheable(
        request, token, media_type="application/statuslist+jwt", max_age=STATUS_LIST_TTL_SECONDS
    )


async def _status_list_token(request: Request, status_list_id: str) -> str:
    """The shard's token from the event loop where no wait can come of it: kept in memory
    on PostgreSQL (told of every change), or signed already for the shard's version read
    without waiting on SQLite; otherwise read, and signed if need be, in a thread."""
    settings: Settings = request.app.state.settings
    if getattr(request.app.state, "status_memory", None) is None:
        token = await read_on_the_loop(
            settings, signed_status_list_without_waiting, settings, status_list_id
        )
        if token is not None:
            return token
    return await _kept_or_read(request, published_status_list(settings, status_list_id))


@public.get(
    "/trust-bundle",
    response_class=Response,
    responses=error_responses() | {200: {"content": {"application/jwt": {}}}},
)
async def trust_bundle(request: Request) -> Response:
    """Every trusted issuer's keys and status lists, signed by the platform's root key.

    Sent with a strong ETag; a copy still current gets ``304 Not Modified``.
    """
    published = published_trust_bundle(request.app.state.settings, request.app.state.catalogue)
    token = await _kept_or_read(request, published)
    return _cacheable(
        request, token, media_type="application/jwt", max_age=TRUST_BUNDLE_TTL_SECONDS
    )


def _cacheable(request: Request, body: str, *, media_type: str, max_age: int) -> Response:
    """``body`` with a strong ETag, or 304 when ``If-None-Match`` names it (RFC 9110 13.1.2)."""
    tag = entity_tag(body)
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={max_age}"}
    asked = request.headers.get("if-none-match", "")
    # If-None-Match compares weakly: W/"x" matches "x"; "*" matches any current copy.
    named = {candidate.strip().removeprefix("W/") for candidate in asked.split(",")}
    if "*" in named or tag in named:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
