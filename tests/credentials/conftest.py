"""Keys, a trust bundle and document factories for the credential tests.

No database and no network; times are fixed and every check passes ``now=``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from darwaza.documents.formats.compact_qr import encode_compact_qr
from darwaza.documents.formats.sd_jwt import issue_sd_jwt
from darwaza.documents.formats.status_list import sign_status_list_token
from darwaza.verification.trust_bundle import TrustBundle, sign_trust_bundle, verify_trust_bundle
from darwaza.verification.verifier import BundleTrustSource
from tests.credentials.credential_data import (
    DEGREE_CLAIMS,
    DEGREE_VCT,
    EXPIRES_AT,
    HEC,
    HEC_STATUS_LIST,
    ISSUED_AT,
    NOW,
    PERSONAL_CLAIMS,
    PLATFORM,
    QR_CLAIMS,
    STATUSES,
    VALID_INDEX,
    DegreeIssuer,
    KeyPair,
    hec_issuer,
    make_key_pair,
)


@pytest.fixture(scope="session")
def hec_key() -> KeyPair:
    return make_key_pair()


@pytest.fixture(scope="session")
def root_key() -> KeyPair:
    return make_key_pair()


@pytest.fixture(scope="session")
def holder_key() -> KeyPair:
    return make_key_pair()


@pytest.fixture(scope="session")
def bundle_token(root_key: KeyPair, hec_key: KeyPair) -> str:
    return sign_trust_bundle(
        root_private_key=root_key.private_key,
        platform_url=PLATFORM,
        issuers=[hec_issuer(hec_key)],
        issued_at=NOW - timedelta(hours=1),
        expires_at=NOW + timedelta(days=7),
    )


@pytest.fixture(scope="session")
def bundle(bundle_token: str, root_key: KeyPair) -> TrustBundle:
    return verify_trust_bundle(bundle_token, root_key.jwk, NOW)


@pytest.fixture(scope="session")
def hec_status_token(hec_key: KeyPair) -> str:
    return sign_status_list_token(
        private_key=hec_key.private_key,
        kid=hec_key.kid,
        issuer=HEC,
        uri=HEC_STATUS_LIST,
        statuses=STATUSES,
        issued_at=NOW - timedelta(minutes=5),
        ttl_seconds=3600,
        expires_at=NOW + timedelta(days=1),
    )


@pytest.fixture(scope="session")
def trust(bundle: TrustBundle, hec_status_token: str) -> BundleTrustSource:
    """An offline verifier's view: the synced bundle and HEC's status list."""
    return BundleTrustSource(bundle, {HEC_STATUS_LIST: hec_status_token}, NOW)


@pytest.fixture(scope="session")
def trust_without_status(bundle: TrustBundle) -> BundleTrustSource:
    """An offline verifier that never managed to sync the status lists."""
    return BundleTrustSource(bundle, {}, NOW)


@pytest.fixture(scope="session")
def issue_degree(hec_key: KeyPair) -> DegreeIssuer:
    """Issue an SD-JWT degree attestation; keyword arguments override the defaults."""

    def issue(**overrides: Any) -> str:
        arguments: dict[str, Any] = {
            "private_key": hec_key.private_key,
            "kid": hec_key.kid,
            "issuer": HEC,
            "vct": DEGREE_VCT,
            "claims": DEGREE_CLAIMS,
            "disclosable": PERSONAL_CLAIMS,
            "status_uri": HEC_STATUS_LIST,
            "status_index": VALID_INDEX,
            "issued_at": ISSUED_AT,
            "expires_at": EXPIRES_AT,
        }
        arguments.update(overrides)
        return issue_sd_jwt(**arguments)

    return issue


@pytest.fixture(scope="session")
def encode_degree_qr(hec_key: KeyPair) -> DegreeIssuer:
    """Encode a compact QR degree attestation; keyword arguments override the defaults."""

    def encode(**overrides: Any) -> str:
        arguments: dict[str, Any] = {
            "private_key": hec_key.private_key,
            "issuer": HEC,
            "document_type": DEGREE_VCT,
            "claims": {name: DEGREE_CLAIMS[name] for name in QR_CLAIMS},
            "status_uri": HEC_STATUS_LIST,
            "status_index": VALID_INDEX,
            "issued_at": ISSUED_AT,
            "expires_at": EXPIRES_AT,
        }
        arguments.update(overrides)
        return encode_compact_qr(**arguments)

    return encode
