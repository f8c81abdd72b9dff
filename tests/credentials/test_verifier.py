"""The verification engine: every verdict, and the checks the reference verifier skips."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import zlib
from datetime import timedelta
from typing import Any

import base45
import cbor2
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from darwaza.crypto.jws import compact_json, sign_compact_jws
from darwaza.crypto.keys import b64url_encode, kid_bytes_for_public_key, sign_es256
from darwaza.documents.formats.sd_jwt import (
    disclosure_digest,
    parse_sd_jwt,
    present_sd_jwt,
    presentation_hash,
)
from darwaza.verification.verdicts import (
    CredentialFormat,
    StatusReference,
    Verdict,
    VerificationResult,
)
from darwaza.verification.verifier import BundleTrustSource, TrustSource, verify_credential
from tests.credentials.credential_data import (
    DEGREE_CLAIMS,
    DEGREE_VCT,
    EXPIRES_AT,
    HEC,
    HEC_STATUS_LIST,
    ISSUED_AT,
    NADRA,
    NOW,
    QR_CLAIMS,
    REVOKED_INDEX,
    SUSPENDED_INDEX,
    VALID_INDEX,
    DegreeIssuer,
    KeyPair,
    claims_subset,
    make_key_pair,
)

AUDIENCE = "https://employer.example.pk"
NONCE = "c2FsdC1mb3ItdGhpcy1yZXF1ZXN0"


def verify(text: str, trust: TrustSource, **options: Any) -> VerificationResult:
    return verify_credential(text, trust=trust, now=options.pop("now", NOW), **options)


def resign(
    issued: str,
    key: KeyPair,
    *,
    header: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    disclosures: list[str] | None = None,
) -> str:
    """Re-sign an SD-JWT with a changed header, payload or disclosures (a validly signed misfit)."""
    parsed = parse_sd_jwt(issued)
    jws = sign_compact_jws(
        header if header is not None else parsed.header,
        payload if payload is not None else parsed.payload,
        key.private_key,
    )
    if disclosures is None:
        disclosures = [d.encoded for d in parsed.disclosures]
    return "~".join([jws, *disclosures, ""])


def make_disclosure(*items: Any) -> str:
    return b64url_encode(compact_json([b64url_encode(secrets.token_bytes(16)), *items]))


def unsigned_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
    """A compact JWS with whatever header and signature bytes a forger chooses."""
    parts = (compact_json(header), compact_json(payload), signature)
    return ".".join(b64url_encode(part) for part in parts)


def key_binding(key: KeyPair, presentation: str, **changes: Any) -> str:
    header = {"alg": "ES256", "typ": changes.pop("typ", "kb+jwt")}
    payload = {
        "iat": int(NOW.timestamp()),
        "aud": AUDIENCE,
        "nonce": NONCE,
        "sd_hash": presentation_hash(presentation),
    }
    payload.update(changes)
    return sign_compact_jws(header, payload, key.private_key)


def reference_verifier_accepts(text: str, key: KeyPair) -> bool:
    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        return JWK.from_json(json.dumps(key.jwk))

    try:
        SDJWTVerifier(text, issuer_key).get_verified_payload()
    except Exception:  # any refusal by the reference package counts
        return False
    return True


# Verdicts -------------------------------------------------------------------------------


def test_issued_degree_is_valid_with_every_claim(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    result = verify(issue_degree(), trust)
    assert result.verdict is Verdict.VALID
    assert result.is_valid
    assert result.format is CredentialFormat.SD_JWT
    assert result.issuer is not None
    assert result.issuer.issuer == HEC
    assert result.issuer.name_en == "Higher Education Commission"
    assert result.document_type == DEGREE_VCT
    assert result.claims == DEGREE_CLAIMS
    assert result.status_reference == StatusReference(HEC_STATUS_LIST, VALID_INDEX)
    assert result.issued_at == ISSUED_AT
    assert result.expires_at == EXPIRES_AT
    assert result.kid == hec_key.kid
    assert result.status_checked
    assert result.reasons == []


def test_presentation_shows_only_what_the_holder_disclosed(
    issue_degree: DegreeIssuer, trust: BundleTrustSource
) -> None:
    presentation = present_sd_jwt(issue_degree(), ["name", "degree", "university"])
    result = verify(presentation, trust)
    assert result.verdict is Verdict.VALID
    assert result.claims == claims_subset(["name", "degree", "university", "attestation_number"])
    assert "cnic" not in result.claims


def test_holder_bound_presentation_with_the_expected_nonce_and_audience_is_valid(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = present_sd_jwt(
        issue_degree(holder_jwk=holder_key.jwk),
        ["name"],
        holder_private_key=holder_key.private_key,
        nonce=NONCE,
        audience=AUDIENCE,
        now=NOW,
    )
    result = verify(presentation, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.VALID
    assert result.holder_bound
    assert result.claims == claims_subset(["name", "attestation_number"])


def test_vc_sd_jwt_typ_of_earlier_drafts_is_accepted(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    header = {"alg": "ES256", "typ": "vc+sd-jwt", "kid": hec_key.kid}
    assert verify(resign(issue_degree(), hec_key, header=header), trust).verdict is Verdict.VALID


def test_qr_degree_is_valid(encode_degree_qr: DegreeIssuer, trust: BundleTrustSource) -> None:
    result = verify(encode_degree_qr(), trust)
    assert result.verdict is Verdict.VALID
    assert result.format is CredentialFormat.COMPACT_QR
    assert result.issuer is not None
    assert result.issuer.name_ur == "ہائر ایجوکیشن کمیشن"
    assert result.document_type == DEGREE_VCT
    assert result.claims == claims_subset(QR_CLAIMS)
    assert result.status_reference == StatusReference(HEC_STATUS_LIST, VALID_INDEX)
    assert result.expires_at == EXPIRES_AT


def test_qr_text_with_a_scanners_line_break_is_still_read(
    encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    assert verify(encode_degree_qr() + "\r\n", trust).verdict is Verdict.VALID


def test_revoked_degree_answers_revoked_offline_in_both_formats(
    issue_degree: DegreeIssuer, encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    for text in (
        issue_degree(status_index=REVOKED_INDEX),
        present_sd_jwt(issue_degree(status_index=REVOKED_INDEX), ["name"]),
        encode_degree_qr(status_index=REVOKED_INDEX),
    ):
        result = verify(text, trust)
        assert result.verdict is Verdict.REVOKED
        assert result.reasons == ["The issuer has revoked this document."]
        assert result.issuer is not None


def test_suspended_degree_answers_suspended(
    issue_degree: DegreeIssuer, encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    for text in (
        issue_degree(status_index=SUSPENDED_INDEX),
        encode_degree_qr(status_index=SUSPENDED_INDEX),
    ):
        assert verify(text, trust).verdict is Verdict.SUSPENDED


def test_expired_document_is_expired(
    issue_degree: DegreeIssuer, encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    yesterday = NOW - timedelta(days=1)
    for text in (issue_degree(expires_at=yesterday), encode_degree_qr(expires_at=yesterday)):
        result = verify(text, trust)
        assert result.verdict is Verdict.EXPIRED
        assert result.reasons == ["The document has expired."]
    # Expiry is exact: at the second of `exp` the document is no longer accepted.
    assert verify(issue_degree(expires_at=NOW), trust).verdict is Verdict.EXPIRED


def test_expired_document_is_refused_though_the_reference_verifier_accepts_it(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    expired = issue_degree(expires_at=NOW - timedelta(days=1))
    assert reference_verifier_accepts(expired, hec_key)
    assert verify(expired, trust).verdict is Verdict.EXPIRED


def test_document_valid_only_from_a_later_date_is_not_yet_valid(
    issue_degree: DegreeIssuer, encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    later = NOW + timedelta(days=2)
    for text in (issue_degree(not_before=later), encode_degree_qr(not_before=later)):
        assert verify(text, trust).verdict is Verdict.NOT_YET_VALID


def test_document_issued_in_the_future_is_not_yet_valid_beyond_clock_skew(
    issue_degree: DegreeIssuer, trust: BundleTrustSource
) -> None:
    assert (
        verify(issue_degree(issued_at=NOW + timedelta(seconds=61)), trust).verdict
        is Verdict.NOT_YET_VALID
    )
    assert verify(issue_degree(issued_at=NOW + timedelta(seconds=30)), trust).verdict is (
        Verdict.VALID
    )


def test_document_signed_by_another_key_under_the_issuers_kid_is_forged(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    forged = issue_degree(private_key=make_key_pair().private_key, kid=hec_key.kid)
    result = verify(forged, trust)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.reasons == ["The signature does not match the issuer's key."]
    assert result.claims == {}
    assert result.issuer is None


def test_qr_signed_by_another_key_under_the_issuers_kid_is_forged(
    encode_degree_qr: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    forged = encode_degree_qr(private_key=make_key_pair().private_key)
    message = cbor2.loads(zlib.decompress(base45.b45decode(forged[4:])))
    message.value[1] = {4: kid_bytes_for_public_key(hec_key.private_key.public_key())}
    text = "DZ1:" + base45.b45encode(zlib.compress(cbor2.dumps(message), 9)).decode()
    result = verify(text, trust)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.claims == {}


def test_qr_signed_by_an_unknown_key_is_unknown_issuer(
    encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    result = verify(encode_degree_qr(private_key=make_key_pair().private_key), trust)
    assert result.verdict is Verdict.UNKNOWN_ISSUER


def test_issuer_outside_the_trust_list_is_unknown(
    issue_degree: DegreeIssuer, trust: BundleTrustSource
) -> None:
    result = verify(issue_degree(issuer=NADRA), trust)
    assert result.verdict is Verdict.UNKNOWN_ISSUER
    assert result.reasons == ["The issuer or its signing key is not in the trust list."]
    assert verify(issue_degree(kid="unknown-kid"), trust).verdict is Verdict.UNKNOWN_ISSUER


def test_text_that_is_no_document_is_malformed(trust: BundleTrustSource) -> None:
    for text in ("", "hello", "HC1:NCFOXN", "DZ1:", "a.b.c", "https://darwaza.gov.pk/v/x"):
        result = verify(text, trust)
        assert result.verdict is Verdict.MALFORMED
        assert result.reasons


def test_unknown_status_keeps_the_signature_verdict_and_says_so(
    issue_degree: DegreeIssuer, encode_degree_qr: DegreeIssuer, trust_without_status: TrustSource
) -> None:
    for text in (issue_degree(status_index=REVOKED_INDEX), encode_degree_qr()):
        result = verify(text, trust_without_status)
        assert result.verdict is Verdict.VALID
        assert not result.status_checked
        assert result.reasons == [
            "The status of the document could not be checked; it may have been revoked."
        ]


def test_status_list_from_another_issuer_is_not_believed(
    bundle: Any, hec_status_token: str, issue_degree: DegreeIssuer
) -> None:
    # The HEC-signed list offered under an address no trusted issuer publishes.
    stray = "https://darwaza.example.gov.pk/status-lists/other/1"
    source = BundleTrustSource(bundle, {stray: hec_status_token}, NOW)
    assert source.status_list_problems[stray]
    assert source.status_of(stray, REVOKED_INDEX) is None


def test_expired_status_list_makes_the_status_unknown(bundle: Any, hec_status_token: str) -> None:
    source = BundleTrustSource(bundle, {HEC_STATUS_LIST: hec_status_token}, NOW + timedelta(days=2))
    assert source.status_of(HEC_STATUS_LIST, REVOKED_INDEX) is None
    assert "expired" in source.status_list_problems[HEC_STATUS_LIST]


def test_index_beyond_the_status_list_is_unknown(trust: BundleTrustSource) -> None:
    assert trust.status_of(HEC_STATUS_LIST, 10_000) is None
    assert trust.status_of(HEC_STATUS_LIST, REVOKED_INDEX) == 1


def test_every_verdict_is_reachable(
    issue_degree: DegreeIssuer,
    encode_degree_qr: DegreeIssuer,
    trust: BundleTrustSource,
    hec_key: KeyPair,
) -> None:
    scenarios = {
        Verdict.VALID: issue_degree(),
        Verdict.REVOKED: encode_degree_qr(status_index=REVOKED_INDEX),
        Verdict.SUSPENDED: issue_degree(status_index=SUSPENDED_INDEX),
        Verdict.EXPIRED: encode_degree_qr(expires_at=NOW - timedelta(seconds=1)),
        Verdict.NOT_YET_VALID: issue_degree(not_before=NOW + timedelta(hours=1)),
        Verdict.INVALID_SIGNATURE: issue_degree(private_key=make_key_pair().private_key),
        Verdict.UNKNOWN_ISSUER: issue_degree(issuer="https://impostor.example"),
        Verdict.MALFORMED: "not a document",
    }
    assert {verify(text, trust).verdict for text in scenarios.values()} == set(Verdict)
    for verdict, text in scenarios.items():
        assert verify(text, trust).verdict is verdict


# Strictness: what the reference verifier lets through -----------------------------------


def test_alg_none_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    parsed = parse_sd_jwt(issue_degree())
    header = {"alg": "none", "typ": "dc+sd-jwt", "kid": hec_key.kid}
    token = unsigned_token(header, parsed.payload, b"")
    text = "~".join([token, *(d.encoded for d in parsed.disclosures), ""])
    result = verify(text, trust)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.reasons == ["The document is not signed with ES256, the only algorithm accepted."]


def test_hmac_signed_with_the_issuers_public_key_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    # The classic algorithm confusion: HS256 keyed with the public key everyone knows.
    parsed = parse_sd_jwt(issue_degree())
    header = {"alg": "HS256", "typ": "dc+sd-jwt", "kid": hec_key.kid}
    public_pem = hec_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{b64url_encode(compact_json(header))}.{b64url_encode(compact_json(parsed.payload))}"
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    text = "~".join(
        [signing_input + "." + b64url_encode(mac), *(d.encoded for d in parsed.disclosures), ""]
    )
    assert verify(text, trust).verdict is Verdict.INVALID_SIGNATURE


def test_wrong_typ_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    for typ in ("JWT", "example+sd-jwt", "kb+jwt", None):
        header: dict[str, Any] = {"alg": "ES256", "kid": hec_key.kid}
        if typ is not None:
            header["typ"] = typ
        text = resign(issue_degree(), hec_key, header=header)
        assert reference_verifier_accepts(text, hec_key)
        result = verify(text, trust)
        assert result.verdict is Verdict.MALFORMED
        assert result.reasons == ["The document header does not mark it as an SD-JWT credential."]


def test_disclosure_no_digest_refers_to_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    issued = issue_degree()
    stray = make_disclosure("blood_group", "O+")
    text = issued + stray + "~"
    assert reference_verifier_accepts(text, hec_key)
    result = verify(text, trust)
    assert result.verdict is Verdict.MALFORMED
    assert result.reasons == ["A disclosure is not referred to by the signed document."]


def test_duplicate_digest_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    parsed = parse_sd_jwt(issue_degree())
    payload = dict(parsed.payload)
    payload["_sd"] = sorted([*payload["_sd"], parsed.disclosures[0].digest])
    result = verify(resign(issue_degree(), hec_key, payload=payload), trust)
    assert result.verdict is Verdict.MALFORMED
    assert result.reasons == ["The same digest appears twice in the document."]


def test_duplicate_disclosure_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource
) -> None:
    issued = issue_degree()
    first = parse_sd_jwt(issued).disclosures[0].encoded
    result = verify(issued + first + "~", trust)
    assert result.verdict is Verdict.MALFORMED
    assert result.reasons == ["The same disclosure is included twice."]


def test_digest_algorithm_other_than_sha256_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    issued = issue_degree()
    payload = {**parse_sd_jwt(issued).payload, "_sd_alg": "sha-512"}
    result = verify(resign(issued, hec_key, payload=payload), trust)
    assert result.verdict is Verdict.MALFORMED
    assert result.reasons == ["The document uses a digest algorithm other than SHA-256."]


def test_disclosure_of_a_reserved_claim_name_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    issued = issue_degree()
    parsed = parse_sd_jwt(issued)
    for reserved in ("_sd", "..."):
        disclosure = make_disclosure(reserved, ["x"])
        payload = dict(parsed.payload)
        payload["_sd"] = sorted([*payload["_sd"], disclosure_digest(disclosure)])
        text = resign(
            issued,
            hec_key,
            payload=payload,
            disclosures=[*(d.encoded for d in parsed.disclosures), disclosure],
        )
        result = verify(text, trust)
        assert result.verdict is Verdict.MALFORMED
        assert result.reasons == ["A disclosure uses a reserved claim name."]


def test_claim_both_plain_and_disclosed_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    issued = issue_degree()
    payload = {**parse_sd_jwt(issued).payload, "name": "Someone Else"}
    result = verify(resign(issued, hec_key, payload=payload), trust)
    assert result.verdict is Verdict.MALFORMED
    assert result.reasons == ["A claim appears both in plain view and as a disclosure."]


def test_array_element_disclosure_in_place_of_a_claim_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    issued = issue_degree()
    parsed = parse_sd_jwt(issued)
    disclosure = make_disclosure("orphan value")
    payload = dict(parsed.payload)
    payload["_sd"] = sorted([*payload["_sd"], disclosure_digest(disclosure)])
    text = resign(
        issued,
        hec_key,
        payload=payload,
        disclosures=[*(d.encoded for d in parsed.disclosures), disclosure],
    )
    assert verify(text, trust).verdict is Verdict.MALFORMED


def test_holder_bound_document_without_key_binding_is_not_valid_and_says_why(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    issued = issue_degree(holder_jwk=holder_key.jwk)
    presented = present_sd_jwt(
        issued,
        ["name"],
        holder_private_key=holder_key.private_key,
        nonce=NONCE,
        audience=AUDIENCE,
        now=NOW,
    )
    stripped = presented[: presented.rindex("~") + 1]
    for text in (issued, stripped):
        result = verify(text, trust)
        assert result.verdict is Verdict.MALFORMED
        assert result.reasons == [
            "This document is bound to its holder, but the presentation carries no proof "
            "from the holder."
        ]


def test_key_binding_without_a_holder_key_in_the_document_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = present_sd_jwt(issue_degree(), ["name"])
    text = presentation + key_binding(holder_key, presentation)
    assert verify(text, trust).verdict is Verdict.MALFORMED


def holder_bound(issue_degree: DegreeIssuer, holder_key: KeyPair) -> str:
    """A holder-bound presentation of name and degree, still waiting for its KB-JWT."""
    parsed = parse_sd_jwt(issue_degree(holder_jwk=holder_key.jwk))
    kept = [d.encoded for d in parsed.disclosures if d.name in ("name", "degree")]
    return "~".join([parsed.issuer_jwt_text, *kept, ""])


def test_key_binding_signed_by_another_key_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    text = presentation + key_binding(make_key_pair(), presentation)
    result = verify(text, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.reasons == ["The holder's proof is not signed by the holder's key."]


def test_key_binding_over_other_disclosures_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    proof = key_binding(holder_key, presentation)
    # A verifier who drops a disclosure (or adds one) breaks the holder's sd_hash.
    fewer = "~".join(presentation.split("~")[:-2]) + "~"
    result = verify(fewer + proof, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.reasons == ["The holder's proof was made for a different set of disclosures."]


def test_key_binding_with_a_wrong_sd_hash_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    text = presentation + key_binding(holder_key, presentation, sd_hash=presentation_hash("x~"))
    result = verify(text, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.INVALID_SIGNATURE


def test_key_binding_with_a_wrong_nonce_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    text = presentation + key_binding(holder_key, presentation, nonce="replayed-nonce")
    result = verify(text, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.reasons == ["The holder's proof was made for another request."]


def test_key_binding_with_a_wrong_audience_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    text = presentation + key_binding(holder_key, presentation, aud="https://other.example")
    result = verify(text, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.reasons == ["The holder's proof was made for another verifier."]


def test_key_binding_with_a_wrong_typ_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    text = presentation + key_binding(holder_key, presentation, typ="JWT")
    result = verify(text, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.MALFORMED
    assert result.reasons == ["The holder's proof is not a key-binding JWT."]


def test_key_binding_dated_in_the_future_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    later = int((NOW + timedelta(minutes=10)).timestamp())
    text = presentation + key_binding(holder_key, presentation, iat=later)
    result = verify(text, trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.INVALID_SIGNATURE


def test_key_binding_older_than_five_minutes_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    options = {"expected_nonce": NONCE, "expected_audience": AUDIENCE}
    fresh = int((NOW - timedelta(minutes=4)).timestamp())
    text = presentation + key_binding(holder_key, presentation, iat=fresh)
    assert verify(text, trust, **options).verdict is Verdict.VALID
    stale = int((NOW - timedelta(minutes=10)).timestamp())
    text = presentation + key_binding(holder_key, presentation, iat=stale)
    result = verify(text, trust, **options)
    assert result.verdict is Verdict.INVALID_SIGNATURE
    assert result.reasons == ["The holder's proof is too old; ask the holder to present it again."]


def test_holder_bound_presentation_needs_the_verifiers_nonce_and_audience(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    presentation = holder_bound(issue_degree, holder_key)
    text = presentation + key_binding(holder_key, presentation)
    for options in ({}, {"expected_nonce": NONCE}, {"expected_audience": AUDIENCE}):
        result = verify(text, trust, **options)
        assert result.verdict is Verdict.MALFORMED, options
        assert "fresh proof" in result.reasons[0]


def test_signed_json_with_duplicate_members_is_refused(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, hec_key: KeyPair
) -> None:
    # Two parsers could read {"iss": A, "iss": B} differently; refuse rather than pick one.
    parsed = parse_sd_jwt(issue_degree())
    body = compact_json(parsed.payload)[:-1] + b',"iss":"https://impostor.example"}'
    header = b64url_encode(compact_json(parsed.header))
    signing_input = f"{header}.{b64url_encode(body)}"
    signature = sign_es256(hec_key.private_key, signing_input.encode())
    text = "~".join(
        [
            f"{signing_input}.{b64url_encode(signature)}",
            *(d.encoded for d in parsed.disclosures),
            "",
        ]
    )
    assert verify(text, trust).verdict is Verdict.MALFORMED


def test_nonce_asked_of_a_document_without_holder_key_is_noted(
    issue_degree: DegreeIssuer, trust: BundleTrustSource
) -> None:
    result = verify(issue_degree(), trust, expected_nonce=NONCE, expected_audience=AUDIENCE)
    assert result.verdict is Verdict.VALID
    assert not result.holder_bound
    assert result.reasons == [
        "The document is not bound to a holder key, so the person presenting it could not "
        "prove it was issued to them."
    ]


class StatusThreeTrust:
    """A trust source whose status lists answer 3, a value the draft leaves to applications."""

    def __init__(self, inner: BundleTrustSource) -> None:
        self.inner = inner

    def issuer_key(self, issuer: str, kid: str) -> Any:
        return self.inner.issuer_key(issuer, kid)

    def status_of(self, uri: str, index: int) -> int | None:
        return 3


def test_status_value_the_verifier_does_not_know_is_not_taken_as_checked(
    encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    result = verify(encode_degree_qr(), StatusThreeTrust(trust))
    assert not result.status_checked
    assert result.reasons == ["The status list gives a value this verifier does not understand."]
