"""How fast documents are signed and checked on this machine (prints figures; not a test).

.venv/bin/python bench/credentials.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from darwaza.crypto.keys import generate_signing_key, kid_for_public_key, public_jwk
from darwaza.documents.formats.compact_qr import encode_compact_qr, qr_version
from darwaza.documents.formats.sd_jwt import issue_sd_jwt, present_sd_jwt
from darwaza.documents.formats.status_list import encode_status_list
from darwaza.verification.trust_bundle import TrustedIssuer, sign_trust_bundle, verify_trust_bundle
from darwaza.verification.verifier import BundleTrustSource, verify_credential

ISSUER = "https://darwaza.example/agencies/hec"
STATUS = "https://darwaza.example/status-lists/1"
CLAIMS = {
    "full_name": "Fatima Khan",
    "cnic": "3520212345671",
    "degree_title": "Bachelor of Science (Honours)",
    "university": "University of the Punjab, Lahore",
    "year_of_completion": 2019,
}


def rate(label: str, seconds: float, work: Callable[[], object]) -> None:
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        work()
        count += 1
    elapsed = time.perf_counter() - started
    print(f"{label:<42} {count / elapsed:>10,.0f} per second")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    key = generate_signing_key()
    kid = kid_for_public_key(key.public_key())
    now = datetime.now(UTC)

    def issue_jwt() -> str:
        return issue_sd_jwt(
            private_key=key,
            kid=kid,
            issuer=ISSUER,
            vct="urn:darwaza:vct:x:1",
            claims=CLAIMS,
            disclosable=list(CLAIMS),
            status_uri=STATUS,
            status_index=7,
            issued_at=now,
            expires_at=None,
        )

    def issue_qr() -> str:
        return encode_compact_qr(
            private_key=key,
            issuer=ISSUER,
            document_type="urn:x",
            claims={"full_name": CLAIMS["full_name"]},
            status_uri=STATUS,
            status_index=7,
            issued_at=now,
            expires_at=None,
        )

    root = generate_signing_key()
    issuer = TrustedIssuer(
        issuer=ISSUER,
        name_en="HEC",
        name_ur="ایچ ای سی",
        jwks={"keys": [public_jwk(key.public_key(), kid)]},
        status_list_uris=(STATUS,),
    )
    bundle_token = sign_trust_bundle(
        root_private_key=root,
        platform_url="https://darwaza.example",
        issuers=[issuer],
        issued_at=now,
        expires_at=now + timedelta(days=1),
    )
    bundle = verify_trust_bundle(bundle_token, root.public_key(), now)
    from darwaza.documents.formats.status_list import sign_status_list_token

    status_token = sign_status_list_token(
        private_key=key,
        kid=kid,
        issuer=ISSUER,
        uri=STATUS,
        statuses=[0] * 131_072,
        issued_at=now,
        ttl_seconds=300,
        expires_at=now + timedelta(days=1),
    )
    trust = BundleTrustSource(bundle, {STATUS: status_token}, now)
    jwt, qr = issue_jwt(), issue_qr()
    shown = present_sd_jwt(jwt, ["full_name", "degree_title"])
    print(f"QR text: {len(qr)} characters, QR version {qr_version(qr)}")
    rate("issue SD-JWT VC (5 disclosable claims)", seconds, issue_jwt)
    rate("issue compact QR", seconds, issue_qr)
    rate(
        "verify SD-JWT presentation offline",
        seconds,
        lambda: verify_credential(shown, trust=trust, now=now),
    )
    rate("verify compact QR offline", seconds, lambda: verify_credential(qr, trust=trust, now=now))
    rate("encode a 131,072-entry status list", seconds, lambda: encode_status_list([0] * 131_072))


if __name__ == "__main__":
    main()
