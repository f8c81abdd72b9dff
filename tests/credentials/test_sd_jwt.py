"""SD-JWT VC issuance and presentation, checked against the `sd-jwt` reference package."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from darwaza.crypto.keys import b64url_decode
from darwaza.documents.formats.sd_jwt import (
    SD_ALG,
    MalformedSdJwt,
    disclosure_digest,
    parse_sd_jwt,
    present_sd_jwt,
    presentation_hash,
)
from tests.credentials.credential_data import (
    DEGREE_CLAIMS,
    DEGREE_VCT,
    EXPIRES_AT,
    HEC,
    HEC_STATUS_LIST,
    ISSUED_AT,
    NOW,
    PERSONAL_CLAIMS,
    VALID_INDEX,
    DegreeIssuer,
    KeyPair,
    claims_subset,
)

TECHNICAL = {"iss", "iat", "exp", "nbf", "vct", "status", "cnf"}


def reference_claims(
    presentation: str,
    issuer_jwk: dict[str, str],
    *,
    audience: str | None = None,
    nonce: str | None = None,
) -> dict[str, Any]:
    """What the `sd-jwt` package's verifier makes of a presentation, technical claims removed."""

    def issuer_key(issuer: str, header: dict[str, Any]) -> JWK:
        assert issuer == HEC
        return JWK.from_json(json.dumps(issuer_jwk))

    verifier = SDJWTVerifier(presentation, issuer_key, expected_aud=audience, expected_nonce=nonce)
    payload: dict[str, Any] = verifier.get_verified_payload()
    return {name: value for name, value in payload.items() if name not in TECHNICAL}


def test_issued_sd_jwt_has_the_sd_jwt_vc_header_and_payload(
    issue_degree: DegreeIssuer, hec_key: KeyPair
) -> None:
    parsed = parse_sd_jwt(issue_degree())
    assert parsed.header == {"alg": "ES256", "typ": "dc+sd-jwt", "kid": hec_key.kid}
    payload = parsed.payload
    assert payload["iss"] == HEC
    assert payload["vct"] == DEGREE_VCT
    assert payload["iat"] == int(ISSUED_AT.timestamp())
    assert payload["exp"] == int(EXPIRES_AT.timestamp())
    assert "nbf" not in payload
    assert payload["status"] == {"status_list": {"idx": VALID_INDEX, "uri": HEC_STATUS_LIST}}
    assert payload["_sd_alg"] == SD_ALG
    assert "cnf" not in payload
    # Only the claim that is not personal stays in plain view.
    assert payload["attestation_number"] == DEGREE_CLAIMS["attestation_number"]
    assert not set(PERSONAL_CLAIMS) & set(payload)


def test_every_personal_claim_is_a_disclosure_among_decoys(issue_degree: DegreeIssuer) -> None:
    parsed = parse_sd_jwt(issue_degree())
    digests = parsed.payload["_sd"]
    assert digests == sorted(digests)
    assert len(set(digests)) == len(digests)
    assert {d.name for d in parsed.disclosures} == set(PERSONAL_CLAIMS)
    assert {d.digest for d in parsed.disclosures} <= set(digests)
    decoys = len(digests) - len(parsed.disclosures)
    assert 2 <= decoys <= 5
    for disclosure in parsed.disclosures:
        assert len(b64url_decode(disclosure.salt)) == 16
        assert disclosure.value == DEGREE_CLAIMS[disclosure.name or ""]
        assert disclosure.digest == disclosure_digest(disclosure.encoded)


def test_the_number_of_decoys_varies_over_its_whole_range(issue_degree: DegreeIssuer) -> None:
    # A fixed count would tell how many claims a document holds. Each of the four counts
    # is missing from 100 documents with a chance of about 1 in 10**12.
    counts = {
        len(parsed.payload["_sd"]) - len(parsed.disclosures)
        for parsed in (parse_sd_jwt(issue_degree()) for _ in range(100))
    }
    assert counts == {2, 3, 4, 5}


def test_salts_differ_between_two_issuances(issue_degree: DegreeIssuer) -> None:
    first = {d.salt for d in parse_sd_jwt(issue_degree()).disclosures}
    second = {d.salt for d in parse_sd_jwt(issue_degree()).disclosures}
    assert not first & second


def test_issued_text_ends_with_a_tilde_and_has_no_key_binding(issue_degree: DegreeIssuer) -> None:
    issued = issue_degree()
    assert issued.endswith("~")
    assert parse_sd_jwt(issued).key_binding_jwt is None


def test_reference_verifier_reads_our_issuance_with_the_same_claims(
    issue_degree: DegreeIssuer, hec_key: KeyPair
) -> None:
    assert reference_claims(issue_degree(), hec_key.jwk) == DEGREE_CLAIMS


def test_presentation_keeps_only_the_chosen_disclosures(
    issue_degree: DegreeIssuer, hec_key: KeyPair
) -> None:
    presentation = present_sd_jwt(issue_degree(), ["name", "degree", "university"])
    parsed = parse_sd_jwt(presentation)
    assert {d.name for d in parsed.disclosures} == {"name", "degree", "university"}
    assert reference_claims(presentation, hec_key.jwk) == claims_subset(
        ["name", "degree", "university", "attestation_number"]
    )


def test_holder_bound_presentation_verifies_with_the_reference_package(
    issue_degree: DegreeIssuer, hec_key: KeyPair, holder_key: KeyPair
) -> None:
    issued = issue_degree(holder_jwk=holder_key.jwk)
    assert parse_sd_jwt(issued).payload["cnf"]["jwk"]["x"] == holder_key.jwk["x"]
    presentation = present_sd_jwt(
        issued,
        ["name"],
        holder_private_key=holder_key.private_key,
        nonce="n-0S6_WzA2Mj",
        audience="https://employer.example.pk",
        now=NOW,
    )
    parsed = parse_sd_jwt(presentation)
    assert parsed.key_binding_jwt is not None
    assert parsed.key_binding_jwt.header == {"alg": "ES256", "typ": "kb+jwt"}
    assert parsed.key_binding_jwt.payload == {
        "iat": int(NOW.timestamp()),
        "aud": "https://employer.example.pk",
        "nonce": "n-0S6_WzA2Mj",
        "sd_hash": presentation_hash(presentation[: presentation.rindex("~") + 1]),
    }
    assert reference_claims(
        presentation, hec_key.jwk, audience="https://employer.example.pk", nonce="n-0S6_WzA2Mj"
    ) == claims_subset(["name", "attestation_number"])


def test_holder_bound_document_cannot_be_presented_without_the_holder_key(
    issue_degree: DegreeIssuer, holder_key: KeyPair, hec_key: KeyPair
) -> None:
    issued = issue_degree(holder_jwk=holder_key.jwk)
    with pytest.raises(ValueError, match="bound"):
        present_sd_jwt(issued, ["name"])
    with pytest.raises(ValueError, match="not the one"):
        present_sd_jwt(
            issued, ["name"], holder_private_key=hec_key.private_key, nonce="n", audience="a"
        )


def test_presenting_an_unknown_claim_is_refused(issue_degree: DegreeIssuer) -> None:
    with pytest.raises(ValueError, match="not in this document"):
        present_sd_jwt(issue_degree(), ["blood_group"])


def test_claims_that_shadow_registered_names_are_refused(issue_degree: DegreeIssuer) -> None:
    for name in ("iss", "status", "_sd", "cnf"):
        with pytest.raises(ValueError):
            issue_degree(claims={**DEGREE_CLAIMS, name: "x"})
    with pytest.raises(ValueError):
        issue_degree(disclosable=["no_such_claim"])


def test_parse_helper_shows_a_token_without_verifying_it(issue_degree: DegreeIssuer) -> None:
    issued = issue_degree()
    header, payload, _signature = issued.split("~")[0].split(".")
    unsigned = f"{header}.{payload}.~" + "~".join(issued.split("~")[1:])
    parsed = parse_sd_jwt(unsigned)
    assert parsed.issuer_jwt.signature == b""
    assert parsed.payload["iss"] == HEC
    assert {d.name for d in parsed.disclosures} == set(PERSONAL_CLAIMS)


def test_parse_helper_refuses_what_is_not_an_sd_jwt() -> None:
    for text in ("", "hello", "a.b.c", "a.b.c~", "~~", "eyJ9.e30.~WyJ"):
        with pytest.raises(MalformedSdJwt):
            parse_sd_jwt(text)
