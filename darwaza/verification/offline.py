"""Verifying from the command line: offline from a saved trust bundle, or online over HTTP.

Offline needs no network and no database: the saved file holds the trust bundle (signed by
the platform's root key) and the status lists as they were when it was saved.

Both ways verify the bundle with the root key the verifier pinned (its RFC 7638
thumbprint, from ``--root-key`` or ``DARWAZA_TRUST_ROOT``), never with a key the bundle
merely carries; online, everything is fetched from the configured platform only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from darwaza.clock import utcnow
from darwaza.documents.formats.compact_qr import PREFIX as QR_PREFIX
from darwaza.documents.formats.compact_qr import MalformedCompactQr, decode_compact_qr
from darwaza.documents.formats.sd_jwt import MalformedSdJwt, parse_sd_jwt
from darwaza.i18n import N_, translate
from darwaza.settings import get_verifier_settings
from darwaza.verification.trust_bundle import TrustBundleError, verify_pinned_trust_bundle
from darwaza.verification.verdicts import Verdict, VerificationResult
from darwaza.verification.verifier import BundleTrustSource, verify_credential

SHARE_PATH = "/s/"
SHARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")
HTTP_TIMEOUT = 10.0
NO_PIN = N_("No root key is pinned: pass --root-key or set DARWAZA_TRUST_ROOT.")
FOREIGN_LINK = N_(
    "This link points to another site, not the platform this verifier trusts; it was not opened."
)


def _refusal(reason: str) -> VerificationResult:
    return VerificationResult(verdict=Verdict.UNKNOWN_ISSUER, reasons=[reason])


def pinned_root(root_thumbprint: str | None) -> str | None:
    """The root key thumbprint to pin: the one given, else ``DARWAZA_TRUST_ROOT``, else None."""
    pin = (root_thumbprint or get_verifier_settings().trust_root).strip()
    return pin or None


def _with_bundle(
    text: str, bundle_token: str, status_lists: dict[str, str], root_thumbprint: str
) -> VerificationResult:
    now = utcnow()
    try:
        bundle = verify_pinned_trust_bundle(bundle_token, root_thumbprint, now)
    except TrustBundleError as problem:
        return _refusal(problem.reason)
    trust = BundleTrustSource(bundle, status_lists, now)
    return verify_credential(text, trust=trust, now=now)


def verify_offline(
    text: str, bundle_path: Path, root_thumbprint: str | None = None
) -> VerificationResult:
    """Verify with only a file saved earlier by ``darwaza trust-bundle save``.

    ``root_thumbprint`` (else ``DARWAZA_TRUST_ROOT``) pins the platform's root key by its
    RFC 7638 thumbprint: the bundle is verified with that key and no other. Without a
    pin nothing in the file can be trusted, so the answer is ``unknown_issuer``.
    """
    if SHARE_PATH in text and text.strip().startswith("http"):
        return VerificationResult(
            verdict=Verdict.MALFORMED, reasons=[N_("A shared link can only be checked online.")]
        )
    pin = pinned_root(root_thumbprint)
    if pin is None:
        return _refusal(NO_PIN)
    try:
        package = json.loads(bundle_path.read_text(encoding="utf-8"))
        bundle_token = package["trust_bundle"]
        status_lists = dict(package.get("status_lists", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return _refusal(N_("The saved trust bundle cannot be read."))
    if not isinstance(bundle_token, str) or not all(
        isinstance(uri, str) and isinstance(token, str) for uri, token in status_lists.items()
    ):
        return _refusal(N_("The saved trust bundle cannot be read."))
    return _with_bundle(text.strip(), bundle_token, status_lists, pin)


def status_uri_of(text: str) -> str | None:
    """Where a document says its status is kept (read without verifying anything)."""
    try:
        if text.startswith(QR_PREFIX):
            return decode_compact_qr(text).status_uri
        status = parse_sd_jwt(text).payload.get("status", {})
        uri = status.get("status_list", {}).get("uri") if isinstance(status, dict) else None
        return uri if isinstance(uri, str) else None
    except (MalformedCompactQr, MalformedSdJwt, AttributeError):
        return None


def is_link(text: str) -> bool:
    """True when ``text`` is an http(s) address rather than a document."""
    return text.lower().startswith(("http://", "https://"))


def on_platform(link: str, base: str) -> bool:
    """True when ``link`` has the scheme, host and port of the platform at ``base``."""
    platform = urlsplit(base)
    given = urlsplit(link)
    return (
        (given.scheme.lower(), given.netloc.lower())
        == (platform.scheme.lower(), platform.netloc.lower())
        and given.username is None
        and given.password is None
    )


def share_token_of(link: str, base: str) -> str | None:
    """The token of a share link of the platform at ``base``; None for any other address.

    Scheme, host, port and path must all be the platform's: a link naming another host
    is never followed, whatever its path says.
    """
    if not on_platform(link, base):
        return None
    prefix = urlsplit(base).path.rstrip("/") + SHARE_PATH
    path = urlsplit(link).path
    if not path.startswith(prefix):
        return None
    token = path.removeprefix(prefix).strip("/")
    return token if SHARE_TOKEN.fullmatch(token) else None


def verify_online(
    text: str,
    base_url: str | None = None,
    root_thumbprint: str | None = None,
) -> VerificationResult:
    """Fetch the trust bundle and the document's status list from the platform, then verify.

    Everything is fetched from ``base_url`` (else ``DARWAZA_BASE_URL``), the platform this
    verifier trusts; a share link naming any other host is refused, not followed. The
    bundle is verified with the root key pinned by ``root_thumbprint`` (else
    ``DARWAZA_TRUST_ROOT``); without a pin the answer is ``unknown_issuer``.
    """
    candidate = text.strip()
    base = (base_url or get_verifier_settings().base_url).rstrip("/")
    token = None
    if is_link(candidate):
        if not on_platform(candidate, base):
            return _refusal(FOREIGN_LINK)
        token = share_token_of(candidate, base)
        if token is None:
            return VerificationResult(
                verdict=Verdict.MALFORMED,
                reasons=[N_("This link has ended, expired, or never existed.")],
            )
    pin = pinned_root(root_thumbprint)
    if pin is None:
        return _refusal(NO_PIN)
    with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as http:
        return _fetch_and_verify(http, base, candidate, token, pin)


def _fetch_and_verify(
    http: httpx.Client, base: str, candidate: str, token: str | None, pin: str
) -> VerificationResult:
    try:
        if token is not None:
            answer = http.get(f"{base}/api/v1/shares/{token}")
            if answer.status_code == 404:
                return VerificationResult(
                    verdict=Verdict.MALFORMED,
                    reasons=[N_("This link has ended, expired, or never existed.")],
                )
            answer.raise_for_status()
            candidate = answer.json()["presentation"]
            if not isinstance(candidate, str):
                raise ValueError("the presentation is not text")
        bundle = http.get(f"{base}/trust-bundle")
        bundle.raise_for_status()
        status_lists = {}
        uri = status_uri_of(candidate)
        if uri and uri.startswith(base + "/"):
            fetched = http.get(uri)
            if fetched.status_code == 200:
                status_lists[uri] = fetched.text
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return _refusal(N_("The platform could not be reached to check this document."))
    return _with_bundle(candidate, bundle.text, status_lists, pin)


def result_as_json(result: VerificationResult, language: str) -> dict[str, Any]:
    """The machine-readable verdict: ``verdict`` plus issuer, type, claims and reasons."""
    return {
        "verdict": result.verdict.value,
        "issuer": result.issuer.issuer if result.issuer else None,
        "issuer_name": (
            (result.issuer.name_ur if language == "ur" else result.issuer.name_en)
            if result.issuer
            else None
        ),
        "document_type": result.document_type,
        "claims": result.claims,
        "reasons": [translate(language, reason) for reason in result.reasons],
        "issued_at": result.issued_at.isoformat() if result.issued_at else None,
        "expires_at": result.expires_at.isoformat() if result.expires_at else None,
        "status_checked": result.status_checked,
    }


def render_result(result: VerificationResult, *, language: str, as_json: bool) -> str:
    """The verdict as JSON, or as a few readable lines."""
    data = result_as_json(result, language)
    if as_json:
        return json.dumps(data, ensure_ascii=False)
    lines = [translate(language, result.verdict.label).upper()]
    if data["issuer_name"]:
        lines.append(translate(language, N_("Issued by {issuer}"), {"issuer": data["issuer_name"]}))
    if data["document_type"]:
        lines.append(str(data["document_type"]))
    lines += [f"  {name}: {value}" for name, value in result.claims.items()]
    lines += [f"- {reason}" for reason in data["reasons"]]
    return "\n".join(lines)
