"""Compact JWS with ES256, written and read strictly.

SD-JWTs, key-binding JWTs, status list tokens and the trust bundle are all compact JWS.
They are built here with ``cryptography`` directly so that every byte is under our
control: the parser refuses duplicate JSON members, non-canonical base64url, and
anything but a JSON object as header or payload, because each of those is a second
spelling of a signed value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import orjson

from darwaza.crypto.keys import (
    SigningKey,
    VerifyingKey,
    b64url_decode,
    b64url_encode,
    sign_es256,
    verify_es256,
)

ES256: Final = "ES256"
MAX_TOKEN_LENGTH: Final = 8 * 1024 * 1024


class MalformedJws(ValueError):
    """The text is not a well-formed compact JWS (it says nothing about the signature)."""


class CompactJws(NamedTuple):
    """A compact JWS split into its parts; nothing has been verified yet.

    A named tuple, not a frozen dataclass: as immutable, made in a third of the time.
    """

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def algorithm(self) -> object:
        """The ``alg`` header as written (may be anything until checked)."""
        return self.header.get("alg")

    def signature_valid(self, public_key: VerifyingKey) -> bool:
        """True when the header says ES256 and the signature verifies with ``public_key``."""
        return self.algorithm == ES256 and verify_es256(
            public_key, self.signing_input, self.signature
        )


def _refuse_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads with hooks would build a new one each time.
_STRICT_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_refuse_duplicate_members, parse_constant=_refuse_constant
)


def strict_json_loads(data: bytes | str) -> Any:
    """Parse JSON, refusing duplicate object members and NaN/Infinity.

    Bytes must be UTF-8 (RFC 8259 section 8.1), without a byte order mark.

    Compact JSON as issuers write it (``compact_json``) is read by orjson, in C, and
    accepted only when orjson writes the value back to the very same bytes: a text
    with a duplicate member cannot be that, since what orjson writes has none. Anything
    else (other spacing or escapes, a duplicate, a number orjson does not take, bad
    input) goes to the standard decoder, which reads it or refuses it as it always did.
    """
    if isinstance(data, bytes):
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            if orjson.dumps(value) == data:
                return value
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return _STRICT_DECODER.decode(text)


_COMPACT_ENCODER: Final = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
# orjson writes the same compact UTF-8 for plain data, about 15x faster (issuing a
# register is mostly JSON for the SD-JWTs). What it would write differently or not at all
# (a datetime or a dataclass, an integer past 64 bits, a key that is not text) goes to
# the standard encoder instead, which writes it or refuses it as it always did.
_ORJSON_AS_STANDARD: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def compact_json(value: Any) -> bytes:
    """JSON without insignificant whitespace, UTF-8 (Urdu text stays readable).

    NaN and infinities are refused: they are not JSON.
    """
    try:
        encoded = orjson.dumps(value, option=_ORJSON_AS_STANDARD)
    except orjson.JSONEncodeError:
        encoded = b"null"
    # orjson writes NaN and infinities as null, so any null is written again by the
    # standard encoder: the same bytes for a real None, a ValueError for a NaN.
    if b"null" in encoded:
        return _COMPACT_ENCODER.encode(value).encode("utf-8")
    return encoded


def decode_json_object_part(part: str) -> dict[str, Any]:
    """A base64url JSON object, as used for JWS headers and payloads."""
    try:
        value = strict_json_loads(b64url_decode(part))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MalformedJws("a part is not base64url JSON") from error
    if not isinstance(value, dict):
        raise MalformedJws("a part is not a JSON object")
    return value


def sign_compact_jws(
    header: Mapping[str, Any],
    payload: Mapping[str, Any],
    private_key: SigningKey,
    *,
    deterministic: bool = False,
) -> str:
    """Sign ``payload`` with ES256 under ``header`` (whose ``alg`` must be ES256).

    ``deterministic``: the same header and payload always give the same token (RFC 6979).
    """
    if header.get("alg") != ES256:
        raise ValueError("only ES256 is signed on this platform")
    signing_input = (
        b64url_encode(compact_json(dict(header))) + "." + b64url_encode(compact_json(dict(payload)))
    )
    signature = sign_es256(private_key, signing_input.encode("ascii"), deterministic=deterministic)
    return signing_input + "." + b64url_encode(signature)


def parse_compact_jws(token: str) -> CompactJws:
    """Split and decode a compact JWS without verifying it; raises :class:`MalformedJws`."""
    if not isinstance(token, str) or not token.isascii() or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedJws("not a compact JWS")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJws("a compact JWS has three parts")
    header_part, payload_part, signature_part = parts
    header = decode_json_object_part(header_part)
    payload = decode_json_object_part(payload_part)
    try:
        signature = b64url_decode(signature_part)
    except ValueError as error:
        raise MalformedJws("the signature is not base64url") from error
    if "crit" in header:
        # No extension is understood, so any critical one must make the token unusable.
        raise MalformedJws("critical header extensions are not supported")
    return CompactJws(
        header=header,
        payload=payload,
        signing_input=f"{header_part}.{payload_part}".encode("ascii"),
        signature=signature,
    )
