"""The public pages are rendered once and kept for visitors who are not signed in: each
visitor still gets their own CSRF token, a signed-in citizen their own page, and each
language its own."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from darwaza.settings import Settings
from darwaza.verification import publishing
from darwaza.verification import views as verification_views
from darwaza.web import templating
from tests.journeys import csrf_of, sign_up

PUBLIC_PAGES = (
    "/",
    "/services",
    "/services?agency=hec",
    "/services/hec-degree-attestation",
    "/verify",
    "/verify/offline",
)


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_two_visitors_see_one_page_each_with_a_token_of_their_own(
    make_client: Callable[[], TestClient], path: str
) -> None:
    first, second = make_client(), make_client()
    first_page, second_page = first.get(path), second.get(path)
    assert first_page.status_code == second_page.status_code == 200
    first_token, second_token = csrf_of(first_page), csrf_of(second_page)
    assert first_token != second_token
    assert first_page.text.replace(first_token, "") == second_page.text.replace(second_token, "")
    # Each token is the one its visitor's cookie earns: it switches their language...
    assert _to_urdu(first, first_token).status_code == 303
    assert 'lang="ur"' in first.get(path).text
    # ... and is refused from anyone else.
    assert _to_urdu(second, first_token).status_code == 403
    assert 'lang="en"' in second.get(path).text


def _to_urdu(client: TestClient, token: str) -> Response:
    return client.post(
        "/language",
        data={"csrf_token": token, "language": "ur", "next": "/services"},
        follow_redirects=False,
    )


def test_a_signed_in_citizen_gets_their_own_page_after_visitors_were_served(
    make_client: Callable[[], TestClient], settings: Settings
) -> None:
    visitor, citizen = make_client(), make_client()
    for path in PUBLIC_PAGES:
        assert "Sign in" in visitor.get(path).text
    signed_in = sign_up(
        citizen, settings, cnic="3520288888881", full_name="Zara Qureshi", mobile="03001234599"
    )
    assert signed_in.status_code == 303
    for path in PUBLIC_PAGES:
        page = citizen.get(path).text
        assert "My documents" in page and "Sign out" in page, path
        assert "Sign in" not in page, path
        # And the visitor's page did not become the citizen's.
        page = visitor.get(path).text
        assert "Sign in" in page and "My documents" not in page, path


def test_a_search_and_an_agency_are_pages_of_their_own(app_client: TestClient) -> None:
    everything = app_client.get("/services").text
    hec_only = app_client.get("/services?agency=hec").text
    searched = app_client.get("/services?q=passport").text
    assert hec_only != everything
    assert searched != everything
    assert "hec-degree-attestation" in hec_only
    assert "nadra-identity-card" not in hec_only.split("<main", 1)[1]


def test_a_public_page_is_rendered_once_for_many_visitors(
    make_client: Callable[[], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[str] = []
    render_page = templating._rendered

    def counted(request: Any, template: str, *args: Any, **kwargs: Any) -> str:
        rendered.append(template)
        return render_page(request, template, *args, **kwargs)

    monkeypatch.setattr(templating, "_rendered", counted)
    for _ in range(3):
        assert make_client().get("/services/hec-degree-attestation").status_code == 200
    assert rendered == ["catalogue/service.html"]
    # In Urdu it is another page, rendered once too.
    for _ in range(2):
        make_client().get("/services/hec-degree-attestation", headers={"Accept-Language": "ur"})
    assert rendered == ["catalogue/service.html"] * 2


def test_the_verify_page_reads_the_root_key_once_in_a_while(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str | None] = []
    read_thumbprint = publishing.published_root_thumbprint

    def counted(db: Any) -> str | None:
        reads.append(read_thumbprint(db))
        return reads[-1]

    monkeypatch.setattr(publishing, "published_root_thumbprint", counted)
    first = app_client.get("/verify")
    assert first.status_code == 200 and reads
    pinned = re.search(r'data-root-thumbprint="([\w-]{43})"', first.text)
    assert pinned is not None
    thumbprint = pinned.group(1)
    before = len(reads)
    for _ in range(3):
        assert thumbprint in app_client.get("/verify").text
    assert len(reads) == before
    # Once the time is up, the next page reads it again.
    monkeypatch.setattr(verification_views, "ROOT_THUMBPRINT_SECONDS", 0.0)
    assert thumbprint in app_client.get("/verify").text
    assert thumbprint in app_client.get("/verify").text
    assert len(reads) == before + 2
