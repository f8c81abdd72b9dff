"""Tampering: no single changed, dropped or added character ever yields a valid document.

Every position of a compact QR is changed to every other character a scanner could
return; every position of an SD-JWT is changed to several others (chosen with a seeded
generator); each character is also deleted once. Tens of thousands of variants in all.

An SD-JWT has exactly one spelling (base64url is read canonically), so every variant
must be refused. A compact QR's signature covers the COSE message, not the deflate
stream around it, so a variant may only pass if it is another spelling of the very same
signed bytes; none may carry anything the issuer did not sign.
"""

from __future__ import annotations

import random
import string

from darwaza.documents.formats.compact_qr import BASE45_ALPHABET, decode_compact_qr
from darwaza.documents.formats.sd_jwt import present_sd_jwt
from darwaza.verification.verdicts import Verdict
from darwaza.verification.verifier import BundleTrustSource, verify_credential
from tests.credentials.credential_data import NOW, DegreeIssuer, KeyPair

REFUSED = {Verdict.MALFORMED, Verdict.UNKNOWN_ISSUER, Verdict.INVALID_SIGNATURE}
AUDIENCE = "https://employer.example.pk"
NONCE = "bm9uY2UtZm9yLXRhbXBlcmluZw"

BASE64URL = string.ascii_letters + string.digits + "-_"
SD_JWT_REPLACEMENTS = BASE64URL + "~.=+/ "
QR_REPLACEMENTS = "".join(sorted(BASE45_ALPHABET)) + "abcz\n"


def variants(text: str, alphabet: str, per_position: int, rng: random.Random) -> list[str]:
    """``text`` with each character replaced ``per_position`` times, and with each removed."""
    changed = []
    for position, original in enumerate(text):
        choices = [c for c in alphabet if c != original]
        for replacement in rng.sample(choices, per_position):
            changed.append(text[:position] + replacement + text[position + 1 :])
        changed.append(text[:position] + text[position + 1 :])
    return changed


def assert_all_refused(
    texts: list[str], trust: BundleTrustSource, **options: str
) -> dict[Verdict, int]:
    tally: dict[Verdict, int] = {}
    for text in texts:
        result = verify_credential(text, trust=trust, now=NOW, **options)
        assert result.verdict in REFUSED, (result.verdict, text)
        assert result.claims == {}
        tally[result.verdict] = tally.get(result.verdict, 0) + 1
    return tally


def test_tampered_qr_is_never_valid(
    encode_degree_qr: DegreeIssuer, trust: BundleTrustSource
) -> None:
    rng = random.Random(45)
    text = encode_degree_qr()
    signed = decode_compact_qr(text)
    assert verify_credential(text, trust=trust, now=NOW).verdict is Verdict.VALID
    tampered = variants(text, QR_REPLACEMENTS, len(QR_REPLACEMENTS) - 1, rng)
    assert len(tampered) >= 15_000
    respelled = 0
    for variant in tampered:
        result = verify_credential(variant, trust=trust, now=NOW)
        if result.verdict in REFUSED:
            continue
        # The only text that may pass is another deflate spelling of the very same
        # signed message (see compact_qr): same bytes signed, same signature, same key.
        contents = decode_compact_qr(variant.strip("\r\n"))
        assert (contents.signed_bytes, contents.signature, contents.kid) == (
            signed.signed_bytes,
            signed.signature,
            signed.kid,
        ), (result.verdict, variant)
        respelled += 1
    # How many respellings exist depends on the deflate stream, which differs with every
    # signature (ECDSA's random bytes): 1 to 25 in 24,000 were seen. What matters is above:
    # each one is the very same signed message.
    assert respelled < len(tampered) // 200


def test_tampered_sd_jwt_presentation_is_never_valid(
    issue_degree: DegreeIssuer, trust: BundleTrustSource, holder_key: KeyPair
) -> None:
    rng = random.Random(9901)
    text = present_sd_jwt(
        issue_degree(holder_jwk=holder_key.jwk),
        ["name", "degree", "university"],
        holder_private_key=holder_key.private_key,
        nonce=NONCE,
        audience=AUDIENCE,
        now=NOW,
    )
    options = {"expected_nonce": NONCE, "expected_audience": AUDIENCE}
    assert verify_credential(text, trust=trust, now=NOW, **options).verdict is Verdict.VALID
    tampered = variants(text, SD_JWT_REPLACEMENTS, 4, rng)
    assert len(tampered) >= 5_000
    assert_all_refused(tampered, trust, **options)


def test_tampered_sd_jwt_issuance_is_never_valid(
    issue_degree: DegreeIssuer, trust: BundleTrustSource
) -> None:
    rng = random.Random(7519)
    text = issue_degree()
    assert verify_credential(text, trust=trust, now=NOW).verdict is Verdict.VALID
    assert_all_refused(variants(text, SD_JWT_REPLACEMENTS, 1, rng), trust)
