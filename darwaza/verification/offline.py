"""Verifying from the command line: offline from a saved trust bundle, or online over HTTP.

Offline needs no network and no database: the saved file holds the trust bundle (signed by
the platform's root key) and the status lists as they were when it was saved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from darwaza.clock import utcnow
from darwaza.documents.formats.compact_qr import PREFIX as QR_PREFIX
from darwaza.documents.formats.compact_qr import MalformedCompactQr, decode_compact_qr
from darwaza.documents.formats.sd_jwt import MalformedSdJwt, parse_sd_jwt
from darwaza.i18n import N_, translate
from darwaza.settings import get_settings
from darwaza.verification.trust_bundle import (
    TrustBundleError,
    unverified_root_jwk,
    verify_trust_bundle,
)
from darwaza.verification.verdicts import Verdict, VerificationResult
from darwaza.verification.verifier import BundleTrustSource, verify_credential

SHARE_PATH = "/s/"
HTTP_TIMEOUT = 10.0


def _refusal(reason: str) -> VerificationResult:
    return VerificationResult(verdict=Verdict.UNKNOWN_ISSUER, reasons=[reason])


def _with_bundle(
    text: str, bundle_token: str, status_lists: dict[str, str], root_kid: str | None
) -> VerificationResult:
    now = utcnow()
    try:
        root_jwk = unverified_root_jwk(bundle_token)
        if root_kid is not None and root_jwk.get("kid") != root_kid:
            return _refusal(N_("The trust bundle is not signed by the pinned root key."))
        bundle = verify_trust_bundle(bundle_token, root_jwk, now)
    except TrustBundleError as problem:
        return _refusal(problem.reason)
    trust = BundleTrustSource(bundle, status_lists, now)
    result = verify_credential(text, trust=trust, now=now)
    if root_kid is None:
        result.reasons.append(
            N_("The root key was not pinned: compare its id with the one the platform publishes.")
        )
    return result


def verify_offline(text: str, bundle_path: Path, root_kid: str | None = None) -> VerificationResult:
    """Verify with only a file saved earlier by ``darwaza trust-bundle save``.

    ``root_kid`` pins the platform's root key: a bundle signed by any other key is refused.
    """
    try:
        package = json.loads(bundle_path.read_text(encoding="utf-8"))
        bundle_token = package["trust_bundle"]
        status_lists = dict(package.get("status_lists", {}))
    except (OSError, ValueError, KeyError, TypeError):
        return _refusal(N_("The saved trust bundle cannot be read."))
    if SHARE_PATH in text and text.strip().startswith("http"):
        return VerificationResult(
            verdict=Verdict.MALFORMED, reasons=[N_("A shared link can only be checked online.")]
        )
    return _with_bundle(text.strip(), bundle_token, status_lists, root_kid)


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


def verify_online(
    text: str, base_url: str | None = None, root_kid: str | None = None
) -> VerificationResult:
    """Fetch the trust bundle and the document's status list over HTTP, then verify here."""
    candidate = text.strip()
    base = (base_url or get_settings().base_url).rstrip("/")
    with httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
        try:
            if candidate.startswith("http") and SHARE_PATH in candidate:
                base, token = candidate.split(SHARE_PATH, 1)
                answer = client.get(f"{base}/api/v1/shares/{token.strip('/')}")
                if answer.status_code == 404:
                    return VerificationResult(
                        verdict=Verdict.MALFORMED,
                        reasons=[N_("This link has ended, expired, or never existed.")],
                    )
                answer.raise_for_status()
                candidate = answer.json()["presentation"]
            bundle = client.get(f"{base}/trust-bundle")
            bundle.raise_for_status()
            status_lists = {}
            uri = status_uri_of(candidate)
            if uri and uri.startswith(base + "/"):
                fetched = client.get(uri)
                if fetched.status_code == 200:
                    status_lists[uri] = fetched.text
        except (httpx.HTTPError, ValueError, KeyError):
            return _refusal(N_("The platform could not be reached to check this document."))
    return _with_bundle(candidate, bundle.text, status_lists, root_kid)


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
