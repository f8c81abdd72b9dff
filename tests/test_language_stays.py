"""Urdu that stays Urdu: the language a citizen signs up or in with becomes the account's."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from darwaza.catalogue import load_catalogue
from darwaza.settings import Settings
from tests.journeys import approved_degree, post_form, sign_up


def test_signing_up_from_an_urdu_phone_keeps_urdu_after_the_cookie_is_gone(
    make_client: Callable[[], TestClient], settings: Settings
) -> None:
    client = make_client()
    client.headers["Accept-Language"] = "ur-PK,ur;q=0.9"
    sign_up(client, settings, cnic="35202-7777111-3", full_name="ثنا", mobile="0321 7777111")
    # The phone now says English, but the account remembers Urdu.
    client.headers["Accept-Language"] = "en-GB"
    page = client.get("/applications")
    assert 'lang="ur"' in page.text


def test_the_header_switch_changes_the_page_and_the_account(
    make_client: Callable[[], TestClient], settings: Settings
) -> None:
    client = make_client()
    sign_up(client, settings, cnic="35202-7777222-3", full_name="Sana", mobile="0321 7777222")
    assert 'lang="en"' in client.get("/applications").text
    post_form(
        client, "/language", {"language": "ur", "next": "/applications"}, page="/applications"
    )
    client.cookies.delete("dz_lang")  # another device: only the account remembers
    assert 'lang="ur"' in client.get("/applications").text


def test_an_urdu_reader_sees_the_university_in_urdu_on_the_document(
    make_client: Callable[[], TestClient], settings: Settings, db: Session
) -> None:
    citizen, _officer, document = approved_degree(
        make_client, settings, db, "35202-7777333-3", "0321 7777333"
    )
    english = document.claims["university"]
    urdu = load_catalogue(settings.catalogue_dir).answer_labels()[english]["ur"]
    citizen.cookies.set("dz_lang", "ur")
    page = citizen.get(f"/wallet/{document.id}").text
    assert urdu in page and english not in page
