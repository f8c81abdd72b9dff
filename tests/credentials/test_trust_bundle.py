"""The trust bundle an offline verifier syncs, signed by the platform's root key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from darwaza.crypto.jws import compact_json, sign_compact_jws, strict_json_loads
from darwaza.crypto.keys import b64url_decode, b64url_encode, jwk_thumbprint
from darwaza.verification.trust_bundle import (
    TrustBundleError,
    TrustedIssuer,
    sign_trust_bundle,
    unverified_root_jwk,
    verify_pinned_trust_bundle,
    verify_trust_bundle,
)
from tests.credentials.credential_data import (
    HEC,
    HEC_STATUS_LIST,
    NOW,
    PLATFORM,
    KeyPair,
    hec_issuer,
    make_key_pair,
)


def test_trust_bundle_round_trips(bundle_token: str, root_key: KeyPair, hec_key: KeyPair) -> None:
    bundle = verify_trust_bundle(bundle_token, root_key.private_key.public_key(), NOW)
    assert bundle.platform == PLATFORM
    assert bundle.root_jwk == root_key.jwk
    hec = bundle.issuer(HEC)
    assert hec is not None
    assert hec.name_en == "Higher Education Commission"
    assert hec.name_ur == "ہائر ایجوکیشن کمیشن"
    key = hec.key_for(hec_key.kid)
    assert key is not None
    assert key.public_numbers() == hec_key.private_key.public_key().public_numbers()
    assert bundle.issuer_for_status_list(HEC_STATUS_LIST) is hec
    assert bundle.issuer_for_status_list(f"{PLATFORM}/status-lists/hec-fake/1") is None
    assert bundle.issuer("https://elsewhere.example") is None


def test_trust_bundle_header_names_its_type_and_root_key(
    bundle_token: str, root_key: KeyPair
) -> None:
    header = strict_json_loads(b64url_decode(bundle_token.split(".")[0]))
    assert header == {"alg": "ES256", "typ": "darwaza-trust-bundle+jwt", "kid": root_key.kid}


def test_bundle_carries_the_root_jwk_for_pinning(bundle_token: str, root_key: KeyPair) -> None:
    assert unverified_root_jwk(bundle_token) == root_key.jwk


def test_tampered_trust_bundle_is_refused(bundle_token: str, root_key: KeyPair) -> None:
    header, payload, signature = bundle_token.split(".")
    claims = strict_json_loads(b64url_decode(payload))
    claims["issuers"][0]["name_en"] = "Higher Education Commision of Fakes"
    tampered = f"{header}.{b64url_encode(compact_json(claims))}.{signature}"
    with pytest.raises(TrustBundleError, match="not signed by the pinned root key"):
        verify_trust_bundle(tampered, root_key.jwk, NOW)


def test_bundle_signed_by_another_root_is_refused(hec_key: KeyPair, root_key: KeyPair) -> None:
    impostor = make_key_pair()
    token = sign_trust_bundle(
        root_private_key=impostor.private_key,
        platform_url=PLATFORM,
        issuers=[hec_issuer(hec_key)],
        issued_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )
    with pytest.raises(TrustBundleError):
        verify_trust_bundle(token, root_key.jwk, NOW)


def test_bundle_naming_another_root_key_is_refused(hec_key: KeyPair, root_key: KeyPair) -> None:
    payload = {
        "iss": PLATFORM,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
        "root_jwk": make_key_pair().jwk,
        "issuers": [hec_issuer(hec_key).to_json()],
    }
    header = {"alg": "ES256", "typ": "darwaza-trust-bundle+jwt", "kid": root_key.kid}
    token = sign_compact_jws(header, payload, root_key.private_key)
    with pytest.raises(TrustBundleError, match="root key other than"):
        verify_trust_bundle(token, root_key.jwk, NOW)


def test_expired_trust_bundle_is_refused(bundle_token: str, root_key: KeyPair) -> None:
    with pytest.raises(TrustBundleError, match="expired"):
        verify_trust_bundle(bundle_token, root_key.jwk, NOW + timedelta(days=8))


def test_trust_bundle_of_wrong_type_is_refused(root_key: KeyPair, hec_key: KeyPair) -> None:
    token = sign_compact_jws(
        {"alg": "ES256", "typ": "JWT", "kid": root_key.kid},
        {"iss": PLATFORM, "issuers": []},
        root_key.private_key,
    )
    with pytest.raises(TrustBundleError, match="not a trust bundle"):
        verify_trust_bundle(token, root_key.jwk, NOW)


def test_status_list_prefix_must_end_with_a_slash(hec_key: KeyPair) -> None:
    with pytest.raises(TrustBundleError):
        TrustedIssuer(
            issuer=HEC,
            name_en="HEC",
            name_ur="ایچ ای سی",
            jwks={"keys": [hec_key.jwk]},
            status_list_prefix=f"{PLATFORM}/status-lists/hec",
        )


def test_issuer_keys_must_have_unique_kids(hec_key: KeyPair) -> None:
    with pytest.raises(TrustBundleError):
        TrustedIssuer(
            issuer=HEC, name_en="HEC", name_ur="ایچ ای سی", jwks={"keys": [hec_key.jwk] * 2}
        )


def test_pinned_thumbprint_accepts_only_the_bundle_of_that_root(
    bundle_token: str, root_key: KeyPair, hec_key: KeyPair
) -> None:
    pin = jwk_thumbprint(root_key.jwk)
    assert verify_pinned_trust_bundle(bundle_token, pin, NOW).root_jwk == root_key.jwk
    impostor = make_key_pair()
    # The impostor's bundle carries the real root's JWK: its thumbprint matches the pin,
    # but the signature is checked with that key and fails.
    payload = {
        "iss": PLATFORM,
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
        "root_jwk": root_key.jwk,
        "issuers": [hec_issuer(hec_key).to_json()],
    }
    header = {"alg": "ES256", "typ": "darwaza-trust-bundle+jwt", "kid": root_key.kid}
    forged = sign_compact_jws(header, payload, impostor.private_key)
    with pytest.raises(TrustBundleError, match="not signed by the pinned root key"):
        verify_pinned_trust_bundle(forged, pin, NOW)
    # ... and with its own JWK, under the real root's kid, the thumbprint does not match.
    payload["root_jwk"] = impostor.jwk | {"kid": root_key.kid}
    forged = sign_compact_jws(header, payload, impostor.private_key)
    with pytest.raises(TrustBundleError, match="not signed by the pinned root key"):
        verify_pinned_trust_bundle(forged, pin, NOW)
    with pytest.raises(TrustBundleError, match="not well formed"):
        verify_pinned_trust_bundle(bundle_token, root_key.kid, NOW)
