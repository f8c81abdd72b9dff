"""Pages travel light: gzipped text, hashed static files kept for a year, ETags, an icon."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from darwaza.web.static_files import static_url


def test_pages_and_static_text_are_gzipped(app_client: TestClient) -> None:
    page = app_client.get("/services", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"
    css = app_client.get(static_url("css/darwaza.css"), headers={"Accept-Encoding": "gzip"})
    assert css.headers["content-encoding"] == "gzip"


def test_static_files_have_hashed_names_cached_for_a_year(app_client: TestClient) -> None:
    home = app_client.get("/").text
    css_url = re.search(r'href="(/static/css/darwaza\.[0-9a-f]{12}\.css)"', home)
    assert css_url, "the stylesheet's name carries its hash"
    css = app_client.get(css_url[1])
    assert css.status_code == 200
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    # An old hash is not served under an immutable header.
    assert app_client.get("/static/css/darwaza.000000000000.css").status_code == 404
    # Fonts named by the subset script carry their hash too.
    font = re.search(r"fonts/(noto-nastaliq-urdu-400\.[0-9a-f]{12}\.woff2)", css.text)
    assert font
    answer = app_client.get("/static/fonts/" + font[1])
    assert answer.headers["cache-control"].endswith("immutable")
    # The plain name still works, and is checked again each time.
    assert "immutable" not in app_client.get("/static/css/darwaza.css").headers["cache-control"]


def test_pages_without_htmx_do_not_load_it(app_client: TestClient) -> None:
    for path in ("/", "/services", "/sign-in", "/sign-up", "/verify"):
        assert "htmx" not in app_client.get(path).text, path


def test_an_unchanged_page_answers_304(app_client: TestClient) -> None:
    first = app_client.get("/services/hec-degree-attestation")
    first = app_client.get("/services/hec-degree-attestation")  # the CSRF cookie is now set
    etag = first.headers["etag"]
    again = app_client.get("/services/hec-degree-attestation", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_favicon_manifest_and_icons(app_client: TestClient) -> None:
    assert app_client.get("/favicon.ico").status_code == 200
    manifest = app_client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    icons = json.loads(manifest.content)["icons"]
    assert any(icon["sizes"] == "512x512" for icon in icons)
    for icon in icons:
        assert app_client.get(icon["src"]).status_code == 200
