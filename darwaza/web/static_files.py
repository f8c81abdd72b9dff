"""Static files under content-hashed names, cached by browsers for a year.

``static_url("css/darwaza.css")`` answers ``/static/css/darwaza.3f2a9c1b7e40.css``: the name
carries the first 12 hex digits of the file's SHA-256, so a changed file gets a new URL and
an old URL may be kept forever (``Cache-Control: immutable``). The file on disk keeps its
plain name; the hash is taken off when the request is served. A hashed URL whose hash is not
the file's current one is answered 404, never with other content under an immutable header.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
HASH_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
# Files without a hash in their URL may change at any moment: browsers check again.
REVALIDATE = "public, max-age=0, must-revalidate"
_HASHED = re.compile(r"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{12})(?P<suffix>\.[A-Za-z0-9]+)$")


@lru_cache(maxsize=256)
def _digest(path: str, mtime_ns: int) -> str:
    """The short content hash of a file (cached per modification time)."""
    del mtime_ns  # part of the cache key only
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:HASH_LENGTH]


def file_digest(relative: str) -> str:
    """The short content hash of ``relative`` under the static folder."""
    path = STATIC_DIR / relative
    return _digest(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=512)
def static_url(relative: str) -> str:
    """The URL of a static file with its content hash in the name.

    Worked out once per file and process (every page names several): a changed file is
    served under its new name after a restart, which ``--reload`` does by itself.
    """
    folder, _, name = relative.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    hashed = f"{stem}.{file_digest(relative)}.{suffix}" if dot else name
    return f"/static/{folder}/{hashed}" if folder else f"/static/{hashed}"


class HashedStaticFiles(StaticFiles):
    """``StaticFiles`` that understands hashed names and says how long to keep each file."""

    def get_path(self, scope: Scope) -> str:
        path: str = super().get_path(scope)
        folder, name = os.path.split(path)
        match = _HASHED.match(name)
        if match is None:
            scope["darwaza.static_hashed"] = False
            return path
        plain = os.path.join(folder, match["stem"] + match["suffix"])
        if not (STATIC_DIR / plain).is_file():
            # A file whose own name carries a hash (made by a script, e.g. font subsets).
            scope["darwaza.static_hashed"] = (STATIC_DIR / path).is_file()
            return path
        if file_digest(plain.replace(os.sep, "/")) != match["digest"]:
            scope["darwaza.static_hashed"] = False
            return path  # no such file on disk: 404
        scope["darwaza.static_hashed"] = True
        return plain

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            hashed = scope.get("darwaza.static_hashed", False)
            response.headers["Cache-Control"] = IMMUTABLE if hashed else REVALIDATE
        return response

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("directory", STATIC_DIR)
        super().__init__(**kwargs)


# What the service worker keeps from the first visit: the look and the offline verifier.
OFFLINE_STATIC = ("css/darwaza.css", "js/darwaza.js", "js/verifier.js")


def service_worker_source() -> bytes:
    """``sw.js`` with the hashed names of the files it keeps, and a release named by them."""
    urls = [static_url(relative) for relative in OFFLINE_STATIC]
    release = hashlib.sha256(
        "".join(urls).encode() + (STATIC_DIR / "js" / "sw.js").read_bytes()
    ).hexdigest()[:HASH_LENGTH]
    source = (STATIC_DIR / "js" / "sw.js").read_text("utf-8")
    source = source.replace("__STATIC_URLS__", json.dumps(urls))
    return source.replace("__RELEASE__", json.dumps(release)).encode("utf-8")
