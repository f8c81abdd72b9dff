"""Where attachment bytes are kept: files in the data directory, named by random keys."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class AttachmentStore:
    """A directory of files outside the web root; names never come from users."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, storage_key: str) -> Path:
        if not storage_key.isalnum():
            raise ValueError("storage keys are alphanumeric")
        return self.directory / storage_key[:2] / storage_key

    def put(self, content: bytes) -> str:
        """Store ``content`` durably and return its new key."""
        storage_key = secrets.token_hex(20)
        path = self._path(storage_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        with temporary.open("wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
        return storage_key

    def get(self, storage_key: str) -> bytes:
        """The bytes stored under ``storage_key``."""
        return self._path(storage_key).read_bytes()

    def delete(self, storage_key: str) -> None:
        """Forget the bytes (a missing file is not an error)."""
        self._path(storage_key).unlink(missing_ok=True)
