"""Checkpoints kept outside the database, where whoever can write the database cannot reach.

Every signed checkpoint is also appended to an append-only file in the data directory
(object storage in a deployment that has it) and published at
``/transparency/checkpoints``, so outside witnesses can keep their own copies. Deleting
checkpoints from the database, or rewriting the chain behind one, no longer goes unseen.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Protocol

from darwaza.settings import Settings


class CheckpointAnchor(Protocol):
    """Somewhere checkpoints are kept that the database cannot rewrite."""

    def append(self, signed_checkpoint: str) -> None: ...

    def signed_checkpoints(self) -> list[str]: ...


class FileAnchor:
    """One signed checkpoint per line, appended and flushed to disk, never rewritten."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, signed_checkpoint: str) -> None:
        """Add a checkpoint; a lock keeps lines whole when several processes sign."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as anchor:
            fcntl.flock(anchor, fcntl.LOCK_EX)
            try:
                anchor.write(json.dumps({"checkpoint": signed_checkpoint}) + "\n")
                anchor.flush()
                os.fsync(anchor.fileno())
            finally:
                fcntl.flock(anchor, fcntl.LOCK_UN)

    def signed_checkpoints(self) -> list[str]:
        """Every checkpoint anchored so far, oldest first."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [str(json.loads(line)["checkpoint"]) for line in lines if line.strip()]


def checkpoint_anchor_for(settings: Settings) -> CheckpointAnchor:
    """Where this platform anchors its checkpoints."""
    return FileAnchor(settings.data_dir / "audit" / "checkpoints.jsonl")
