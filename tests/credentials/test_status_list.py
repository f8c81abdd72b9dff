"""Status lists: the draft's bit layout, its test vectors, and the signed token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from darwaza.crypto.jws import compact_json
from darwaza.crypto.keys import b64url_decode, b64url_encode
from darwaza.documents.formats.status_list import (
    StatusCode,
    StatusIndexOutOfRange,
    StatusListError,
    decode_status_list,
    encode_status_list,
    pack_statuses,
    sign_status_list_token,
    verify_status_list_token,
)
from tests.credentials.credential_data import HEC, HEC_STATUS_LIST, NOW, KeyPair, make_key_pair

# draft-ietf-oauth-status-list, section "Status List" examples.
ONE_BIT_VECTOR = "eNrbuRgAAhcBXQ"
ONE_BIT_STATUSES = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
TWO_BIT_VECTOR = "eNo76fITAAPfAgc"
TWO_BIT_STATUSES = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_draft_one_bit_vector_decodes_to_b9_a3() -> None:
    status_list = decode_status_list(ONE_BIT_VECTOR, 1)
    assert status_list.data == bytes([0xB9, 0xA3])
    assert [status_list.status_at(i) for i in range(16)] == ONE_BIT_STATUSES


def test_draft_two_bit_vector_decodes_to_c9_44_f9() -> None:
    status_list = decode_status_list(TWO_BIT_VECTOR, 2)
    assert status_list.data == bytes([0xC9, 0x44, 0xF9])
    assert [status_list.status_at(i) for i in range(12)] == TWO_BIT_STATUSES


def test_encoder_reproduces_both_draft_vectors() -> None:
    assert pack_statuses(ONE_BIT_STATUSES, 1) == bytes([0xB9, 0xA3])
    assert pack_statuses(TWO_BIT_STATUSES, 2) == bytes([0xC9, 0x44, 0xF9])
    assert encode_status_list(ONE_BIT_STATUSES, 1) == ONE_BIT_VECTOR
    assert encode_status_list(TWO_BIT_STATUSES, 2) == TWO_BIT_VECTOR


@given(
    st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda bits: st.tuples(
            st.just(bits), st.lists(st.integers(0, (1 << bits) - 1), max_size=300)
        )
    )
)
def test_any_list_of_statuses_round_trips(case: tuple[int, list[int]]) -> None:
    bits, statuses = case
    decoded = decode_status_list(encode_status_list(statuses, bits), bits)
    assert [decoded.status_at(i) for i in range(len(statuses))] == statuses
    # Padding entries of the last byte read as valid.
    assert all(decoded.status_at(i) == 0 for i in range(len(statuses), len(decoded)))


def test_status_that_does_not_fit_its_bits_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_status_list([4], 2)
    with pytest.raises(ValueError):
        encode_status_list([0], 3)


def test_index_beyond_the_list_is_refused_on_lookup() -> None:
    status_list = decode_status_list(TWO_BIT_VECTOR, 2)
    assert len(status_list) == 12
    with pytest.raises(StatusIndexOutOfRange):
        status_list.status_at(12)
    with pytest.raises(StatusIndexOutOfRange):
        status_list.status_at(-1)


def test_garbage_is_not_a_status_list() -> None:
    with pytest.raises(StatusListError):
        decode_status_list("not base64!", 2)
    with pytest.raises(StatusListError):
        decode_status_list(b64url_encode(b"not zlib"), 2)


def _token(key: KeyPair, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "private_key": key.private_key,
        "kid": key.kid,
        "issuer": HEC,
        "uri": HEC_STATUS_LIST,
        "statuses": [0, 1, 2, 0],
        "issued_at": NOW - timedelta(minutes=1),
        "ttl_seconds": 600,
        "expires_at": NOW + timedelta(hours=1),
    }
    arguments.update(overrides)
    return sign_status_list_token(**arguments)  # type: ignore[arg-type]


def _verify(token: str, key: KeyPair, **overrides: object) -> object:
    arguments: dict[str, object] = {
        "expected_uri": HEC_STATUS_LIST,
        "public_key_for_kid": lambda kid: key.private_key.public_key() if kid == key.kid else None,
        "now": NOW,
    }
    arguments.update(overrides)
    return verify_status_list_token(token, **arguments)  # type: ignore[arg-type]


def test_signed_status_list_round_trips(hec_key: KeyPair) -> None:
    token = _token(hec_key)
    header = b64url_decode(token.split(".")[0])
    assert b'"typ":"statuslist+jwt"' in header
    verified = verify_status_list_token(
        token,
        expected_uri=HEC_STATUS_LIST,
        public_key_for_kid=lambda kid: hec_key.private_key.public_key(),
        now=NOW,
    )
    assert verified.uri == HEC_STATUS_LIST
    assert verified.ttl_seconds == 600
    assert verified.status_list.bits == 2
    assert [verified.status_at(i) for i in range(4)] == [
        StatusCode.VALID,
        StatusCode.INVALID,
        StatusCode.SUSPENDED,
        StatusCode.VALID,
    ]


def test_status_list_for_another_uri_is_refused(hec_key: KeyPair) -> None:
    with pytest.raises(StatusListError, match="not the one"):
        _verify(_token(hec_key), hec_key, expected_uri=HEC_STATUS_LIST + "2")


def test_expired_status_list_is_refused(hec_key: KeyPair) -> None:
    with pytest.raises(StatusListError, match="expired"):
        _verify(_token(hec_key), hec_key, now=NOW + timedelta(hours=1))


def test_status_list_signed_by_an_unknown_or_other_key_is_refused(hec_key: KeyPair) -> None:
    other = make_key_pair()
    with pytest.raises(StatusListError, match="not trusted"):
        _verify(_token(other), hec_key)
    forged = _token(other, kid=hec_key.kid)
    with pytest.raises(StatusListError, match="signature"):
        _verify(forged, hec_key)


def test_status_list_with_wrong_typ_or_alg_is_refused(hec_key: KeyPair) -> None:
    token = _token(hec_key)
    _, payload, signature = token.split(".")
    for header in (
        {"alg": "ES256", "typ": "JWT", "kid": hec_key.kid},
        {"alg": "none", "typ": "statuslist+jwt", "kid": hec_key.kid},
        {"alg": "HS256", "typ": "statuslist+jwt", "kid": hec_key.kid},
    ):
        changed = f"{b64url_encode(compact_json(header))}.{payload}.{signature}"
        with pytest.raises(StatusListError):
            _verify(changed, hec_key)


def test_status_list_dated_in_the_future_is_refused(hec_key: KeyPair) -> None:
    token = _token(
        hec_key, issued_at=NOW + timedelta(minutes=5), expires_at=NOW + timedelta(hours=2)
    )
    with pytest.raises(StatusListError, match="future"):
        _verify(token, hec_key)
