"""SD-JWT VC: issuance, presentation and strict unpacking (RFC 9901, draft-ietf-oauth-sd-jwt-vc).

An issued document is ``<issuer-signed JWT>~<disclosure>~...~``. Each selectively
disclosable claim travels as a disclosure ``[salt, name, value]`` whose SHA-256 digest
sits in the signed ``_sd`` array, mixed with decoy digests so the number of hidden
claims does not show. A holder presents a document by dropping the disclosures they do
not want to share; when the document names a holder key (``cnf``), the presentation
ends with a key-binding JWT (``kb+jwt``) that signs a hash of everything before it.

:func:`resolve_disclosed_claims` applies RFC 9901 section 7.1 and is stricter than the
reference implementation: a disclosure no digest refers to, a digest or disclosure used
twice, a reserved claim name, or a claim both plain and disclosed all refuse the token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from darwaza.clock import numeric_date
from darwaza.crypto.claims import RESERVED_CLAIM_NAMES, SD_JWT_MEMBERS
from darwaza.crypto.jws import (
    ES256,
    CompactJws,
    MalformedJws,
    compact_json,
    parse_compact_jws,
    sign_compact_jws,
    strict_json_loads,
)
from darwaza.crypto.keys import (
    SigningKey,
    b64url_decode,
    b64url_encode,
    kid_for_public_key,
    public_jwk,
    public_key_from_jwk,
)
from darwaza.i18n import N_

ISSUED_TYP: Final = "dc+sd-jwt"
ACCEPTED_TYPS: Final = frozenset({"dc+sd-jwt", "vc+sd-jwt"})
KB_JWT_TYP: Final = "kb+jwt"
SD_ALG: Final = "sha-256"
SEPARATOR: Final = "~"


MIN_DECOYS: Final = 2
MAX_DECOYS: Final = 5
SALT_BYTES: Final = 16  # 128 bits, as RFC 9901 recommends
DIGEST_BYTES: Final = 32  # SHA-256
_DECOY_CHOICES: Final = MAX_DECOYS - MIN_DECOYS + 1
if 256 % _DECOY_CHOICES:  # pragma: no cover - a guard on the constants above
    raise RuntimeError("a random byte must pick among the decoy counts without bias")
MAX_DISCLOSURES: Final = 1000
MAX_NESTING: Final = 32
_TEXT: Final = frozenset({str})
_PLAIN_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


class MalformedSdJwt(ValueError):
    """The SD-JWT cannot be read or breaks a rule of RFC 9901.

    ``reason`` is an English sentence marked for translation, for the person verifying.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Disclosure(NamedTuple):
    """One disclosure: ``[salt, name, value]`` for a claim, ``[salt, value]`` for an array item.

    Named tuples, not frozen dataclasses, here and for the parsed token: as immutable,
    and made in a fraction of the time on the path every verification takes.
    """

    encoded: str
    salt: str
    name: str | None
    value: Any

    @property
    def digest(self) -> str:
        """The digest that refers to this disclosure from the signed payload."""
        return disclosure_digest(self.encoded)


class ParsedSdJwt(NamedTuple):
    """An SD-JWT split into its parts; nothing has been verified."""

    issuer_jwt_text: str
    issuer_jwt: CompactJws
    disclosures: tuple[Disclosure, ...]
    key_binding_jwt_text: str | None
    key_binding_jwt: CompactJws | None

    @property
    def header(self) -> dict[str, Any]:
        """The header of the issuer-signed JWT."""
        return self.issuer_jwt.header

    @property
    def payload(self) -> dict[str, Any]:
        """The payload of the issuer-signed JWT (digests, not disclosed values)."""
        return self.issuer_jwt.payload

    @property
    def text_without_key_binding(self) -> str:
        """``<jwt>~<disclosures>~``: what the key-binding JWT's ``sd_hash`` covers."""
        return SEPARATOR.join([self.issuer_jwt_text, *(d.encoded for d in self.disclosures), ""])


def _sha256_b64url(text: str) -> str:
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def disclosure_digest(encoded_disclosure: str) -> str:
    """SHA-256 over the base64url text of a disclosure, base64url encoded (``_sd_alg`` sha-256)."""
    return _sha256_b64url(encoded_disclosure)


def presentation_hash(text_without_key_binding: str) -> str:
    """The ``sd_hash`` of a presentation: SHA-256 of everything up to the last ``~``."""
    return _sha256_b64url(text_without_key_binding)


def _make_disclosure(name: str, value: Any, random: bytes) -> Disclosure:
    salt = b64url_encode(random)
    encoded = b64url_encode(compact_json([salt, name, value]))
    return Disclosure(encoded=encoded, salt=salt, name=name, value=value)


def _decoy_digest(random: bytes) -> str:
    # A digest of random bytes is itself 32 random bytes: hashing would add nothing.
    return b64url_encode(random)


def issue_sd_jwt(
    *,
    private_key: SigningKey,
    kid: str,
    issuer: str,
    vct: str,
    claims: Mapping[str, Any],
    disclosable: Iterable[str],
    status_uri: str,
    status_index: int,
    issued_at: datetime,
    expires_at: datetime | None,
    not_before: datetime | None = None,
    holder_jwk: Mapping[str, Any] | None = None,
) -> str:
    """Issue an SD-JWT VC: ``<jws>~<disclosure>~...~``.

    Every claim named in ``disclosable`` becomes a disclosure; the others are signed in
    plain view. ``holder_jwk`` binds the document to the holder's public key (``cnf``),
    after which every presentation needs a key-binding JWT.
    """
    hidden = set(disclosable)
    unknown = hidden - set(claims)
    if unknown:
        raise ValueError(f"disclosable claims missing from the document: {sorted(unknown)}")
    shadowing = RESERVED_CLAIM_NAMES & set(claims)
    if shadowing:
        raise ValueError(f"claim names reserved for the credential itself: {sorted(shadowing)}")
    if isinstance(status_index, bool) or not isinstance(status_index, int) or status_index < 0:
        raise ValueError("the status index must be a non-negative integer")

    payload: dict[str, Any] = {"iss": issuer, "iat": numeric_date(issued_at)}
    if not_before is not None:
        payload["nbf"] = numeric_date(not_before)
    if expires_at is not None:
        payload["exp"] = numeric_date(expires_at)
    payload["vct"] = vct
    payload["status"] = {"status_list": {"idx": status_index, "uri": status_uri}}
    if holder_jwk is not None:
        # Parsing first refuses a private or malformed key before it is signed into the document.
        holder_key = public_key_from_jwk(holder_jwk)
        payload["cnf"] = {"jwk": public_jwk(holder_key, kid_for_public_key(holder_key))}

    # One read of the system's randomness for every salt and decoy, not one each, and
    # its last byte for the number of decoys: 256 is a multiple of the choices, so each
    # number is as likely as the others.
    random = secrets.token_bytes(SALT_BYTES * len(hidden) + DIGEST_BYTES * MAX_DECOYS + 1)
    decoys = MIN_DECOYS + random[-1] % _DECOY_CHOICES
    disclosures: list[Disclosure] = []
    for name, value in claims.items():
        if name in hidden:
            offset = SALT_BYTES * len(disclosures)
            disclosures.append(_make_disclosure(name, value, random[offset : offset + SALT_BYTES]))
        else:
            payload[name] = value
    digests = [d.digest for d in disclosures]
    start = SALT_BYTES * len(hidden)
    digests.extend(
        _decoy_digest(random[start + DIGEST_BYTES * i : start + DIGEST_BYTES * (i + 1)])
        for i in range(decoys)
    )
    # Sorted digests hide which positions are decoys and in what order claims were given.
    payload["_sd"] = sorted(digests)
    payload["_sd_alg"] = SD_ALG

    header = {"alg": ES256, "typ": ISSUED_TYP, "kid": kid}
    jws = sign_compact_jws(header, payload, private_key)
    return SEPARATOR.join([jws, *(d.encoded for d in disclosures), ""])


def present_sd_jwt(
    issued: str,
    disclose: Iterable[str],
    *,
    holder_private_key: SigningKey | None = None,
    nonce: str | None = None,
    audience: str | None = None,
    now: datetime | None = None,
) -> str:
    """Make a presentation that reveals only the claims named in ``disclose``.

    Plain (non-selective) claims are always visible and may be named too. With a holder
    key, a key-binding JWT over ``nonce`` and ``audience`` is appended; a document bound
    to a holder key (``cnf``) cannot be presented without it.
    """
    parsed = parse_sd_jwt(issued)
    if parsed.key_binding_jwt_text is not None:
        raise ValueError("present an issued SD-JWT, not a presentation that is already bound")
    wanted = set(disclose)
    available = {d.name for d in parsed.disclosures if d.name is not None}
    plain = set(parsed.payload) - RESERVED_CLAIM_NAMES
    missing = wanted - available - plain
    if missing:
        raise ValueError(f"claims not in this document: {sorted(missing)}")
    kept = [d.encoded for d in parsed.disclosures if d.name in wanted]
    presentation = SEPARATOR.join([parsed.issuer_jwt_text, *kept, ""])

    confirmation = parsed.payload.get("cnf")
    if holder_private_key is None:
        if confirmation is not None:
            raise ValueError("this document is bound to a holder key: sign the presentation")
        return presentation
    if not isinstance(confirmation, dict) or "jwk" not in confirmation:
        raise ValueError("this document names no holder key to bind the presentation to")
    bound_key = public_key_from_jwk(confirmation["jwk"])
    if bound_key.public_numbers() != holder_private_key.public_key().public_numbers():
        raise ValueError("the holder key is not the one this document is bound to")
    if not nonce or not audience:
        raise ValueError("a key-binding JWT needs a nonce and an audience")
    moment = now if now is not None else datetime.now(UTC)
    key_binding = sign_compact_jws(
        {"alg": ES256, "typ": KB_JWT_TYP},
        {
            "iat": numeric_date(moment),
            "aud": audience,
            "nonce": nonce,
            "sd_hash": presentation_hash(presentation),
        },
        holder_private_key,
    )
    return presentation + key_binding


def parse_disclosure(encoded: str) -> Disclosure:
    """Decode one disclosure; raises :class:`MalformedSdJwt`."""
    try:
        value = strict_json_loads(b64url_decode(encoded))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedSdJwt(N_("A disclosure cannot be read.")) from None
    if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[0], str):
        raise MalformedSdJwt(N_("A disclosure cannot be read."))
    if len(value) == 2:
        return Disclosure(encoded=encoded, salt=value[0], name=None, value=value[1])
    if not isinstance(value[1], str):
        raise MalformedSdJwt(N_("A disclosure cannot be read."))
    return Disclosure(encoded=encoded, salt=value[0], name=value[1], value=value[2])


def parse_sd_jwt(text: str) -> ParsedSdJwt:
    """Split an SD-JWT (issued or presented) into header, payload, disclosures and KB-JWT.

    Nothing is verified: this is for showing what a token says, and the first step of
    verification. Raises :class:`MalformedSdJwt` when the text is not an SD-JWT at all.
    """
    if not isinstance(text, str) or SEPARATOR not in text:
        raise MalformedSdJwt(N_("This is not an SD-JWT document."))
    issuer_jwt_text, *encoded_disclosures, last = text.split(SEPARATOR)
    if len(encoded_disclosures) > MAX_DISCLOSURES:
        raise MalformedSdJwt(N_("The document has too many disclosures."))
    try:
        issuer_jwt = parse_compact_jws(issuer_jwt_text)
    except MalformedJws:
        raise MalformedSdJwt(N_("The signed part of the document cannot be read.")) from None
    disclosures = tuple(parse_disclosure(encoded) for encoded in encoded_disclosures)
    key_binding_jwt = None
    key_binding_jwt_text = None
    if last:
        try:
            key_binding_jwt = parse_compact_jws(last)
        except MalformedJws:
            raise MalformedSdJwt(N_("The holder's proof cannot be read.")) from None
        key_binding_jwt_text = last
    return ParsedSdJwt(
        issuer_jwt_text=issuer_jwt_text,
        issuer_jwt=issuer_jwt,
        disclosures=disclosures,
        key_binding_jwt_text=key_binding_jwt_text,
        key_binding_jwt=key_binding_jwt,
    )


class _Unpacker:
    """Replaces digests by disclosed values, enforcing every rule of RFC 9901 section 7.1."""

    def __init__(self, disclosures: Iterable[Disclosure]) -> None:
        self.by_digest: dict[str, Disclosure] = {}
        for disclosure in disclosures:
            digest = disclosure.digest
            if digest in self.by_digest:
                raise MalformedSdJwt(N_("The same disclosure is included twice."))
            self.by_digest[digest] = disclosure
        self.seen_digests: set[str] = set()
        self.used_digests: set[str] = set()

    def _claim(self, digest: object) -> Disclosure | None:
        if not isinstance(digest, str):
            raise MalformedSdJwt(N_("A digest in the document is not text."))
        if digest in self.seen_digests:
            raise MalformedSdJwt(N_("The same digest appears twice in the document."))
        self.seen_digests.add(digest)
        disclosure = self.by_digest.get(digest)
        if disclosure is not None:
            self.used_digests.add(digest)
        return disclosure

    def unpack(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_NESTING:
            raise MalformedSdJwt(N_("The document is nested too deeply."))
        if isinstance(value, dict):
            return self._unpack_object(value, depth)
        if isinstance(value, list):
            return self._unpack_array(value, depth)
        return value

    def _claim_all(self, digests: list[Any]) -> list[Disclosure]:
        """The disclosures ``digests`` refer to, in their order; decoys and claims the
        holder chose not to show are left out. Every check of :meth:`_claim`, by sets."""
        if not digests:
            return []
        if not _TEXT.issuperset(map(type, digests)):
            raise MalformedSdJwt(N_("A digest in the document is not text."))
        unique = set(digests)
        if len(unique) != len(digests) or not self.seen_digests.isdisjoint(unique):
            raise MalformedSdJwt(N_("The same digest appears twice in the document."))
        self.seen_digests |= unique
        disclosed = unique & self.by_digest.keys()
        self.used_digests |= disclosed
        return [self.by_digest[digest] for digest in digests if digest in disclosed]

    def _unpack_object(self, value: dict[str, Any], depth: int) -> dict[str, Any]:
        digests = value.get("_sd", [])
        if not isinstance(digests, list):
            raise MalformedSdJwt(N_("The list of digests in the document is malformed."))
        # A plain member (most are) is kept as it is, without a call, where its depth is
        # allowed; anything else is unpacked.
        plain = _PLAIN_SCALARS if depth < MAX_NESTING else frozenset()
        result = {
            name: member if type(member) in plain else self.unpack(member, depth + 1)
            for name, member in value.items()
            if name != "_sd" and not (depth == 0 and name == "_sd_alg")
        }
        reserved = RESERVED_CLAIM_NAMES if depth == 0 else SD_JWT_MEMBERS
        for disclosure in self._claim_all(digests):
            if disclosure.name is None:
                raise MalformedSdJwt(N_("A disclosure has the wrong shape for its place."))
            # At the top level every name the credential uses itself is refused (a disclosed
            # "exp" or "status" must never pose as the issuer's); deeper, SD-JWT's own.
            if disclosure.name in reserved:
                raise MalformedSdJwt(N_("A disclosure uses a reserved claim name."))
            if disclosure.name in result:
                raise MalformedSdJwt(N_("A claim appears both in plain view and as a disclosure."))
            result[disclosure.name] = self.unpack(disclosure.value, depth + 1)
        return result

    def _unpack_array(self, value: list[Any], depth: int) -> list[Any]:
        result = []
        for element in value:
            if isinstance(element, dict) and "..." in element:
                if len(element) != 1:
                    raise MalformedSdJwt(N_("An array digest in the document is malformed."))
                disclosure = self._claim(element["..."])
                if disclosure is None:
                    continue
                if disclosure.name is not None:
                    raise MalformedSdJwt(N_("A disclosure has the wrong shape for its place."))
                result.append(self.unpack(disclosure.value, depth + 1))
            else:
                result.append(self.unpack(element, depth + 1))
        return result


def resolve_disclosed_claims(
    payload: Mapping[str, Any], disclosures: Iterable[Disclosure]
) -> dict[str, Any]:
    """The payload with every presented disclosure put in place of its digest.

    Raises :class:`MalformedSdJwt` for a digest algorithm other than sha-256, a
    duplicate digest or disclosure, a disclosure no digest refers to, a reserved claim
    name, or a claim that is both plain and disclosed.
    """
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        raise MalformedSdJwt(N_("The document uses a digest algorithm other than SHA-256."))
    unpacker = _Unpacker(disclosures)
    resolved = unpacker.unpack(dict(payload))
    if set(unpacker.by_digest) - unpacker.used_digests:
        raise MalformedSdJwt(N_("A disclosure is not referred to by the signed document."))
    if not isinstance(resolved, dict):  # pragma: no cover - a dict always unpacks to a dict
        raise MalformedSdJwt(N_("The signed part of the document cannot be read."))
    return resolved
