"""Come back to where you were: signing in from a service opens its draft; Start reuses an
empty draft."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from darwaza.settings import Settings
from tests.journeys import csrf_of, latest_code, register_sim, sign_up, start_degree_application

DEGREE = "hec-degree-attestation"


def test_signing_up_from_a_service_page_opens_its_draft(
    make_client: Callable[[], TestClient], settings: Settings
) -> None:
    client = make_client()
    service_page = client.get(f"/services/{DEGREE}").text
    link = re.search(r'href="(/sign-up\?next=[^"]+)"', service_page)
    assert link, "the service page's sign-up link says where to come back"
    form = client.get(link[1].replace("&amp;", "&"))
    assert f'name="next" value="/services/{DEGREE}/apply"' in form.text
    register_sim(settings, cnic="35202-6666111-3", mobile="0321 6666111")
    answer = client.post(
        "/sign-up",
        data={
            "cnic": "35202-6666111-3",
            "full_name": "Sana",
            "mobile": "0321 6666111",
            "next": f"/services/{DEGREE}/apply",
            "csrf_token": csrf_of(form),
        },
        follow_redirects=False,
    )
    code_page = client.get(answer.headers["location"])
    assert f'value="/services/{DEGREE}/apply"' in code_page.text
    signed_in = client.post(
        "/sign-in/code",
        data={
            "code": latest_code(settings, "+923216666111"),
            "next": f"/services/{DEGREE}/apply",
            "csrf_token": csrf_of(code_page),
        },
        follow_redirects=True,
    )
    assert re.search(r"/applications/[0-9a-f-]{36}$", str(signed_in.url))
    assert "Submit application" in signed_in.text
    # Coming back the same way opens the same (still empty) draft.
    again = client.get(f"/services/{DEGREE}/apply", follow_redirects=True)
    assert again.url == signed_in.url


def test_start_reuses_an_open_empty_draft(
    make_client: Callable[[], TestClient], settings: Settings
) -> None:
    client = make_client()
    sign_up(client, settings, cnic="35202-6666222-3", full_name="Sana", mobile="0321 6666222")
    first = start_degree_application(client)
    assert start_degree_application(client) == first
    page = f"/applications/{first}"
    token = csrf_of(client.get(page))
    client.post(
        page,
        data={"action": "save", "full_name": "Sana", "csrf_token": token},
    )
    assert start_degree_application(client) != first  # that draft has answers now


def test_a_signed_out_visit_to_a_page_comes_back_after_signing_in(
    make_client: Callable[[], TestClient],
) -> None:
    client = make_client()
    answer = client.get("/wallet", follow_redirects=False)
    assert answer.headers["location"] == "/sign-in?next=%2Fwallet"
