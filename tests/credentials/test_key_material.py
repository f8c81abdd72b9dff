"""Signing keys: identifiers, JWKs, ES256 signatures and sealed storage."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from darwaza.crypto.keys import (
    KeyMaterialError,
    KeySealingError,
    b64url_decode,
    b64url_encode,
    generate_signing_key,
    is_thumbprint,
    jwk_thumbprint,
    kid_bytes_for_public_key,
    kid_for_public_key,
    public_jwk,
    public_key_from_jwk,
    seal_private_key,
    seal_secret,
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


@given(st.text(alphabet="ABPQYZabpz0189-_+/= \n.é", max_size=14))
def test_base64url_decodes_a_text_only_when_it_is_the_one_spelling_of_its_bytes(
    text: str,
) -> None:
    try:
        data = b64url_decode(text)
    except ValueError:
        # Refused: whatever a lenient decoder makes of it is spelled otherwise.
        try:
            lenient = base64.urlsafe_b64decode(text.encode() + b"==")
        except ValueError:
            return
        assert b64url_encode(lenient) != text
        return
    assert b64url_encode(data) == text


@given(st.binary(max_size=96))
def test_base64url_reads_back_every_byte_string(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data


def _seal(private_key: ec.EllipticCurvePrivateKey, secret: str = SECRET) -> bytes:
    kid = kid_for_public_key(private_key.public_key())
    return seal_private_key(private_key, secret, kid=kid, owner="hec")


def _unseal(blob: bytes, private_key: ec.EllipticCurvePrivateKey, secret: str = SECRET) -> object:
    kid = kid_for_public_key(private_key.public_key())
    return unseal_private_key(blob, secret, kid=kid, owner="hec")


def test_sealed_key_opens_with_the_same_secret_kid_and_owner() -> None:
    private_key = generate_signing_key()
    blob = _seal(private_key)
    assert blob.startswith(b"DZK2")
    opened = _unseal(blob, private_key)
    assert isinstance(opened, ec.EllipticCurvePrivateKey)
    assert opened.private_numbers() == private_key.private_numbers()


def test_sealed_key_is_bound_to_its_kid_and_owner() -> None:
    private_key = generate_signing_key()
    kid = kid_for_public_key(private_key.public_key())
    blob = _seal(private_key)
    with pytest.raises(KeySealingError):
        unseal_private_key(blob, SECRET, kid=kid, owner="nadra")
    with pytest.raises(KeySealingError):
        unseal_private_key(
            blob, SECRET, kid=kid_for_public_key(generate_signing_key().public_key()), owner="hec"
        )
    # A version-2 blob relabelled as version 1 (whose data bound nothing) does not open.
    with pytest.raises(KeySealingError):
        unseal_private_key(b"DZK1" + blob[4:], SECRET, kid=kid, owner="hec")


def _legacy_seal(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """A blob as the first version sealed it: the prefix alone as associated data."""
    import os

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    salt, nonce = os.urandom(16), os.urandom(12)
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"darwaza signing key sealing v1"
    ).derive(SECRET.encode())
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return b"DZK1" + salt + nonce + AESGCM(key).encrypt(nonce, der, b"DZK1")


def test_first_version_blobs_still_open_but_only_as_their_own_kid() -> None:
    private_key = generate_signing_key()
    blob = _legacy_seal(private_key)
    opened = _unseal(blob, private_key)
    assert isinstance(opened, ec.EllipticCurvePrivateKey)
    assert opened.private_numbers() == private_key.private_numbers()
    other_kid = kid_for_public_key(generate_signing_key().public_key())
    with pytest.raises(KeySealingError):
        unseal_private_key(blob, SECRET, kid=other_kid, owner="hec")


def test_sealing_twice_gives_different_blobs() -> None:
    private_key = generate_signing_key()
    assert _seal(private_key) != _seal(private_key)


def test_sealed_key_does_not_contain_the_key_in_the_clear() -> None:
    private_key = generate_signing_key()
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    assert scalar not in _seal(private_key)


def test_sealed_key_refuses_a_wrong_secret_or_a_changed_byte() -> None:
    private_key = generate_signing_key()
    blob = _seal(private_key)
    with pytest.raises(KeySealingError):
        _unseal(blob, private_key, SECRET + "x")
    for position in (5, 25, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(KeySealingError):
            _unseal(bytes(tampered), private_key)
    with pytest.raises(KeySealingError):
        _unseal(b"DZK9" + blob[4:], private_key)
    with pytest.raises(KeySealingError):
        _seal(generate_signing_key(), "")
    assert seal_secret(b"seed", SECRET).startswith(b"DZS1")


def test_thumbprint_is_rfc_7638_over_crv_kty_x_y() -> None:
    from jwcrypto import jwk as jwcrypto_jwk

    private_key = generate_signing_key()
    jwk = public_jwk(private_key.public_key(), "some-kid")
    canonical = f'{{"crv":"P-256","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    expected = b64url_encode(hashlib.sha256(canonical.encode()).digest())
    assert jwk_thumbprint(jwk) == expected == jwk_thumbprint(private_key.public_key())
    # An independent implementation agrees, and kid, alg and use do not count.
    assert jwcrypto_jwk.JWK(**jwk).thumbprint() == expected
    assert jwk_thumbprint(jwk | {"kid": "other", "alg": "ES256"}) == expected
    assert is_thumbprint(expected) and not is_thumbprint(expected[:-1])
    assert not is_thumbprint(expected[:-1] + "=") and not is_thumbprint(jwk["kid"])


def test_private_key_repr_does_not_show_the_key() -> None:
    private_key = generate_signing_key()
    scalar = private_key.private_numbers().private_value
    shown = repr(private_key) + str(private_key)
    assert str(scalar) not in shown
    assert format(scalar, "x") not in shown
