"""Digests of secrets kept at rest: the platform stores a token's hash, never the token."""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """The stored form of a random bearer secret (session, challenge, share link, API token).

    A plain SHA-256 suffices: the secrets are 256-bit random values, not passwords.
    """
    return hashlib.sha256(token.encode()).hexdigest()
