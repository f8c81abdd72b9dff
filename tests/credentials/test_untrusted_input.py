"""Whatever a verifier is handed, it answers with a verdict and never crashes or says valid."""

from __future__ import annotations

import zlib
from typing import Any

import base45
import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from darwaza.crypto.jws import compact_json
from darwaza.crypto.keys import b64url_encode
from darwaza.verification.verdicts import Verdict
from darwaza.verification.verifier import BundleTrustSource, verify_credential
from tests.credentials.credential_data import HEC, NOW

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
REFUSED = {Verdict.MALFORMED, Verdict.UNKNOWN_ISSUER, Verdict.INVALID_SIGNATURE}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | st.floats(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.integers() | st.text(max_size=8), children, max_size=4)
        | st.builds(cbor2.CBORTag, st.integers(0, 300), children)
    ),
    max_leaves=12,
)


def assert_refused(text: str, trust: BundleTrustSource) -> None:
    result = verify_credential(text, trust=trust, now=NOW)
    assert result.verdict in REFUSED
    assert result.reasons


@FUZZ
@given(st.text(max_size=400))
def test_any_text_gets_a_refusal(trust: BundleTrustSource, text: str) -> None:
    assert_refused(text, trust)


@FUZZ
@given(st.binary(max_size=300))
def test_any_compressed_bytes_behind_the_prefix_are_malformed(
    trust: BundleTrustSource, data: bytes
) -> None:
    text = "DZ1:" + base45.b45encode(zlib.compress(data)).decode()
    assert verify_credential(text, trust=trust, now=NOW).verdict is Verdict.MALFORMED


@FUZZ
@given(cbor_values, st.dictionaries(st.integers(-5, 5), cbor_values, max_size=3), cbor_values)
def test_any_cose_shaped_qr_gets_a_refusal(
    trust: BundleTrustSource, protected: Any, unprotected: dict[int, Any], claims: Any
) -> None:
    message = cbor2.CBORTag(
        18, [cbor2.dumps(protected), unprotected, cbor2.dumps(claims), b"\x00" * 64]
    )
    text = "DZ1:" + base45.b45encode(zlib.compress(cbor2.dumps(message))).decode()
    assert_refused(text, trust)


@FUZZ
@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    st.dictionaries(st.text(max_size=8), json_values, max_size=6),
    st.lists(json_values, max_size=3),
)
def test_any_sd_jwt_shaped_text_gets_a_refusal(
    trust: BundleTrustSource,
    header: dict[str, Any],
    payload: dict[str, Any],
    disclosures: list[Any],
) -> None:
    header = {"alg": "ES256", "typ": "dc+sd-jwt", "kid": "x", **header}
    payload = {"iss": HEC, "vct": "v", **payload}
    jws = f"{b64url_encode(compact_json(header))}.{b64url_encode(compact_json(payload))}."
    jws += b64url_encode(b"\x01" * 64)
    parts = [b64url_encode(compact_json(item)) for item in disclosures]
    assert_refused("~".join([jws, *parts, ""]), trust)


def test_deeply_nested_input_is_malformed_not_a_crash(trust: BundleTrustSource) -> None:
    deep = b64url_encode(b"[" * 100_000 + b"]" * 100_000)
    header = b64url_encode(b'{"alg":"ES256","typ":"dc+sd-jwt","kid":"x"}')
    for text in (f"{header}.{deep}.AA~", f"{header}.e30.AA~{deep}~"):
        assert verify_credential(text, trust=trust, now=NOW).verdict is Verdict.MALFORMED
    nested = b"\x81" * 50_000 + b"\x00"
    text = "DZ1:" + base45.b45encode(zlib.compress(nested)).decode()
    assert verify_credential(text, trust=trust, now=NOW).verdict is Verdict.MALFORMED
