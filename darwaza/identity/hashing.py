"""Keyed hashes: enough to count and compare people and addresses, not to identify them."""

from __future__ import annotations

import hashlib
import hmac

from darwaza.settings import Settings


def keyed_hash(settings: Settings, *parts: str) -> str:
    """An HMAC-SHA256 under the platform's secret of the parts, joined unambiguously."""
    return hmac.new(
        settings.secret_key.encode(), "\x1f".join(parts).encode(), hashlib.sha256
    ).hexdigest()


def client_hash(settings: Settings, address: str) -> str:
    """A keyed hash of a network address: enough to count, not to identify."""
    return keyed_hash(settings, "client", address or "unknown")
