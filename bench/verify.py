"""Darwaza's verifier beside the peer libraries, on the same credentials, in one run.

.venv/bin/python bench/verify.py [--seconds 1] [--rounds 5]

Prints rates (per second of CPU time, one core) and the ratios issue 12 asks for:

- QR text -> verdict: Darwaza (every check, the status list included) against the peer
  stack (the ``base45`` package + zlib + ``cwt.decode``, which checks the signature and
  the CWT dates only), against ``pycose`` (if it installs beside our cbor2) and against a
  raw ES256 signature check of the same COSE message with ``cryptography``;
- SD-JWT VC presentation -> verdict: Darwaza against the ``sd-jwt`` reference verifier
  (which skips expiry, ``typ``, stray disclosures and the status list) and a raw ES256
  check of the issuer JWS;
- issuance of one document in both formats (SD-JWT VC and compact QR), with the
  agency's key opened from its sealed form as ``documents.service`` does.

The machine is shared, so contenders take turns in many short rounds (a burst of load
from elsewhere then slows them all alike), and each figure is the median of its rounds;
the ratios are what to compare between machines.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import base45
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from darwaza.crypto.keys import (
    b64url_decode,
    generate_signing_key,
    kid_bytes_for_public_key,
    kid_for_public_key,
    public_jwk,
    seal_private_key,
)
from darwaza.documents.formats.compact_qr import decode_compact_qr, encode_compact_qr
from darwaza.documents.formats.sd_jwt import issue_sd_jwt, present_sd_jwt
from darwaza.documents.formats.status_list import sign_status_list_token
from darwaza.verification.trust_bundle import TrustedIssuer, sign_trust_bundle, verify_trust_bundle
from darwaza.verification.verdicts import Verdict
from darwaza.verification.verifier import BundleTrustSource, verify_credential

try:
    from darwaza.agencies.keys import open_sealed_key
except ImportError:  # before the cache of opened keys: every issuance opened the key
    from darwaza.crypto.keys import unseal_private_key as open_sealed_key

ISSUER = "https://darwaza.example/agencies/hec"
STATUS = "https://darwaza.example/status-lists/1"
VCT = "https://darwaza.example/vct/hec/degree-attestation/1"
# The demo degree attestation's claims; the QR carries the ones marked in_qr.
CLAIMS: dict[str, Any] = {
    "full_name": "Fatima Khan",
    "cnic": "3520212345671",
    "degree_title": "Bachelor of Science (Honours) in Computer Science",
    "university": "University of the Punjab, Lahore",
    "year_of_completion": 2019,
    "attestation_number": "HEC-2026-00012345",
    "attested_on": "2026-11-30",
}
PERSONAL = ["full_name", "cnic", "degree_title", "university", "year_of_completion"]
SEALING_SECRET = "bench-sealing-secret"  # noqa: S105 - a throwaway key in memory


def measure(work: Callable[[], object], seconds: float) -> float:
    """Calls of ``work`` per second of this process's CPU time, over about ``seconds``.

    CPU time, not wall time: on a shared machine the process is often waiting for a
    core, and that wait says nothing about the code.
    """
    count = 0
    cpu_started = time.process_time()
    deadline = time.perf_counter() + seconds
    while True:
        for _ in range(20):
            work()
        count += 20
        if time.perf_counter() >= deadline:
            return count / max(time.process_time() - cpu_started, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="per contender per round")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    options = parser.parse_args()

    key = generate_signing_key()
    kid = kid_for_public_key(key.public_key())
    now = datetime.now(UTC).replace(microsecond=0)
    root = generate_signing_key()
    trusted = TrustedIssuer(
        issuer=ISSUER,
        name_en="Higher Education Commission",
        name_ur="ہائر ایجوکیشن کمیشن",
        jwks={"keys": [public_jwk(key.public_key(), kid)]},
        status_list_uris=(STATUS,),
    )
    bundle = verify_trust_bundle(
        sign_trust_bundle(
            root_private_key=root,
            platform_url="https://darwaza.example",
            issuers=[trusted],
            issued_at=now,
            expires_at=now + timedelta(days=1),
        ),
        root.public_key(),
        now,
    )
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
    sealed = seal_private_key(key, SEALING_SECRET, kid=kid, owner="hec")
    issued_at = now - timedelta(days=1)
    expires_at = now + timedelta(days=3650)

    def issue_both() -> tuple[str, str]:
        private_key = open_sealed_key(sealed, SEALING_SECRET, kid=kid, owner="hec")
        jwt = issue_sd_jwt(
            private_key=private_key,
            kid=kid,
            issuer=ISSUER,
            vct=VCT,
            claims=CLAIMS,
            disclosable=PERSONAL,
            status_uri=STATUS,
            status_index=70_123,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        qr = encode_compact_qr(
            private_key=private_key,
            issuer=ISSUER,
            document_type=VCT,
            claims={name: CLAIMS[name] for name in [*PERSONAL[:4], "attestation_number"]},
            status_uri=STATUS,
            status_index=70_123,
            issued_at=issued_at,
            expires_at=expires_at,
        )
        return jwt, qr

    jwt, qr = issue_both()
    shown = present_sd_jwt(jwt, ["full_name", "degree_title", "university"])
    assert verify_credential(qr, trust=trust, now=now).verdict is Verdict.VALID
    assert verify_credential(shown, trust=trust, now=now).verdict is Verdict.VALID

    # Peers, checking the same QR.
    import cwt  # a test dependency: the peer, not ours

    cose_key = cwt.COSEKey.from_pem(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        kid=kid_bytes_for_public_key(key.public_key()),
    )

    def peer_cwt() -> object:
        cose = zlib.decompress(base45.b45decode(qr[4:]))
        return cwt.decode(cose, cose_key)

    contents = decode_compact_qr(qr)
    der_qr_signature = encode_dss_signature(
        int.from_bytes(contents.signature[:32], "big"),
        int.from_bytes(contents.signature[32:], "big"),
    )
    qr_signed = contents.signed_bytes
    public_key = key.public_key()

    def raw_es256_qr() -> None:
        public_key.verify(der_qr_signature, qr_signed, ec.ECDSA(hashes.SHA256()))

    contenders: dict[str, Callable[[], object]] = {
        "darwaza QR verify": lambda: verify_credential(qr, trust=trust, now=now),
        "peer: base45 + zlib + cwt.decode": peer_cwt,
        "raw ES256 verify (cryptography)": raw_es256_qr,
    }
    pycose_note = ""
    try:
        from pycose.keys import EC2Key
        from pycose.messages import Sign1Message

        numbers = public_key.public_numbers()
        pycose_key = EC2Key(
            crv="P_256", x=numbers.x.to_bytes(32, "big"), y=numbers.y.to_bytes(32, "big")
        )

        def peer_pycose() -> bool:
            message = Sign1Message.decode(zlib.decompress(base45.b45decode(qr[4:])))
            message.key = pycose_key
            return bool(message.verify_signature())

        if not peer_pycose():
            raise RuntimeError("pycose does not verify our QR")
        contenders["peer: base45 + zlib + pycose"] = peer_pycose
    except Exception as problem:  # any failure to import or verify is what we report
        pycose_note = f"pycose: not measured ({type(problem).__name__}: {problem})"

    from jwcrypto.jwk import JWK
    from sd_jwt.verifier import SDJWTVerifier

    issuer_jwk = JWK.from_json(json.dumps(public_jwk(public_key, kid)))

    def reference_sd_jwt() -> object:
        return SDJWTVerifier(shown, lambda issuer, header: issuer_jwk).get_verified_payload()

    jws_text = shown.split("~")[0]
    signing_input, _, signature_text = jws_text.rpartition(".")
    raw_jws_signature = b64url_decode(signature_text)
    der_jws_signature = encode_dss_signature(
        int.from_bytes(raw_jws_signature[:32], "big"),
        int.from_bytes(raw_jws_signature[32:], "big"),
    )
    signing_bytes = signing_input.encode("ascii")

    contenders.update(
        {
            "darwaza SD-JWT VC verify": lambda: verify_credential(shown, trust=trust, now=now),
            "sd-jwt reference verifier": reference_sd_jwt,
            "raw ES256 verify of the JWS": lambda: public_key.verify(
                der_jws_signature, signing_bytes, ec.ECDSA(hashes.SHA256())
            ),
            "darwaza issue (SD-JWT VC + QR)": issue_both,
        }
    )

    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(options.rounds):
        for name, work in contenders.items():
            rates[name].append(measure(work, options.seconds))
    median = {name: statistics.median(values) for name, values in rates.items()}

    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{options.rounds} rounds x {options.seconds:g} s, median per CPU-second (one core)"
    )
    print(f"QR text: {len(qr)} characters; SD-JWT presentation: {len(shown)} characters")
    for name, value in median.items():
        spread = f"{min(rates[name]):,.0f}-{max(rates[name]):,.0f}"
        print(f"  {name:<36} {value:>9,.0f}/s   (rounds {spread})")
    if pycose_note:
        print(f"  {pycose_note}")

    def ratio(a: str, b: str, goal: float) -> None:
        value = median[a] / median[b]
        verdict = "ok" if value >= goal else "BELOW GOAL"
        print(f"  {a} / {b}: {value:.2f}x (goal {goal:g}x) {verdict}")

    print("Ratios:")
    ratio("darwaza QR verify", "peer: base45 + zlib + cwt.decode", 1.5)
    if "peer: base45 + zlib + pycose" in median:
        ratio("darwaza QR verify", "peer: base45 + zlib + pycose", 1.5)
    ratio("darwaza QR verify", "raw ES256 verify (cryptography)", 0.7)
    ratio("darwaza SD-JWT VC verify", "sd-jwt reference verifier", 1.5)
    ratio("darwaza SD-JWT VC verify", "raw ES256 verify of the JWS", 0.5)
    if options.json:
        print(json.dumps({"date": f"{datetime.now(UTC):%Y-%m-%d}", "median": median}))


if __name__ == "__main__":
    main()
