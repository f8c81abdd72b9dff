"""Status lists (draft-ietf-oauth-status-list): is a document valid, revoked or suspended?

Each document carries ``status.status_list = {idx, uri}``. The list at ``uri`` is a
bit string, 2 bits per document on this platform, packed least-significant bits first
within each byte, deflated with a zlib header and written base64url. It is published
as a signed ``statuslist+jwt`` whose ``sub`` is its own ``uri``, so a cached copy
cannot be passed off as another list, and whose ``exp`` bounds how stale it can get.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Final

from darwaza.clock import numeric_date
from darwaza.crypto.jws import ES256, MalformedJws, parse_compact_jws, sign_compact_jws
from darwaza.crypto.keys import SigningKey, VerifyingKey, b64url_decode, b64url_encode
from darwaza.i18n import N_

STATUS_LIST_TYP: Final = "statuslist+jwt"
ALLOWED_BITS: Final = (1, 2, 4, 8)
PLATFORM_BITS: Final = 2
CLOCK_SKEW: Final = timedelta(seconds=60)
# 2 bits x 32 million documents; anything larger is not a list we publish.
MAX_LIST_BYTES: Final = 8 * 1024 * 1024


class StatusCode(IntEnum):
    """The values a status list entry takes, as the draft names them (2 bits here)."""

    VALID = 0
    INVALID = 1  # revoked, for good
    SUSPENDED = 2


class StatusListError(ValueError):
    """A status list or its token cannot be used; ``reason`` is a translatable sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StatusIndexOutOfRange(StatusListError, IndexError):
    """The index a document points at lies beyond the end of its status list."""


@dataclass(frozen=True)
class StatusList:
    """A decoded status list: ``bits`` per entry over ``data``."""

    bits: int
    data: bytes

    def __len__(self) -> int:
        return len(self.data) * 8 // self.bits

    def status_at(self, index: int) -> int:
        """The status value at ``index``; raises :class:`StatusIndexOutOfRange`."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self):
            raise StatusIndexOutOfRange(N_("The document's status index is outside its list."))
        position = index * self.bits
        return (self.data[position // 8] >> (position % 8)) & ((1 << self.bits) - 1)


def _check_bits(bits: int) -> None:
    if bits not in ALLOWED_BITS:
        raise ValueError(f"bits must be one of {ALLOWED_BITS}")


def pack_statuses(statuses: Sequence[int], bits: int = PLATFORM_BITS) -> bytes:
    """Pack status values into bytes, first entry in the least-significant bits."""
    _check_bits(bits)
    limit = 1 << bits
    packed = bytearray((len(statuses) * bits + 7) // 8)
    for index, status in enumerate(statuses):
        if not 0 <= status < limit:
            raise ValueError(f"status {status} at {index} does not fit in {bits} bits")
        position = index * bits
        packed[position // 8] |= status << (position % 8)
    return bytes(packed)


def encode_status_list(statuses: Sequence[int], bits: int = PLATFORM_BITS) -> str:
    """The ``lst`` value of a status list: zlib (best compression), then base64url."""
    return b64url_encode(zlib.compress(pack_statuses(statuses, bits), 9))


def decode_status_list(lst: str, bits: int) -> StatusList:
    """Decode an ``lst`` value; raises :class:`StatusListError` if it is not one."""
    _check_bits(bits)
    try:
        compressed = b64url_decode(lst)
    except ValueError:
        raise StatusListError(N_("The status list cannot be read.")) from None
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_LIST_BYTES)
    except zlib.error:
        raise StatusListError(N_("The status list cannot be read.")) from None
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise StatusListError(N_("The status list cannot be read."))
    return StatusList(bits=bits, data=data)


@dataclass(frozen=True)
class VerifiedStatusList:
    """A status list whose token was signed by a trusted key and is still current."""

    uri: str
    issuer: str | None
    kid: str
    issued_at: datetime
    expires_at: datetime
    ttl_seconds: int | None
    status_list: StatusList

    def status_at(self, index: int) -> int:
        """The status value at ``index``; raises :class:`StatusIndexOutOfRange`."""
        return self.status_list.status_at(index)


def sign_status_list_token(
    *,
    private_key: SigningKey,
    kid: str,
    issuer: str,
    uri: str,
    statuses: Sequence[int],
    bits: int = PLATFORM_BITS,
    issued_at: datetime,
    ttl_seconds: int,
    expires_at: datetime,
) -> str:
    """A signed ``statuslist+jwt`` for the list published at ``uri``.

    ``ttl_seconds`` tells caches how soon to fetch again; ``expires_at`` is when a
    verifier must stop trusting this copy.
    """
    if expires_at <= issued_at:
        raise ValueError("a status list must expire after it is issued")
    payload = {
        "iss": issuer,
        "sub": uri,
        "iat": numeric_date(issued_at),
        "exp": numeric_date(expires_at),
        "ttl": ttl_seconds,
        "status_list": {"bits": bits, "lst": encode_status_list(statuses, bits)},
    }
    # Deterministic: the same list signed in any process is the same bytes (one ETag).
    return sign_compact_jws(
        {"alg": ES256, "typ": STATUS_LIST_TYP, "kid": kid},
        payload,
        private_key,
        deterministic=True,
    )


def _timestamp(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StatusListError(N_("The status list token has no valid time."))
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise StatusListError(N_("The status list token has no valid time.")) from None


def verify_status_list_token(
    token: str,
    *,
    expected_uri: str,
    public_key_for_kid: Callable[[str], VerifyingKey | None],
    now: datetime,
) -> VerifiedStatusList:
    """Check a status list token and return its list; raises :class:`StatusListError`.

    Checks, in order: the form, ``typ`` (``statuslist+jwt``), ``alg`` (ES256 only), that
    ``kid`` names a trusted key, the signature, ``sub == expected_uri``, ``iat`` not in
    the future and ``exp`` not passed (both allowing 60 s of clock skew for ``iat``).
    """
    try:
        jws = parse_compact_jws(token)
    except MalformedJws:
        raise StatusListError(N_("The status list token cannot be read.")) from None
    if jws.header.get("typ") != STATUS_LIST_TYP:
        raise StatusListError(N_("The token is not a status list."))
    if jws.algorithm != ES256:
        raise StatusListError(N_("The status list is not signed with ES256."))
    kid = jws.header.get("kid")
    if not isinstance(kid, str):
        raise StatusListError(N_("The status list token does not name its key."))
    public_key = public_key_for_kid(kid)
    if public_key is None:
        raise StatusListError(N_("The status list is signed with a key that is not trusted."))
    if not jws.signature_valid(public_key):
        raise StatusListError(N_("The status list signature does not match the key."))
    payload = jws.payload
    if payload.get("sub") != expected_uri:
        raise StatusListError(N_("The status list is not the one the document points to."))
    issued_at = _timestamp(payload.get("iat"))
    expires_at = _timestamp(payload.get("exp"))
    if issued_at > now + CLOCK_SKEW:
        raise StatusListError(N_("The status list is dated in the future."))
    if now >= expires_at:
        raise StatusListError(N_("The status list has expired; fetch a fresh one."))
    ttl = payload.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 0):
        raise StatusListError(N_("The status list token cannot be read."))
    body = payload.get("status_list")
    if not isinstance(body, dict):
        raise StatusListError(N_("The status list token cannot be read."))
    bits = body.get("bits")
    lst = body.get("lst")
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in ALLOWED_BITS:
        raise StatusListError(N_("The status list token cannot be read."))
    if not isinstance(lst, str):
        raise StatusListError(N_("The status list token cannot be read."))
    issuer = payload.get("iss")
    return VerifiedStatusList(
        uri=expected_uri,
        issuer=issuer if isinstance(issuer, str) else None,
        kid=kid,
        issued_at=issued_at,
        expires_at=expires_at,
        ttl_seconds=ttl,
        status_list=decode_status_list(lst, bits),
    )
