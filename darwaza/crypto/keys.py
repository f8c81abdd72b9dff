"""Signing keys of agencies and of the platform: ES256 (ECDSA on P-256 with SHA-256).

ES256 is the one algorithm the platform signs and verifies with (the EU wallet profile
requires it). This module makes keys, names them (``kid``), turns public keys into JWKs
and back, signs and verifies raw ``r || s`` signatures as JWS and COSE both use them, and
seals private keys for storage.

A sealed key is ``DZK2 || salt (16) || nonce (12) || AES-256-GCM(PKCS#8 DER)``; the AES
key is derived from the operator's sealing secret with HKDF-SHA256 and the salt. The
associated data is the version prefix, the key's ``kid`` and its owner (the agency id,
empty for the platform's root key), so a blob copied into another key's row, or another
agency's, does not open. Blobs of the first version (``DZK1``, whose associated data was
the prefix alone) still open, after checking that the key inside is the ``kid`` asked for.

A key is pinned by its RFC 7638 JWK thumbprint (:func:`jwk_thumbprint`): SHA-256 over
the canonical JSON of its required members, so two spellings of one key pin alike.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any, Final

import pybase64
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SigningKey = ec.EllipticCurvePrivateKey
"""A private ES256 key (P-256)."""

VerifyingKey = ec.EllipticCurvePublicKey
"""A public ES256 key (P-256)."""

ES256_SIGNATURE_LENGTH: Final = 64
COORDINATE_LENGTH: Final = 32
KID_BYTES_LENGTH: Final = 8

SEALED_KEY_PREFIX: Final = b"DZK2"
LEGACY_SEALED_KEY_PREFIX: Final = b"DZK1"
THUMBPRINT_LENGTH: Final = 43  # base64url of a SHA-256 digest, without padding
_SALT_LENGTH: Final = 16
_NONCE_LENGTH: Final = 12
_HKDF_INFO: Final = b"darwaza signing key sealing v1"


class KeyMaterialError(ValueError):
    """A key, JWK or sealed blob is not usable."""


class KeySealingError(KeyMaterialError):
    """A sealed key could not be opened: wrong secret, corrupted or unknown version."""


_URLSAFE: Final = b"-_"  # base64url's two characters in place of "+" and "/"


def b64url_encode(data: bytes) -> str:
    """Base64url without padding, as JOSE and SD-JWT write binary values."""
    # pybase64 (SIMD) writes the URL-safe alphabet itself, a third of binascii's time.
    return pybase64.b64encode(data, altchars=_URLSAFE).rstrip(b"=").decode()


_B64URL_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Each byte's value as a base64url digit (0 for bytes outside the alphabet, which the
# strict decoder refuses anyway).
_B64URL_VALUES: Final = bytes(
    _B64URL_ALPHABET.index(code) if code in _B64URL_ALPHABET else 0 for code in range(256)
)
# The bits of the last character that encode nothing, by the length of the text mod 4.
_UNUSED_BITS: Final = {2: 0b1111, 3: 0b11}


def b64url_decode(text: str) -> bytes:
    """Decode base64url without padding, refusing anything but its one canonical spelling.

    Lenient decoders accept padding, other alphabets or non-zero unused bits; each of
    those gives a second spelling of the same bytes, which would let a changed
    character still verify. The alphabet and the unused bits of the last character are
    checked directly (re-encoding to compare cost as much as the decoding).
    """
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("not base64url")
    encoded = text.encode("ascii")
    # The standard alphabet's two characters and padding are refused here (the decoder
    # takes "+" and "/" as well as "-" and "_"); it refuses every other character.
    if b"+" in encoded or b"/" in encoded or b"=" in encoded:
        raise ValueError("not base64url")
    remainder = len(encoded) % 4
    if remainder == 1:
        raise ValueError("not base64url")
    if remainder and _B64URL_VALUES[encoded[-1]] & _UNUSED_BITS[remainder]:
        raise ValueError("not canonical base64url")
    try:
        return pybase64.b64decode(
            encoded + b"=" * (-remainder % 4), altchars=_URLSAFE, validate=True
        )
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def generate_signing_key() -> SigningKey:
    """A new random P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def subject_public_key_info(public_key: VerifyingKey) -> bytes:
    """The DER SubjectPublicKeyInfo of ``public_key``: what key identifiers are hashed over."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def kid_bytes_for_public_key(public_key: VerifyingKey) -> bytes:
    """The first 8 bytes of SHA-256 of the key's SPKI DER (the COSE ``kid``, as in EU DCC)."""
    return hashlib.sha256(subject_public_key_info(public_key)).digest()[:KID_BYTES_LENGTH]


def kid_for_public_key(public_key: VerifyingKey) -> str:
    """The JOSE ``kid`` of a key: base64url of :func:`kid_bytes_for_public_key`.

    The same identifier names the key in the JWKS, in SD-JWT headers and (as raw bytes)
    in compact QR codes, so one lookup serves both formats.
    """
    return b64url_encode(kid_bytes_for_public_key(public_key))


def _require_p256(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise KeyMaterialError("ES256 needs a P-256 key")


def public_jwk(public_key: VerifyingKey, kid: str) -> dict[str, str]:
    """The public JWK of ``public_key`` for a JWKS or a trust bundle."""
    _require_p256(public_key)
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(COORDINATE_LENGTH, "big")),
        "y": b64url_encode(numbers.y.to_bytes(COORDINATE_LENGTH, "big")),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    }


def public_key_from_jwk(jwk: Mapping[str, Any]) -> VerifyingKey:
    """The P-256 public key a JWK describes; raises :class:`KeyMaterialError` otherwise.

    Private members (``d``) are refused: a public key set must never carry them.
    """
    if not isinstance(jwk, Mapping):
        raise KeyMaterialError("a JWK must be a JSON object")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise KeyMaterialError("only EC P-256 keys are accepted")
    if "d" in jwk:
        raise KeyMaterialError("a public JWK must not carry the private key")
    if jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
        raise KeyMaterialError("the key is not an ES256 signing key")
    try:
        x = b64url_decode(jwk["x"])
        y = b64url_decode(jwk["y"])
    except (KeyError, ValueError) as error:
        raise KeyMaterialError("the key coordinates are not base64url") from error
    if len(x) != COORDINATE_LENGTH or len(y) != COORDINATE_LENGTH:
        raise KeyMaterialError("P-256 coordinates are 32 bytes each")
    try:
        # The constructor checks that the point is on the curve.
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except ValueError as error:
        raise KeyMaterialError("the point is not on the P-256 curve") from error


def jwk_thumbprint(key: VerifyingKey | Mapping[str, Any]) -> str:
    """The RFC 7638 thumbprint of an EC P-256 public key: SHA-256, base64url.

    The hash is over ``{"crv","kty","x","y"}`` in that (lexicographic) order, written
    without whitespace; other members (``kid``, ``alg``) do not count, so the thumbprint
    names the key itself and nothing a bundle could add around it.
    """
    public_key = key if isinstance(key, ec.EllipticCurvePublicKey) else public_key_from_jwk(key)
    canonical = public_jwk(public_key, "")
    members = {name: canonical[name] for name in ("crv", "kty", "x", "y")}
    text = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def is_thumbprint(text: str) -> bool:
    """True when ``text`` has the form of a SHA-256 thumbprint in base64url."""
    try:
        return len(text) == THUMBPRINT_LENGTH and len(b64url_decode(text)) == 32
    except ValueError:
        return False


def thumbprints_match(key: VerifyingKey | Mapping[str, Any], pinned: str) -> bool:
    """True when ``key`` is the key whose thumbprint was pinned (compared in constant time)."""
    try:
        actual = jwk_thumbprint(key)
    except KeyMaterialError:
        return False
    return hmac.compare_digest(actual.encode("ascii"), pinned.encode("utf-8"))


_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256())
# RFC 6979: the nonce comes from the key and the message, so one message signed twice
# gives the same bytes: every server process publishes byte-identical status lists and
# trust bundles, and one strong ETag fits all.
_DETERMINISTIC_ECDSA_SHA256: Final = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def sign_es256(private_key: SigningKey, message: bytes, *, deterministic: bool = False) -> bytes:
    """Sign ``message`` with ES256 and return the 64-byte ``r || s`` form JWS and COSE use.

    ``deterministic`` (RFC 6979) makes the same message give the same signature, for what
    is published and cached by its bytes; documents keep OpenSSL's random nonce, which
    costs less.
    """
    _require_p256(private_key)
    der = private_key.sign(message, _DETERMINISTIC_ECDSA_SHA256 if deterministic else _ECDSA_SHA256)
    r, s = decode_dss_signature(der)
    return r.to_bytes(COORDINATE_LENGTH, "big") + s.to_bytes(COORDINATE_LENGTH, "big")


def verify_es256(public_key: VerifyingKey, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` (64-byte ``r || s``) is a valid ES256 signature of ``message``."""
    if len(signature) != ES256_SIGNATURE_LENGTH or not isinstance(public_key.curve, ec.SECP256R1):
        return False
    r = int.from_bytes(signature[:COORDINATE_LENGTH], "big")
    s = int.from_bytes(signature[COORDINATE_LENGTH:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), message, _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


def _sealing_key(sealing_secret: str, salt: bytes) -> bytes:
    if not sealing_secret:
        raise KeySealingError("a sealing secret is required")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO).derive(
        sealing_secret.encode("utf-8")
    )


def _sealing_context(prefix: bytes, kid: str, owner: str) -> bytes:
    """The associated data of a sealed key: its version, its ``kid`` and its owner."""
    if prefix == LEGACY_SEALED_KEY_PREFIX:
        return prefix
    if "\x00" in kid or "\x00" in owner:
        raise KeySealingError("a key id or owner cannot hold a NUL character")
    return prefix + kid.encode("utf-8") + b"\x00" + owner.encode("utf-8")


def seal_private_key(
    private_key: SigningKey, sealing_secret: str, *, kid: str, owner: str
) -> bytes:
    """Encrypt ``private_key`` for storage under the operator's sealing secret.

    ``kid`` and ``owner`` (the agency id, empty for the platform's root key) are bound to
    the blob: it opens only when the same two are given back.
    """
    _require_p256(private_key)
    salt = os.urandom(_SALT_LENGTH)
    nonce = os.urandom(_NONCE_LENGTH)
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    context = _sealing_context(SEALED_KEY_PREFIX, kid, owner)
    sealed = AESGCM(_sealing_key(sealing_secret, salt)).encrypt(nonce, plaintext, context)
    return SEALED_KEY_PREFIX + salt + nonce + sealed


def unseal_private_key(blob: bytes, sealing_secret: str, *, kid: str, owner: str) -> SigningKey:
    """Open a blob made by :func:`seal_private_key` for key ``kid`` of ``owner``.

    Raises :class:`KeySealingError`. A first-version blob (``DZK1``) carries no binding,
    so the key inside must at least be the one named ``kid``.
    """
    prefix = blob[: len(SEALED_KEY_PREFIX)]
    header_length = len(SEALED_KEY_PREFIX) + _SALT_LENGTH + _NONCE_LENGTH
    if prefix not in (SEALED_KEY_PREFIX, LEGACY_SEALED_KEY_PREFIX) or len(blob) <= header_length:
        raise KeySealingError("not a sealed key of a known version")
    salt_end = len(prefix) + _SALT_LENGTH
    salt = blob[len(prefix) : salt_end]
    nonce = blob[salt_end:header_length]
    try:
        plaintext = AESGCM(_sealing_key(sealing_secret, salt)).decrypt(
            nonce, blob[header_length:], _sealing_context(prefix, kid, owner)
        )
    except InvalidTag:
        # Deliberately vague: which of secret, blob, kid or owner is wrong is not knowable.
        raise KeySealingError("wrong sealing secret, wrong key row, or corrupted key") from None
    private_key = serialization.load_der_private_key(plaintext, password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise KeySealingError("the sealed key is not an EC key")
    _require_p256(private_key)
    if prefix == LEGACY_SEALED_KEY_PREFIX and kid_for_public_key(private_key.public_key()) != kid:
        raise KeySealingError("the sealed key is not the key this row names")
    return private_key


SEALED_SECRET_PREFIX: Final = b"DZS1"


def seal_secret(secret: bytes, sealing_secret: str) -> bytes:
    """Encrypt a small secret (e.g. an authenticator seed) for storage, like a private key."""
    salt = os.urandom(_SALT_LENGTH)
    nonce = os.urandom(_NONCE_LENGTH)
    sealed = AESGCM(_sealing_key(sealing_secret, salt)).encrypt(nonce, secret, SEALED_SECRET_PREFIX)
    return SEALED_SECRET_PREFIX + salt + nonce + sealed


def unseal_secret(blob: bytes, sealing_secret: str) -> bytes:
    """Open a blob made by :func:`seal_secret`; raises :class:`KeySealingError`."""
    header_length = len(SEALED_SECRET_PREFIX) + _SALT_LENGTH + _NONCE_LENGTH
    if not blob.startswith(SEALED_SECRET_PREFIX) or len(blob) <= header_length:
        raise KeySealingError("not a sealed secret of a known version")
    salt_end = len(SEALED_SECRET_PREFIX) + _SALT_LENGTH
    try:
        return AESGCM(
            _sealing_key(sealing_secret, blob[len(SEALED_SECRET_PREFIX) : salt_end])
        ).decrypt(blob[salt_end:header_length], blob[header_length:], SEALED_SECRET_PREFIX)
    except InvalidTag as error:
        raise KeySealingError("the secret cannot be opened with this sealing secret") from error
