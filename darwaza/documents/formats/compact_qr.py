"""Compact QR: a signed document small enough for paper and cheap phone cameras.

Built like the EU Digital COVID Certificate, with our own prefix::

    "DZ1:" + Base45( zlib( COSE_Sign1( CWT claims ) ) )

The COSE_Sign1 (CBOR tag 18) has the protected header ``{1: -7}`` (ES256) and the
unprotected header ``{4: kid}``, where ``kid`` is the first 8 bytes of SHA-256 of the
signer's SubjectPublicKeyInfo DER. The CWT claims are ``1`` iss, ``4`` exp, ``5`` nbf,
``6`` iat and the private claim ``-70000`` holding the document::

    {"t": <vct>, "c": {<claim>: <value>, ...}, "s": {"idx": <int>, "uri": <str>}}

Short keys keep the code small; ``idx`` and ``uri`` keep the status-list names.

What is signed is the COSE message, not the text: like every DCC-style code, one signed
document has more than one valid text, because deflate can spell the same bytes in
several ways (another zlib, another level, or a back-reference to another copy of a
repeated string). A verifier must therefore not demand our zlib's exact output, or a
printed code would stop verifying when the zlib under it changes. Anything that alters
the signed bytes is refused.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

import cbor2
import segno

from darwaza.clock import numeric_date
from darwaza.crypto.keys import (
    SigningKey,
    VerifyingKey,
    b64url_encode,
    kid_bytes_for_public_key,
    sign_es256,
    verify_es256,
)
from darwaza.documents.formats.base45 import ALPHABET, Base45Error, b45decode, b45encode

PREFIX: Final = "DZ1:"
COSE_SIGN1_TAG: Final = 18
COSE_HEADER_ALG: Final = 1
COSE_HEADER_CRIT: Final = 2
COSE_HEADER_KID: Final = 4
COSE_ALG_ES256: Final = -7

CWT_ISS: Final = 1
CWT_EXP: Final = 4
CWT_NBF: Final = 5
CWT_IAT: Final = 6
CWT_DOCUMENT: Final = -70000

DOCUMENT_TYPE_KEY: Final = "t"
DOCUMENT_CLAIMS_KEY: Final = "c"
DOCUMENT_STATUS_KEY: Final = "s"

BASE45_ALPHABET: Final = frozenset(ALPHABET)
MAX_TEXT_LENGTH: Final = 8 * 1024
MAX_INFLATED_BYTES: Final = 64 * 1024
# At least medium error correction; segno raises it to quartile when that needs no
# bigger symbol, so a scuffed print still scans. The quiet zone is QR's standard 4.
QR_ERROR_CORRECTION: Final = "m"

_PROTECTED_HEADER: Final = cbor2.dumps({COSE_HEADER_ALG: COSE_ALG_ES256})
# The Sig_structure's fixed start: an array of four, the text "Signature1".
_SIG_STRUCTURE_START: Final = cbor2.dumps(["Signature1", b"", b"", b""])[:-3]
# Every QR the platform issues has this protected header: decoding it is skipped.
_KNOWN_PROTECTED_HEADERS: Final = {_PROTECTED_HEADER: {COSE_HEADER_ALG: COSE_ALG_ES256}}
_KID_TEXTS: dict[bytes, str] = {}
_MAX_KID_TEXTS: Final = 4096
_MAX_CLAIM_NESTING: Final = 16


class MalformedCompactQr(ValueError):
    """The text is not a well-formed Darwaza compact QR."""


class CompactQrContents(NamedTuple):
    """What a compact QR says, read without checking the signature.

    A named tuple, not a frozen dataclass: as immutable, and made in a third of the time
    on a path that runs for every QR checked.
    """

    kid: bytes
    algorithm: int | None
    protected_header: bytes
    payload: bytes
    signature: bytes
    issuer: str
    document_type: str
    claims: dict[str, Any]
    status_uri: str
    status_index: int
    issued_at: datetime | None
    expires_at: datetime | None
    not_before: datetime | None

    @property
    def kid_text(self) -> str:
        """The ``kid`` as the JOSE string the issuer's JWKS uses for the same key."""
        text = _KID_TEXTS.get(self.kid)
        if text is None:
            text = b64url_encode(self.kid)
            if len(_KID_TEXTS) < _MAX_KID_TEXTS:  # a few agencies' keys, not forgers' kids
                _KID_TEXTS[self.kid] = text
        return text

    @property
    def signed_bytes(self) -> bytes:
        """The COSE ``Sig_structure`` the signature covers (RFC 9052 section 4.4)."""
        return _sig_structure(self.protected_header, self.payload)


def _cbor_byte_string(data: bytes) -> bytes:
    """``data`` as a CBOR byte string (major type 2), in its shortest head."""
    length = len(data)
    if length < 24:
        return bytes((0x40 | length,)) + data
    if length < 0x100:
        return bytes((0x58, length)) + data
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big") + data
    return b"\x5a" + length.to_bytes(4, "big") + data


def _sig_structure(protected_header: bytes, payload: bytes) -> bytes:
    """``cbor2.dumps(["Signature1", protected_header, b"", payload])``, without the encoder."""
    return (
        _SIG_STRUCTURE_START
        + _cbor_byte_string(protected_header)
        + b"\x40"
        + _cbor_byte_string(payload)
    )


_KIDS_OF_KEYS: dict[SigningKey, bytes] = {}


def _kid_bytes_of(private_key: SigningKey) -> bytes:
    """The key's ``kid``, remembered per key object (opened keys are cached and reused)."""
    kid = _KIDS_OF_KEYS.get(private_key)
    if kid is None:
        kid = kid_bytes_for_public_key(private_key.public_key())
        if len(_KIDS_OF_KEYS) >= _MAX_KID_TEXTS:
            _KIDS_OF_KEYS.clear()
        _KIDS_OF_KEYS[private_key] = kid
    return kid


def encode_compact_qr(
    *,
    private_key: SigningKey,
    issuer: str,
    document_type: str,
    claims: Mapping[str, Any],
    status_uri: str,
    status_index: int,
    issued_at: datetime,
    expires_at: datetime | None,
    not_before: datetime | None = None,
) -> str:
    """Sign ``claims`` into the text of a compact QR (``DZ1:...``).

    Keep ``claims`` to the few a checkpoint needs (name, document number, ...): every
    character makes the code denser and harder to scan.
    """
    if isinstance(status_index, bool) or not isinstance(status_index, int) or status_index < 0:
        raise ValueError("the status index must be a non-negative integer")
    cwt_claims: dict[int, Any] = {CWT_ISS: issuer, CWT_IAT: numeric_date(issued_at)}
    if expires_at is not None:
        cwt_claims[CWT_EXP] = numeric_date(expires_at)
    if not_before is not None:
        cwt_claims[CWT_NBF] = numeric_date(not_before)
    cwt_claims[CWT_DOCUMENT] = {
        DOCUMENT_TYPE_KEY: document_type,
        DOCUMENT_CLAIMS_KEY: dict(claims),
        DOCUMENT_STATUS_KEY: {"idx": status_index, "uri": status_uri},
    }
    payload = cbor2.dumps(cwt_claims)
    signature = sign_es256(private_key, _sig_structure(_PROTECTED_HEADER, payload))
    kid = _kid_bytes_of(private_key)
    cose = cbor2.dumps(
        cbor2.CBORTag(
            COSE_SIGN1_TAG, [_PROTECTED_HEADER, {COSE_HEADER_KID: kid}, payload, signature]
        )
    )
    return PREFIX + b45encode(_deflate(cose))


# A code's whole COSE is a few hundred bytes: a 2 KiB window finds every repeat in it and
# costs a third of the time of zlib's default 32 KiB one, whose tables are set up afresh
# for each code. Any zlib reader takes it (the window size is in the stream's header).
_WINDOW_BITS = 11


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, _WINDOW_BITS)
    return compressor.compress(data) + compressor.flush()


def _cbor_loads_exactly(data: bytes) -> Any:
    """Decode one CBOR item and refuse trailing bytes (``cbor2.loads`` ignores them)."""
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception as error:
        # Whatever the decoder trips over in untrusted bytes (bad tags, depth, sizes)
        # means one thing here: this is not a document we can read.
        raise MalformedCompactQr("not CBOR") from error
    if stream.tell() != len(data):
        raise MalformedCompactQr("trailing bytes after the CBOR item")
    return value


def _inflate(data: bytes) -> bytes:
    """The content of one complete zlib stream, refusing trailing bytes and zip bombs."""
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as error:
        raise MalformedCompactQr("not a zlib stream") from error
    if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
        raise MalformedCompactQr("not one complete zlib stream")
    return inflated


def _fromnumeric_date(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedCompactQr("a time is not a whole number of seconds")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise MalformedCompactQr("a time is out of range") from error


_PLAIN_SCALARS: Final = frozenset({str, int, bool, type(None)})
_TEXT: Final = frozenset({str})
_CLAIM_NAME_TYPES: Final = frozenset({int, str})


def _is_plain_data(value: object, depth: int = 0) -> bool:
    """True for JSON-like data only: text, whole numbers, booleans, null, finite floats,
    lists, and maps with text keys, nested at most ``_MAX_CLAIM_NESTING`` deep.

    Exact types are compared, not ``isinstance``: the CBOR decoder makes only these, and
    anything else it makes (dates, sets, big numbers from tags) is what must be refused.
    """
    if depth > _MAX_CLAIM_NESTING:
        return False
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    # A scalar member is answered here, without a call, when its depth is allowed.
    scalar_allowed = depth < _MAX_CLAIM_NESTING
    if kind is dict:
        # Most maps (a document's claims) hold text keys and scalars only: two C-level
        # passes over the types answer for them, with no Python code per member.
        if (
            scalar_allowed
            and _TEXT.issuperset(map(type, value))  # type: ignore[call-overload]
            and _PLAIN_SCALARS.issuperset(map(type, value.values()))  # type: ignore[attr-defined]
        ):
            return True
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                return False
            if not (scalar_allowed and type(item) in _PLAIN_SCALARS) and not _is_plain_data(
                item, depth + 1
            ):
                return False
        return True
    if kind is list:
        for item in value:  # type: ignore[attr-defined]
            if not (scalar_allowed and type(item) in _PLAIN_SCALARS) and not _is_plain_data(
                item, depth + 1
            ):
                return False
        return True
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    return False


def decode_compact_qr(text: str) -> CompactQrContents:
    """Read a compact QR without checking its signature; raises :class:`MalformedCompactQr`."""
    if not isinstance(text, str) or not text.startswith(PREFIX) or len(text) > MAX_TEXT_LENGTH:
        raise MalformedCompactQr("not a Darwaza compact QR")
    body = text[len(PREFIX) :]
    if not body:
        raise MalformedCompactQr("not Base45")
    try:
        # Strict: the alphabet only (no trailing newline), and canonical groups.
        compressed = b45decode(body)
    except Base45Error as error:
        raise MalformedCompactQr("not Base45") from error
    cose = _cbor_loads_exactly(_inflate(compressed))
    if not isinstance(cose, cbor2.CBORTag) or cose.tag != COSE_SIGN1_TAG:
        raise MalformedCompactQr("not a COSE_Sign1")
    if not isinstance(cose.value, list) or len(cose.value) != 4:
        raise MalformedCompactQr("not a COSE_Sign1")
    protected_header, unprotected, payload, signature = cose.value
    if not isinstance(protected_header, bytes) or not isinstance(payload, bytes):
        raise MalformedCompactQr("not a COSE_Sign1")
    if not isinstance(signature, bytes) or not isinstance(unprotected, dict):
        raise MalformedCompactQr("not a COSE_Sign1")
    protected = _KNOWN_PROTECTED_HEADERS.get(protected_header)
    if protected is None:
        protected = _cbor_loads_exactly(protected_header) if protected_header else {}
    if not isinstance(protected, dict):
        raise MalformedCompactQr("the protected header is not a map")
    algorithm = protected.get(COSE_HEADER_ALG)
    if algorithm is not None and (isinstance(algorithm, bool) or not isinstance(algorithm, int)):
        raise MalformedCompactQr("the algorithm is not a number")
    if not unprotected.keys().isdisjoint(protected):
        raise MalformedCompactQr("a header parameter appears twice")
    kid = unprotected.get(COSE_HEADER_KID)
    if not isinstance(kid, bytes) or not kid:
        raise MalformedCompactQr("the key identifier is missing")
    if len(unprotected) != 1:  # the kid is there (checked above), so nothing else is
        # Unprotected parameters are not signed: allow only the one we write.
        raise MalformedCompactQr("unexpected unprotected header parameters")
    if COSE_HEADER_CRIT in protected:
        raise MalformedCompactQr("critical header parameters are not supported")

    claims = _cbor_loads_exactly(payload)
    if not isinstance(claims, dict):
        raise MalformedCompactQr("the claims are not a map")
    # CBOR tags can decode to dates, sets or bignums; we only ever sign JSON-like data,
    # and pages and APIs must be able to show whatever a valid QR holds.
    if not _CLAIM_NAME_TYPES.issuperset(map(type, claims)):
        raise MalformedCompactQr("the claims hold values other than plain data")
    for value in claims.values():
        if type(value) not in _PLAIN_SCALARS and not _is_plain_data(value):
            raise MalformedCompactQr("the claims hold values other than plain data")
    issuer = claims.get(CWT_ISS)
    document = claims.get(CWT_DOCUMENT)
    if not isinstance(issuer, str) or not isinstance(document, dict):
        raise MalformedCompactQr("the issuer or the document is missing")
    document_type = document.get(DOCUMENT_TYPE_KEY)
    document_claims = document.get(DOCUMENT_CLAIMS_KEY)
    status = document.get(DOCUMENT_STATUS_KEY)
    if not isinstance(document_type, str) or not isinstance(document_claims, dict):
        raise MalformedCompactQr("the document type or claims are missing")
    # Every claim name is text: the plain-data check above refused any other map key.
    if not isinstance(status, dict):
        raise MalformedCompactQr("the status reference is missing")
    status_index = status.get("idx")
    status_uri = status.get("uri")
    if isinstance(status_index, bool) or not isinstance(status_index, int) or status_index < 0:
        raise MalformedCompactQr("the status index is not a non-negative integer")
    if not isinstance(status_uri, str):
        raise MalformedCompactQr("the status list address is missing")
    return CompactQrContents(
        kid=kid,
        algorithm=algorithm,
        protected_header=protected_header,
        payload=payload,
        signature=signature,
        issuer=issuer,
        document_type=document_type,
        claims=document_claims,
        status_uri=status_uri,
        status_index=status_index,
        issued_at=_fromnumeric_date(claims.get(CWT_IAT)),
        expires_at=_fromnumeric_date(claims.get(CWT_EXP)),
        not_before=_fromnumeric_date(claims.get(CWT_NBF)),
    )


def verify_compact_qr_signature(contents: CompactQrContents, public_key: VerifyingKey) -> bool:
    """True when the QR is signed with ES256 by ``public_key``."""
    return contents.algorithm == COSE_ALG_ES256 and verify_es256(
        public_key, contents.signed_bytes, contents.signature
    )


def _qr_code(text: str) -> segno.QRCode:
    # Base45 is exactly QR's alphanumeric alphabet: segno picks that dense mode itself.
    return segno.make_qr(text, error=QR_ERROR_CORRECTION, boost_error=True)


def qr_version(text: str) -> int:
    """The QR version (1-40) the text needs; lower is easier to scan."""
    version = _qr_code(text).version
    if not isinstance(version, int):  # pragma: no cover - make_qr never gives a Micro QR
        raise ValueError("not a QR code")
    return version


def qr_png(text: str, *, scale: int = 6) -> bytes:
    """A PNG of the QR code, dark on white with the standard quiet zone."""
    buffer = io.BytesIO()
    _qr_code(text).save(buffer, kind="png", scale=scale, border=4, dark="#000", light="#fff")
    return buffer.getvalue()


def qr_svg(text: str, *, scale: int = 4) -> str:
    """An SVG of the QR code (no XML declaration, so it can be inlined in a page)."""
    buffer = io.BytesIO()
    _qr_code(text).save(
        buffer,
        kind="svg",
        scale=scale,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=False,
        svgns=True,
        title="QR code",
    )
    return buffer.getvalue().decode("utf-8")
