"""The verification engine: one answer for any document a verifier is handed.

It accepts a compact QR (``DZ1:...``) or an SD-JWT VC (as issued, or as presented with
or without a key-binding JWT) and checks, in this order, stopping at the first failure:

1. the form (``malformed``): structure, ``typ``, required claims, every SD-JWT
   disclosure rule, a holder proof wherever the document names a holder key, and, for
   such a document, a nonce and an audience from the verifier to check that proof by;
2. the issuer and its key (``unknown_issuer``), from a :class:`TrustSource`;
3. the signatures (``invalid_signature``): ES256 only, the issuer's, then the holder's
   key-binding JWT with its ``sd_hash``, ``nonce``, ``aud`` and an ``iat`` no older than
   five minutes;
4. the dates (``not_yet_valid``, ``expired``), with 60 s of clock skew for ``nbf``/``iat``;
5. the status list (``revoked``, ``suspended``); when the status cannot be learnt, the
   verdict stands and a reason says the status was not checked.

It is deliberately stricter than the ``sd-jwt`` reference verifier, which accepts
expired tokens, any ``typ`` and disclosures that no digest refers to.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple, Protocol

from darwaza.crypto.claims import RESERVED_CLAIM_NAMES
from darwaza.crypto.jws import ES256
from darwaza.crypto.keys import KeyMaterialError, VerifyingKey, public_key_from_jwk
from darwaza.documents.formats import compact_qr, sd_jwt
from darwaza.documents.formats.status_list import (
    StatusCode,
    StatusIndexOutOfRange,
    StatusListError,
    VerifiedStatusList,
    verify_status_list_token,
)
from darwaza.i18n import N_
from darwaza.verification.trust_bundle import TrustBundle
from darwaza.verification.verdicts import (
    CredentialFormat,
    IssuerInfo,
    StatusReference,
    Verdict,
    VerificationResult,
)

CLOCK_SKEW: Final = timedelta(seconds=60)
KEY_BINDING_MAX_AGE: Final = timedelta(minutes=5)
MAX_CREDENTIAL_LENGTH: Final = 1024 * 1024


class TrustSource(Protocol):
    """Where a verifier learns which issuers and keys to trust and what a status list says."""

    def issuer_key(self, issuer: str, kid: str) -> tuple[VerifyingKey, IssuerInfo] | None:
        """The public key ``kid`` of ``issuer`` and the issuer's names, or None if untrusted."""
        ...

    def status_of(self, uri: str, index: int) -> int | None:
        """Entry ``index`` of the verified status list at ``uri``; None when unknown.

        The source fetches and verifies the status list token itself, against the keys
        of the issuer that publishes it.
        """
        ...


class BundleTrustSource:
    """A trust source for offline use: a synced trust bundle and synced status list tokens.

    Each token is verified once, here, with the keys of the issuer whose
    ``status_list_uris`` or ``status_list_prefix`` covers it. A token that fails is set
    aside (see :attr:`status_list_problems`) and its documents' status reads as unknown.
    """

    def __init__(
        self, bundle: TrustBundle, status_list_tokens: Mapping[str, str], now: datetime
    ) -> None:
        self.bundle = bundle
        # By URL, for the look-up every check makes (the bundle keeps them in a list).
        self._issuers = {entry.issuer: entry for entry in reversed(bundle.issuers)}
        self._status_lists: dict[str, VerifiedStatusList] = {}
        self.status_list_problems: dict[str, str] = {}
        for uri, token in status_list_tokens.items():
            publisher = bundle.issuer_for_status_list(uri)
            if publisher is None:
                self.status_list_problems[uri] = N_("No trusted issuer publishes this status list.")
                continue
            try:
                self._status_lists[uri] = verify_status_list_token(
                    token, expected_uri=uri, public_key_for_kid=publisher.key_for, now=now
                )
            except StatusListError as problem:
                self.status_list_problems[uri] = problem.reason

    def issuer_key(self, issuer: str, kid: str) -> tuple[VerifyingKey, IssuerInfo] | None:
        """The key ``kid`` of ``issuer`` from the bundle."""
        trusted = self._issuers.get(issuer)
        if trusted is None:
            return None
        key = trusted.key_for(kid)
        return None if key is None else (key, trusted.info)

    def status_of(self, uri: str, index: int) -> int | None:
        """The status from a synced, verified list; None if that list is missing or too short."""
        status_list = self._status_lists.get(uri)
        if status_list is None:
            return None
        try:
            return status_list.status_at(index)
        except StatusIndexOutOfRange:
            return None


class _Refused(Exception):
    """Stops verification with a verdict and the sentence that explains it."""

    def __init__(self, verdict: Verdict, reason: str) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason


class _Validity(NamedTuple):
    issued_at: datetime | None
    not_before: datetime | None
    expires_at: datetime | None


def verify_credential(
    text: str,
    *,
    trust: TrustSource,
    now: datetime,
    expected_nonce: str | None = None,
    expected_audience: str | None = None,
) -> VerificationResult:
    """Verify a compact QR or an SD-JWT VC and say what it is worth.

    Fields other than ``verdict``, ``format`` and ``reasons`` are filled only once the
    issuer's signature has verified, so nothing a forger wrote is shown as the issuer's.
    ``expected_nonce`` and ``expected_audience`` must match the holder's key-binding JWT;
    a document bound to a holder key is refused when the verifier gives neither, since a
    proof not tied to this request could be a replayed one.
    """
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone (use UTC)")
    if not isinstance(text, str) or len(text) > MAX_CREDENTIAL_LENGTH:
        return _refused(N_("This is not a document this service can read."))
    # A scanner may add line breaks; a space can be part of Base45, so only those go.
    candidate = text.strip("\r\n\t")
    if candidate.startswith(compact_qr.PREFIX):
        credential_format = CredentialFormat.COMPACT_QR
    elif sd_jwt.SEPARATOR in candidate:
        credential_format = CredentialFormat.SD_JWT
        candidate = candidate.strip()
    else:
        return _refused(N_("This is neither a Darwaza QR code nor an SD-JWT document."))
    try:
        if credential_format is CredentialFormat.COMPACT_QR:
            return _verify_compact_qr(candidate, trust=trust, now=now)
        return _verify_sd_jwt(
            candidate,
            trust=trust,
            now=now,
            expected_nonce=expected_nonce,
            expected_audience=expected_audience,
        )
    except _Refused as refusal:
        return VerificationResult(
            verdict=refusal.verdict, format=credential_format, reasons=[refusal.reason]
        )


def _refused(reason: str) -> VerificationResult:
    return VerificationResult(verdict=Verdict.MALFORMED, reasons=[reason])


def _malformed(reason: str) -> _Refused:
    return _Refused(Verdict.MALFORMED, reason)


def _forged(reason: str) -> _Refused:
    return _Refused(Verdict.INVALID_SIGNATURE, reason)


def _look_up_issuer(trust: TrustSource, issuer: str, kid: str) -> tuple[VerifyingKey, IssuerInfo]:
    found = trust.issuer_key(issuer, kid)
    if found is None:
        raise _Refused(
            Verdict.UNKNOWN_ISSUER, N_("The issuer or its signing key is not in the trust list.")
        )
    return found


def _verify_compact_qr(text: str, *, trust: TrustSource, now: datetime) -> VerificationResult:
    try:
        contents = compact_qr.decode_compact_qr(text)
    except compact_qr.MalformedCompactQr:
        raise _malformed(N_("The QR code does not hold a readable Darwaza document.")) from None
    kid = contents.kid_text
    public_key, issuer = _look_up_issuer(trust, contents.issuer, kid)
    if contents.algorithm != compact_qr.COSE_ALG_ES256:
        raise _forged(N_("The document is not signed with ES256, the only algorithm accepted."))
    if not compact_qr.verify_compact_qr_signature(contents, public_key):
        raise _forged(N_("The signature does not match the issuer's key."))
    result = VerificationResult(
        verdict=Verdict.VALID,
        format=CredentialFormat.COMPACT_QR,
        issuer=issuer,
        document_type=contents.document_type,
        claims=dict(contents.claims),
        status_reference=StatusReference(uri=contents.status_uri, index=contents.status_index),
        issued_at=contents.issued_at,
        expires_at=contents.expires_at,
        kid=kid,
    )
    validity = _Validity(contents.issued_at, contents.not_before, contents.expires_at)
    return _judge_dates_and_status(result, validity, trust=trust, now=now)


def _time_claim(payload: Mapping[str, Any], name: str) -> datetime | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(N_("A date in the document cannot be read."))
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _malformed(N_("A date in the document cannot be read.")) from None


def _status_reference(payload: Mapping[str, Any]) -> StatusReference | None:
    if "status" not in payload:
        return None
    status = payload["status"]
    reference = status.get("status_list") if isinstance(status, dict) else None
    if not isinstance(reference, dict):
        raise _malformed(N_("The status reference in the document cannot be read."))
    index = reference.get("idx")
    uri = reference.get("uri")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise _malformed(N_("The status reference in the document cannot be read."))
    if not isinstance(uri, str) or not uri:
        raise _malformed(N_("The status reference in the document cannot be read."))
    return StatusReference(uri=uri, index=index)


def _holder_key(payload: Mapping[str, Any]) -> VerifyingKey | None:
    if "cnf" not in payload:
        return None
    confirmation = payload["cnf"]
    jwk = confirmation.get("jwk") if isinstance(confirmation, dict) else None
    if not isinstance(jwk, dict):
        raise _malformed(N_("The holder key in the document cannot be read."))
    try:
        return public_key_from_jwk(jwk)
    except KeyMaterialError:
        raise _malformed(N_("The holder key in the document cannot be read.")) from None


def _check_key_binding_form(
    parsed: sd_jwt.ParsedSdJwt,
    holder_key: VerifyingKey | None,
    *,
    expected_nonce: str | None,
    expected_audience: str | None,
) -> None:
    key_binding = parsed.key_binding_jwt
    if holder_key is not None and key_binding is None:
        raise _malformed(
            N_(
                "This document is bound to its holder, but the presentation carries no "
                "proof from the holder."
            )
        )
    if key_binding is None:
        return
    if holder_key is not None and (not expected_nonce or not expected_audience):
        raise _malformed(
            N_(
                "This document is bound to its holder: it can only be checked by a verifier "
                "that asks the holder for a fresh proof, with its own nonce and audience."
            )
        )
    if holder_key is None:
        raise _malformed(
            N_("The presentation carries a holder proof, but the document names no holder key.")
        )
    if key_binding.header.get("typ") != sd_jwt.KB_JWT_TYP:
        raise _malformed(N_("The holder's proof is not a key-binding JWT."))
    claims = key_binding.payload
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise _malformed(N_("The holder's proof cannot be read."))
    try:
        datetime.fromtimestamp(iat, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise _malformed(N_("The holder's proof cannot be read.")) from None
    if not all(isinstance(claims.get(name), str) for name in ("aud", "nonce", "sd_hash")):
        raise _malformed(N_("The holder's proof cannot be read."))


def _check_key_binding_signature(
    parsed: sd_jwt.ParsedSdJwt,
    holder_key: VerifyingKey,
    *,
    now: datetime,
    expected_nonce: str | None,
    expected_audience: str | None,
) -> None:
    key_binding = parsed.key_binding_jwt
    if key_binding is None:  # pragma: no cover - the form check requires it
        raise _malformed(N_("The holder's proof cannot be read."))
    if key_binding.algorithm != ES256:
        raise _forged(N_("The holder's proof is not signed with ES256."))
    if not key_binding.signature_valid(holder_key):
        raise _forged(N_("The holder's proof is not signed by the holder's key."))
    claims = key_binding.payload
    if claims["sd_hash"] != sd_jwt.presentation_hash(parsed.text_without_key_binding):
        raise _forged(N_("The holder's proof was made for a different set of disclosures."))
    # The form check made sure both were given: a proof is only worth the request it answers.
    if claims["nonce"] != expected_nonce:
        raise _forged(N_("The holder's proof was made for another request."))
    if claims["aud"] != expected_audience:
        raise _forged(N_("The holder's proof was made for another verifier."))
    signed_at = datetime.fromtimestamp(claims["iat"], tz=UTC)
    if signed_at > now + CLOCK_SKEW:
        raise _forged(N_("The holder's proof is dated in the future."))
    if signed_at < now - KEY_BINDING_MAX_AGE - CLOCK_SKEW:
        raise _forged(N_("The holder's proof is too old; ask the holder to present it again."))


def _verify_sd_jwt(
    text: str,
    *,
    trust: TrustSource,
    now: datetime,
    expected_nonce: str | None,
    expected_audience: str | None,
) -> VerificationResult:
    try:
        parsed = sd_jwt.parse_sd_jwt(text)
    except sd_jwt.MalformedSdJwt as problem:
        raise _malformed(problem.reason) from None
    header, payload = parsed.header, parsed.payload
    typ = header.get("typ")
    # A list or object is unhashable: check the type before looking it up in the set.
    if not isinstance(typ, str) or typ not in sd_jwt.ACCEPTED_TYPS:
        raise _malformed(N_("The document header does not mark it as an SD-JWT credential."))
    if not isinstance(header.get("alg"), str):
        raise _malformed(N_("The document does not say how it is signed."))
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _malformed(N_("The document does not say which key signed it."))
    issuer_url = payload.get("iss")
    document_type = payload.get("vct")
    if not isinstance(issuer_url, str) or not isinstance(document_type, str):
        raise _malformed(N_("The document does not name its issuer or its type."))
    validity = _Validity(
        _time_claim(payload, "iat"), _time_claim(payload, "nbf"), _time_claim(payload, "exp")
    )
    status_reference = _status_reference(payload)
    holder_key = _holder_key(payload)
    try:
        resolved = sd_jwt.resolve_disclosed_claims(payload, parsed.disclosures)
    except sd_jwt.MalformedSdJwt as problem:
        raise _malformed(problem.reason) from None
    _check_key_binding_form(
        parsed, holder_key, expected_nonce=expected_nonce, expected_audience=expected_audience
    )

    public_key, issuer = _look_up_issuer(trust, issuer_url, kid)
    if header["alg"] != ES256:
        raise _forged(N_("The document is not signed with ES256, the only algorithm accepted."))
    if not parsed.issuer_jwt.signature_valid(public_key):
        raise _forged(N_("The signature does not match the issuer's key."))
    if holder_key is not None:
        _check_key_binding_signature(
            parsed,
            holder_key,
            now=now,
            expected_nonce=expected_nonce,
            expected_audience=expected_audience,
        )

    result = VerificationResult(
        verdict=Verdict.VALID,
        format=CredentialFormat.SD_JWT,
        issuer=issuer,
        document_type=document_type,
        claims={
            name: value for name, value in resolved.items() if name not in RESERVED_CLAIM_NAMES
        },
        status_reference=status_reference,
        issued_at=validity.issued_at,
        expires_at=validity.expires_at,
        kid=kid,
        holder_bound=holder_key is not None,
    )
    if holder_key is None and (expected_nonce is not None or expected_audience is not None):
        result.reasons.append(
            N_(
                "The document is not bound to a holder key, so the person presenting it "
                "could not prove it was issued to them."
            )
        )
    return _judge_dates_and_status(result, validity, trust=trust, now=now)


def _judge_dates_and_status(
    result: VerificationResult, validity: _Validity, *, trust: TrustSource, now: datetime
) -> VerificationResult:
    """Steps 4 and 5, shared by both formats, once the signatures have verified."""
    latest_accepted = now + CLOCK_SKEW
    if validity.not_before is not None and validity.not_before > latest_accepted:
        result.verdict = Verdict.NOT_YET_VALID
        result.reasons.append(N_("The document is not valid yet."))
        return result
    if validity.issued_at is not None and validity.issued_at > latest_accepted:
        result.verdict = Verdict.NOT_YET_VALID
        result.reasons.append(N_("The document is dated in the future."))
        return result
    if validity.expires_at is not None and now >= validity.expires_at:
        result.verdict = Verdict.EXPIRED
        result.reasons.append(N_("The document has expired."))
        return result

    reference = result.status_reference
    if reference is None:
        result.reasons.append(
            N_("The document carries no status reference, so revocation cannot be checked.")
        )
        return result
    status = trust.status_of(reference.uri, reference.index)
    if status is None:
        result.reasons.append(
            N_("The status of the document could not be checked; it may have been revoked.")
        )
        return result
    result.status_checked = True
    if status == StatusCode.INVALID:
        result.verdict = Verdict.REVOKED
        result.reasons.append(N_("The issuer has revoked this document."))
    elif status == StatusCode.SUSPENDED:
        result.verdict = Verdict.SUSPENDED
        result.reasons.append(N_("The issuer has suspended this document."))
    elif status != StatusCode.VALID:
        result.status_checked = False
        result.reasons.append(
            N_("The status list gives a value this verifier does not understand.")
        )
    return result
