"""Fixed data of the credential tests: times, issuers, claims and the status entries."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from darwaza.crypto.keys import (
    SigningKey,
    generate_signing_key,
    kid_for_public_key,
    public_jwk,
)
from darwaza.verification.trust_bundle import TrustedIssuer

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ISSUED_AT = NOW - timedelta(days=30)
EXPIRES_AT = NOW + timedelta(days=365)
PLATFORM = "https://darwaza.example.gov.pk"
HEC = f"{PLATFORM}/agencies/hec"
NADRA = f"{PLATFORM}/agencies/nadra"
HEC_STATUS_LIST = f"{PLATFORM}/status-lists/hec/0001"
DEGREE_VCT = f"{PLATFORM}/vct/degree-attestation"

DEGREE_CLAIMS: dict[str, Any] = {
    "name": "Ayesha Khan",
    "name_ur": "عائشہ خان",
    "cnic": "3520212345671",
    "degree": "BS Computer Science",
    "university": "NUST",
    "year": 2024,
    "attestation_number": "HEC-2024-001234",
}
PERSONAL_CLAIMS = ("name", "name_ur", "cnic", "degree", "university", "year")
QR_CLAIMS = ("name", "degree", "university", "year", "attestation_number")

# Entries of the HEC status list used by the tests.
VALID_INDEX = 5
REVOKED_INDEX = 6
SUSPENDED_INDEX = 7
STATUSES = [0] * 64
STATUSES[REVOKED_INDEX] = 1
STATUSES[SUSPENDED_INDEX] = 2

DegreeIssuer = Callable[..., str]
"""Issues a degree attestation (SD-JWT or QR text); keyword arguments override defaults."""


@dataclass(frozen=True)
class KeyPair:
    """A signing key and its ``kid`` and public JWK."""

    private_key: SigningKey
    kid: str
    jwk: dict[str, str]


def make_key_pair() -> KeyPair:
    private_key = generate_signing_key()
    kid = kid_for_public_key(private_key.public_key())
    return KeyPair(private_key, kid, public_jwk(private_key.public_key(), kid))


def hec_issuer(hec_key: KeyPair) -> TrustedIssuer:
    return TrustedIssuer(
        issuer=HEC,
        name_en="Higher Education Commission",
        name_ur="ہائر ایجوکیشن کمیشن",
        jwks={"keys": [hec_key.jwk]},
        status_list_prefix=f"{PLATFORM}/status-lists/hec/",
    )


def claims_subset(
    names: Sequence[str], claims: Mapping[str, Any] = DEGREE_CLAIMS
) -> dict[str, Any]:
    return {name: claims[name] for name in names}
