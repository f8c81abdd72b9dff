"""Signing keys: identifiers, JWKs, ES256 signatures and sealed storage."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from darwaza.crypto.keys import (
    KeyMaterialError,
    KeySealingError,
    b64url_decode,
    b64url_encode,
    generate_signing_key,
    kid_bytes_for_public_key,
    kid_for_public_key,
    public_jwk,
    public_key_from_jwk,
    seal_private_key,
    sign_es256,
    unseal_private_key,
    verify_es256,
)

SECRET = "a-sealing-secret-long-enough-for-tests-0123456789"


def test_kid_is_base64url_of_the_first_8_bytes_of_the_spki_hash() -> None:
    public_key = generate_signing_key().public_key()
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = hashlib.sha256(spki).digest()[:8]
    assert kid_bytes_for_public_key(public_key) == expected
    assert b64url_decode(kid_for_public_key(public_key)) == expected
    assert len(kid_for_public_key(public_key)) == 11
    assert "=" not in kid_for_public_key(public_key)


def test_public_jwk_round_trips_to_the_same_key() -> None:
    public_key = generate_signing_key().public_key()
    jwk = public_jwk(public_key, "k1")
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    assert jwk["alg"] == "ES256"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == "k1"
    assert "d" not in jwk
    assert public_key_from_jwk(jwk).public_numbers() == public_key.public_numbers()


def test_jwk_with_a_private_member_is_refused() -> None:
    jwk = public_jwk(generate_signing_key().public_key(), "k1")
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk({**jwk, "d": jwk["x"]})


def test_jwk_of_another_curve_or_off_the_curve_is_refused() -> None:
    jwk = public_jwk(generate_signing_key().public_key(), "k1")
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk({**jwk, "crv": "P-384"})
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk({**jwk, "y": jwk["x"]})
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk({**jwk, "alg": "HS256"})
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk({**jwk, "x": jwk["x"] + "AA"})


def test_keys_of_other_curves_are_not_es256() -> None:
    with pytest.raises(KeyMaterialError):
        public_jwk(ec.generate_private_key(ec.SECP384R1()).public_key(), "k")


def test_es256_signature_is_64_raw_bytes_and_verifies() -> None:
    private_key = generate_signing_key()
    signature = sign_es256(private_key, b"degree")
    assert len(signature) == 64
    assert verify_es256(private_key.public_key(), b"degree", signature)
    assert not verify_es256(private_key.public_key(), b"degreE", signature)
    assert not verify_es256(private_key.public_key(), b"degree", signature[:-1])
    assert not verify_es256(generate_signing_key().public_key(), b"degree", signature)


def test_base64url_accepts_only_the_canonical_spelling() -> None:
    assert b64url_decode(b64url_encode(b"\xff\xfe")) == b"\xff\xfe"
    assert b64url_encode(b"\xff\xfe") == "__4"
    for spelling in ("__4=", "//4", "__5", "_ _4", "_"):
        with pytest.raises(ValueError):
            b64url_decode(spelling)


def test_sealed_key_opens_with_the_same_secret() -> None:
    private_key = generate_signing_key()
    blob = seal_private_key(private_key, SECRET)
    assert blob.startswith(b"DZK1")
    opened = unseal_private_key(blob, SECRET)
    assert opened.private_numbers() == private_key.private_numbers()


def test_sealing_twice_gives_different_blobs() -> None:
    private_key = generate_signing_key()
    assert seal_private_key(private_key, SECRET) != seal_private_key(private_key, SECRET)


def test_sealed_key_does_not_contain_the_key_in_the_clear() -> None:
    private_key = generate_signing_key()
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    assert scalar not in seal_private_key(private_key, SECRET)


def test_sealed_key_refuses_a_wrong_secret_or_a_changed_byte() -> None:
    blob = seal_private_key(generate_signing_key(), SECRET)
    with pytest.raises(KeySealingError):
        unseal_private_key(blob, SECRET + "x")
    for position in (5, 25, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(KeySealingError):
            unseal_private_key(bytes(tampered), SECRET)
    with pytest.raises(KeySealingError):
        unseal_private_key(b"DZK9" + blob[4:], SECRET)
    with pytest.raises(KeySealingError):
        seal_private_key(generate_signing_key(), "")


def test_private_key_repr_does_not_show_the_key() -> None:
    private_key = generate_signing_key()
    scalar = private_key.private_numbers().private_value
    shown = repr(private_key) + str(private_key)
    assert str(scalar) not in shown
    assert format(scalar, "x") not in shown
