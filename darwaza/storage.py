"""Files the platform keeps (attachments, registers, printed documents): one interface, any store.

By default a directory in the data directory; in production any S3-compatible object
store, so that any number of app processes on any number of machines share them. The
stores themselves come from `obstore` (local, memory, S3, GCS, Azure behind one API).

``DARWAZA_STORAGE_URL`` names the store: empty for ``<data dir>/files``, ``file:///path``,
``memory:///`` (tests), or ``s3://bucket`` with ``DARWAZA_STORAGE_ENDPOINT`` (for a store
other than AWS), ``DARWAZA_STORAGE_REGION``, ``DARWAZA_STORAGE_ACCESS_KEY_ID`` and
``DARWAZA_STORAGE_SECRET_ACCESS_KEY``.
"""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import obstore
from obstore.exceptions import NotFoundError
from obstore.store import LocalStore, S3Store, from_url

from darwaza.settings import Settings

if TYPE_CHECKING:  # names the type stubs give, not the runtime module
    from obstore.store import ClientConfig, S3Config

_KEY: Final = re.compile(r"[a-z0-9-]+/[A-Za-z0-9]+")


class StoredFileMissing(LookupError):
    """No file is kept under that key."""


class FileStore(Protocol):
    """Where bytes are kept under keys the platform makes (never names users give)."""

    def put(self, prefix: str, content: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def put_file(self, key: str, path: Path) -> None: ...

    def get_file(self, key: str, path: Path) -> None: ...


class ObjectFileStore:
    """A :class:`FileStore` over any obstore store."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def put(self, prefix: str, content: bytes) -> str:
        """Keep ``content`` under a new random key in ``prefix``; returns the key."""
        key = f"{prefix}/{secrets.token_hex(20)}"
        _check(key)
        obstore.put(self.store, key, content)
        return key

    def get(self, key: str) -> bytes:
        """The bytes kept under ``key``; :class:`StoredFileMissing` if there are none."""
        _check(key)
        try:
            return bytes(obstore.get(self.store, key).bytes())
        except (NotFoundError, FileNotFoundError) as missing:
            raise StoredFileMissing(key) from missing

    def put_file(self, key: str, path: Path) -> None:
        """Keep the file at ``path`` under ``key``, streamed (in parts when it is large)."""
        _check(key)
        obstore.put(self.store, key, path)

    def get_file(self, key: str, path: Path) -> None:
        """Write what ``key`` holds to ``path``, streamed; `StoredFileMissing` if nothing."""
        _check(key)
        try:
            with path.open("wb") as out:
                for chunk in obstore.get(self.store, key).stream():
                    out.write(chunk)
        except (NotFoundError, FileNotFoundError) as missing:
            path.unlink(missing_ok=True)
            raise StoredFileMissing(key) from missing

    def delete(self, key: str) -> None:
        """Forget the bytes (a missing key is not an error)."""
        _check(key)
        with contextlib.suppress(NotFoundError, FileNotFoundError):
            obstore.delete(self.store, key)


def _check(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError("storage keys are made by the platform: prefix/alphanumerics")


def file_store_for(settings: Settings) -> FileStore:
    """The store the settings name (one per configuration and process)."""
    return _store(
        settings.storage_url,
        str(settings.data_dir.resolve() / "files"),
        settings.storage_endpoint,
        settings.storage_region,
        settings.storage_access_key_id,
        settings.storage_secret_access_key,
    )


@functools.cache
def _store(
    url: str, default_root: str, endpoint: str, region: str, key_id: str, secret: str
) -> FileStore:
    if not url:
        return ObjectFileStore(LocalStore(default_root, mkdir=True))
    if url.startswith("s3://"):
        options: S3Config = {
            "region": region or "us-east-1",
            "virtual_hosted_style_request": not endpoint,
        }
        if endpoint:
            options["endpoint"] = endpoint
        if key_id:
            options["access_key_id"] = key_id
            options["secret_access_key"] = secret
        client: ClientConfig = {"allow_http": endpoint.startswith("http://")}
        bucket = url.removeprefix("s3://").strip("/")
        return ObjectFileStore(S3Store(bucket, config=options, client_options=client))
    if url.startswith("file://"):
        return ObjectFileStore(LocalStore(url.removeprefix("file://"), mkdir=True))
    return ObjectFileStore(from_url(url))
