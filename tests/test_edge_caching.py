"""Status lists and the trust bundle can be kept by a CDN or a phone: ETag, TTL and 304."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.catalogue import load_catalogue
from darwaza.documents.service import change_document_status
from darwaza.settings import Settings
from tests.factories import create_document

DEGREE_CLAIMS = {
    "full_name": "Sana Mir",
    "degree_title": "BSc",
    "university": "NUST",
    "programme": "Civil Engineering",
    "year_of_completion": 2021,
}


def test_a_status_list_answers_304_until_a_status_changes(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    document = create_document(
        db,
        settings,
        holder_cnic="3520255555551",
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )
    path = f"/status-lists/{document.status_list_id}"
    first = app_client.get(path)
    assert first.status_code == 200
    tag = first.headers["etag"]
    assert tag.startswith('"') and tag.endswith('"')  # strong, not W/
    assert first.headers["cache-control"] == "public, max-age=300"

    # Signed once per list version and hour, deterministically: the same bytes each time.
    assert app_client.get(path).text == first.text
    again = app_client.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    assert app_client.get(path, headers={"If-None-Match": f'"other", W/{tag}'}).status_code == 304
    assert app_client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200

    change_document_status(
        db,
        settings=settings,
        catalogue=load_catalogue(settings.catalogue_dir),
        document=document,
        action="revoke",
        reason="Issued in error",
        actor=Actor.operator(),
    )
    db.commit()
    changed = app_client.get(path, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag


def test_the_trust_bundle_answers_304_while_it_lists_the_same_issuers(
    app_client: TestClient,
) -> None:
    first = app_client.get("/trust-bundle")
    assert first.status_code == 200
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=300"
    assert app_client.get("/trust-bundle").headers["etag"] == tag
    not_modified = app_client.get("/trust-bundle", headers={"If-None-Match": tag})
    assert not_modified.status_code == 304
    assert app_client.get("/trust-bundle", headers={"If-None-Match": "*"}).status_code == 304
