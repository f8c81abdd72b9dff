"""Peers measured in the same run as a benchmark, so its figures can be read on any host.

This machine's speed moves by a third from minute to minute; a figure beside a peer
taken in the same minute says more than the figure alone.
"""

from __future__ import annotations

import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def es256_signatures_per_second(seconds: float = 1.0) -> float:
    """Raw ES256 signatures per second on one core (``cryptography``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    algorithm = ec.ECDSA(hashes.SHA256())
    message = b"x" * 300
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(200):
            key.sign(message, algorithm)
        done += 200
    return done / elapsed
