"""The trust bundle: every trusted issuer and its keys, signed by the platform's root key.

An offline verifier syncs this one file (plus the status lists) while it has a signal
and then checks documents with no network at all. The bundle is a compact JWS::

    header  {"alg": "ES256", "typ": "darwaza-trust-bundle+jwt", "kid": <root kid>}
    payload {"iss": <platform URL>, "iat", "exp", "root_jwk": {...},
             "issuers": [{"issuer", "name_en", "name_ur", "jwks": {"keys": [...]},
                          "status_list_uris": [...], "status_list_prefix": "..."}]}

A verifier pins the root key itself, by its RFC 7638 thumbprint, learnt through a
channel other than the bundle (see docs/verification.md). The payload carries the root
public JWK only so that the pinned thumbprint can be matched against it: a bundle is
accepted when that JWK hashes to the pinned thumbprint (compared in constant time) and
the signature verifies with that key. The ``kid`` in the header, or anything else a
bundle says about its own root, decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from darwaza.clock import numeric_date
from darwaza.crypto.jws import ES256, MalformedJws, parse_compact_jws, sign_compact_jws
from darwaza.crypto.keys import (
    KeyMaterialError,
    SigningKey,
    VerifyingKey,
    is_thumbprint,
    kid_for_public_key,
    public_jwk,
    public_key_from_jwk,
    thumbprints_match,
)
from darwaza.i18n import N_
from darwaza.verification.verdicts import IssuerInfo

TRUST_BUNDLE_TYP: Final = "darwaza-trust-bundle+jwt"
CLOCK_SKEW: Final = timedelta(seconds=60)


class TrustBundleError(ValueError):
    """A trust bundle is refused; ``reason`` is a translatable sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TrustedIssuer:
    """One issuer in the bundle: its names, public keys and the status lists it publishes.

    Retired keys stay in ``jwks`` while documents they signed are still in use.
    """

    issuer: str
    name_en: str
    name_ur: str
    jwks: Mapping[str, Any]
    status_list_uris: tuple[str, ...] = ()
    status_list_prefix: str | None = None
    _keys: dict[str, VerifyingKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys: dict[str, VerifyingKey] = {}
        entries = self.jwks.get("keys") if isinstance(self.jwks, Mapping) else None
        if not isinstance(entries, list):
            raise TrustBundleError(N_("An issuer in the trust bundle has no key set."))
        for entry in entries:
            kid = entry.get("kid") if isinstance(entry, Mapping) else None
            if not isinstance(kid, str) or not kid or kid in keys:
                raise TrustBundleError(N_("An issuer key in the trust bundle has no unique kid."))
            try:
                keys[kid] = public_key_from_jwk(entry)
            except KeyMaterialError:
                raise TrustBundleError(
                    N_("An issuer key in the trust bundle is not usable.")
                ) from None
        if self.status_list_prefix is not None and not self.status_list_prefix.endswith("/"):
            # Without the slash ".../hec" would also claim ".../hec-fake/1".
            raise TrustBundleError(N_("A status list prefix in the trust bundle must end in '/'."))
        object.__setattr__(self, "_keys", keys)

    @property
    def info(self) -> IssuerInfo:
        """The issuer as a verification result names it."""
        return IssuerInfo(issuer=self.issuer, name_en=self.name_en, name_ur=self.name_ur)

    def key_for(self, kid: str) -> VerifyingKey | None:
        """The issuer's public key named ``kid``, if it has one."""
        return self._keys.get(kid)

    def publishes_status_list(self, uri: str) -> bool:
        """True when the list at ``uri`` belongs to this issuer (and must carry its signature)."""
        if uri in self.status_list_uris:
            return True
        return self.status_list_prefix is not None and uri.startswith(self.status_list_prefix)

    def to_json(self) -> dict[str, Any]:
        """The issuer as written in the bundle payload."""
        entry: dict[str, Any] = {
            "issuer": self.issuer,
            "name_en": self.name_en,
            "name_ur": self.name_ur,
            "jwks": {"keys": list(self.jwks["keys"])},
        }
        if self.status_list_uris:
            entry["status_list_uris"] = list(self.status_list_uris)
        if self.status_list_prefix is not None:
            entry["status_list_prefix"] = self.status_list_prefix
        return entry

    @classmethod
    def from_json(cls, entry: object) -> TrustedIssuer:
        """Read one issuer from a bundle payload; raises :class:`TrustBundleError`."""
        if not isinstance(entry, dict):
            raise TrustBundleError(N_("An issuer in the trust bundle cannot be read."))
        texts = [entry.get(name) for name in ("issuer", "name_en", "name_ur")]
        uris = entry.get("status_list_uris", [])
        prefix = entry.get("status_list_prefix")
        if not all(isinstance(text, str) and text for text in texts):
            raise TrustBundleError(N_("An issuer in the trust bundle cannot be read."))
        if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
            raise TrustBundleError(N_("An issuer in the trust bundle cannot be read."))
        if prefix is not None and not isinstance(prefix, str):
            raise TrustBundleError(N_("An issuer in the trust bundle cannot be read."))
        jwks = entry.get("jwks")
        if not isinstance(jwks, dict):
            raise TrustBundleError(N_("An issuer in the trust bundle has no key set."))
        return cls(
            issuer=str(texts[0]),
            name_en=str(texts[1]),
            name_ur=str(texts[2]),
            jwks=jwks,
            status_list_uris=tuple(uris),
            status_list_prefix=prefix,
        )


@dataclass(frozen=True)
class TrustBundle:
    """A verified trust bundle."""

    platform: str
    issued_at: datetime
    expires_at: datetime
    root_jwk: dict[str, Any]
    issuers: tuple[TrustedIssuer, ...]

    def issuer(self, issuer: str) -> TrustedIssuer | None:
        """The trusted issuer with this URL, if any."""
        return next((entry for entry in self.issuers if entry.issuer == issuer), None)

    def issuer_for_status_list(self, uri: str) -> TrustedIssuer | None:
        """The issuer that publishes the status list at ``uri``, if any."""
        return next((entry for entry in self.issuers if entry.publishes_status_list(uri)), None)


def sign_trust_bundle(
    *,
    root_private_key: SigningKey,
    platform_url: str,
    issuers: Sequence[TrustedIssuer],
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """Sign the list of trusted issuers with the platform's root key."""
    if expires_at <= issued_at:
        raise ValueError("a trust bundle must expire after it is issued")
    urls = [entry.issuer for entry in issuers]
    if len(set(urls)) != len(urls):
        raise ValueError("an issuer appears twice in the trust bundle")
    root_public_key = root_private_key.public_key()
    kid = kid_for_public_key(root_public_key)
    payload = {
        "iss": platform_url,
        "iat": numeric_date(issued_at),
        "exp": numeric_date(expires_at),
        "root_jwk": public_jwk(root_public_key, kid),
        "issuers": [entry.to_json() for entry in issuers],
    }
    header = {"alg": ES256, "typ": TRUST_BUNDLE_TYP, "kid": kid}
    # Deterministic: the same bundle signed in any process is the same bytes (one ETag).
    return sign_compact_jws(header, payload, root_private_key, deterministic=True)


def unverified_root_jwk(token: str) -> dict[str, Any]:
    """The root JWK a bundle says it is signed with. Not a verification: trust nothing here.

    :func:`verify_pinned_trust_bundle` uses it only to match the pinned thumbprint.
    """
    try:
        root_jwk = parse_compact_jws(token).payload.get("root_jwk")
    except MalformedJws:
        raise TrustBundleError(N_("The trust bundle cannot be read.")) from None
    if not isinstance(root_jwk, dict):
        raise TrustBundleError(N_("The trust bundle does not carry its root key."))
    return root_jwk


def _same_key(jwk: Mapping[str, Any], public_key: VerifyingKey) -> bool:
    try:
        return public_key_from_jwk(jwk).public_numbers() == public_key.public_numbers()
    except KeyMaterialError:
        return False


def _time(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TrustBundleError(N_("The trust bundle has no valid time."))
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise TrustBundleError(N_("The trust bundle has no valid time.")) from None


def verify_trust_bundle(
    token: str, root_key: VerifyingKey | Mapping[str, Any], now: datetime
) -> TrustBundle:
    """Verify a bundle against the pinned root key and return it; raises :class:`TrustBundleError`.

    ``root_key`` is the pinned public key, or its JWK.
    """
    if isinstance(root_key, Mapping):
        try:
            root_key = public_key_from_jwk(root_key)
        except KeyMaterialError:
            raise TrustBundleError(N_("The pinned root key is not usable.")) from None
    try:
        jws = parse_compact_jws(token)
    except MalformedJws:
        raise TrustBundleError(N_("The trust bundle cannot be read.")) from None
    if jws.header.get("typ") != TRUST_BUNDLE_TYP:
        raise TrustBundleError(N_("This is not a trust bundle."))
    if jws.algorithm != ES256:
        raise TrustBundleError(N_("The trust bundle is not signed with ES256."))
    if not jws.signature_valid(root_key):
        raise TrustBundleError(N_("The trust bundle is not signed by the pinned root key."))
    payload = jws.payload
    carried = payload.get("root_jwk")
    if not isinstance(carried, dict) or not _same_key(carried, root_key):
        raise TrustBundleError(N_("The trust bundle names a root key other than the pinned one."))
    issued_at = _time(payload.get("iat"))
    expires_at = _time(payload.get("exp"))
    if issued_at > now + CLOCK_SKEW:
        raise TrustBundleError(N_("The trust bundle is dated in the future."))
    if now >= expires_at:
        raise TrustBundleError(N_("The trust bundle has expired; sync a fresh one."))
    platform = payload.get("iss")
    entries = payload.get("issuers")
    if not isinstance(platform, str) or not isinstance(entries, list):
        raise TrustBundleError(N_("The trust bundle cannot be read."))
    issuers = tuple(TrustedIssuer.from_json(entry) for entry in entries)
    if len({entry.issuer for entry in issuers}) != len(issuers):
        raise TrustBundleError(N_("An issuer appears twice in the trust bundle."))
    return TrustBundle(
        platform=platform,
        issued_at=issued_at,
        expires_at=expires_at,
        root_jwk=carried,
        issuers=issuers,
    )


def verify_pinned_trust_bundle(token: str, root_thumbprint: str, now: datetime) -> TrustBundle:
    """Verify a bundle against the root key pinned by its thumbprint (see the module docstring).

    The key the bundle carries is used only when its RFC 7638 thumbprint is the pinned one,
    so a bundle signed by any other key, whatever ``kid`` or thumbprint it writes about
    itself, is refused.
    """
    if not is_thumbprint(root_thumbprint):
        raise TrustBundleError(N_("The pinned root key thumbprint is not well formed."))
    carried = unverified_root_jwk(token)
    if not thumbprints_match(carried, root_thumbprint):
        raise TrustBundleError(N_("The trust bundle is not signed by the pinned root key."))
    return verify_trust_bundle(token, carried, now)
