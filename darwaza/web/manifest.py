"""The web app manifest: what a phone needs to install Darwaza on its home screen."""

from __future__ import annotations

import json
from functools import lru_cache

from darwaza.web.static_files import static_url


@lru_cache(maxsize=1)
def web_manifest() -> bytes:
    """The manifest, with icon URLs that change when the icons do."""
    icons = [
        {"src": static_url("icons/darwaza.svg"), "sizes": "any", "type": "image/svg+xml"},
        {"src": static_url("icons/darwaza-192.png"), "sizes": "192x192", "type": "image/png"},
        {"src": static_url("icons/darwaza-512.png"), "sizes": "512x512", "type": "image/png"},
        {
            "src": static_url("icons/darwaza-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        },
    ]
    manifest = {
        "name": "Darwaza · دروازہ",
        "short_name": "Darwaza",
        "description": "One door to every public service.",
        "id": "/",
        "start_url": "/wallet",
        "scope": "/",
        "display": "standalone",
        "background_color": "#fafaf7",
        "theme_color": "#01411c",
        "lang": "en",
        "dir": "auto",
        "icons": icons,
        "shortcuts": [
            {"name": "My documents", "url": "/wallet"},
            {"name": "Check a document", "url": "/verify"},
        ],
    }
    return json.dumps(manifest, ensure_ascii=False, indent=1).encode()
