"""Claim names the credential formats use for themselves, which no document claim may take.

One list serves the catalogue (a document type may not name a claim so), the SD-JWT
issuer (a claim may not shadow them) and the verifier (they are not shown as claims,
and a disclosure may not carry them).
"""

from __future__ import annotations

from typing import Final

JWT_REGISTERED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})
"""RFC 7519's registered claims."""

SD_JWT_VC_CLAIMS: Final = frozenset({"vct", "vct#integrity", "status", "cnf"})
"""What SD-JWT VC and the status list draft add: the type, its integrity, status, holder key."""

SD_JWT_MEMBERS: Final = frozenset({"_sd", "...", "_sd_alg"})
"""The members SD-JWT itself writes into a payload."""

RESERVED_CLAIM_NAMES: Final = JWT_REGISTERED_CLAIMS | SD_JWT_VC_CLAIMS | SD_JWT_MEMBERS
"""Every name above: the credential's own, never a fact about the holder."""
