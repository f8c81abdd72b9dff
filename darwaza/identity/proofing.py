"""Proving that a person holds the CNIC they sign up with.

In Pakistan every SIM card is biometrically registered to a CNIC, so a mobile number
proves its holder's identity when the SIM registry says it belongs to that CNIC. An
account whose number is not registered to its CNIC still works, but holds nothing issued
to the CNIC until an officer checks the person in person.

`IdentityProofing` is the interface. `SimRegistryFile`, the default, reads a registry
kept in the data directory (``identity/sim-registry.json``: CNIC → mobile numbers), as
the demo and the tests do. In production an operator plugs in the SIM-ownership look-up
they contract with PTA or NADRA here, behind the same interface.
"""

from __future__ import annotations

import json
import os
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from darwaza.settings import Settings


class SimOwnership(StrEnum):
    """What the registry says of a number and a CNIC."""

    REGISTERED = "registered"  # the number's SIM is registered to the CNIC
    NOT_REGISTERED = "not_registered"
    UNKNOWN = "unknown"  # the registry could not answer


class IdentityProofing(Protocol):
    """Says whether a mobile number's SIM is registered to a CNIC."""

    def sim_ownership(self, *, cnic: str, mobile: str) -> SimOwnership: ...


class SimRegistryFile:
    """A registry of CNIC → mobile numbers (E.164) in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _entries(self) -> dict[str, list[str]]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(cnic): [str(m) for m in numbers] for cnic, numbers in loaded.items()}

    def sim_ownership(self, *, cnic: str, mobile: str) -> SimOwnership:
        """Registered when the file lists the number under the CNIC."""
        try:
            entries = self._entries()
        except (OSError, ValueError, AttributeError):
            return SimOwnership.UNKNOWN
        return (
            SimOwnership.REGISTERED
            if mobile in entries.get(cnic, [])
            else SimOwnership.NOT_REGISTERED
        )

    def register(self, *, cnic: str, mobile: str) -> None:
        """Add a number under a CNIC (demo and tests only: the real registry is not ours)."""
        entries = self._entries()
        numbers = entries.setdefault(cnic, [])
        if mobile not in numbers:
            numbers.append(mobile)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=self.path.parent, delete=False, encoding="utf-8"
        ) as temporary:
            json.dump(entries, temporary, indent=1, sort_keys=True)
        os.replace(temporary.name, self.path)


def demo_sim_registry(settings: Settings) -> Path:
    """Where the registry file of the demo and the tests lives, in the data directory."""
    return settings.data_dir / "identity" / "sim-registry.json"


def identity_proofing_for(settings: Settings) -> IdentityProofing:
    """The proofing the settings name (only the registry file ships with the platform)."""
    return SimRegistryFile(demo_sim_registry(settings))
