"""Our Base45 codec against the ``base45`` package, and its canonical-form refusals."""

from __future__ import annotations

import base45
import pytest
from hypothesis import given
from hypothesis import strategies as st

from darwaza.documents.formats.base45 import ALPHABET, Base45Error, b45decode, b45encode


@given(st.binary(max_size=600))
def test_encoding_matches_the_base45_package_and_round_trips(data: bytes) -> None:
    text = b45encode(data)
    assert text == base45.b45encode(data).decode("ascii")
    assert b45decode(text) == data


def test_every_pair_of_bytes_is_encoded_and_decoded_as_the_base45_package_does() -> None:
    # All 65,536 two-byte groups in one text: the encoder's division by 45 is a
    # multiplication and a shift, exact only if it is exact for every one of them.
    every_pair = b"".join(value.to_bytes(2, "big") for value in range(0x10000))
    text = b45encode(every_pair)
    assert text == base45.b45encode(every_pair).decode("ascii")
    assert b45decode(text) == every_pair


@given(st.text(alphabet=ALPHABET + "a\n:é", max_size=12))
def test_decoding_accepts_and_refuses_exactly_what_rfc_9285_allows(text: str) -> None:
    try:
        expected: bytes | None = base45.b45decode(text)
    except ValueError:
        expected = None
    if text.endswith("\n"):
        expected = None  # the package forgives a trailing newline; a signed text must be exact
    try:
        ours: bytes | None = b45decode(text)
    except Base45Error:
        ours = None
    assert ours == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("GGW", "a group of three worth 65536, one more than two bytes hold"),
        (":::", "a group of three worth 91124"),
        ("U6", "a final pair worth 256"),
        ("A", "a single character"),
        ("BB8A", "3n+1 characters"),
        ("bb8", "lower case"),
        ("BB8\n", "a trailing newline"),
    ],
)
def test_non_canonical_spellings_are_refused(text: str, why: str) -> None:
    with pytest.raises(Base45Error):
        b45decode(text)


def test_rfc_9285_examples() -> None:
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45decode("QED8WEX0") == b"ietf!"
