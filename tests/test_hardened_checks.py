"""Issue 8, finding 10: the smaller holes, each attacked through the running app or the CLI.

A disclosure posing as ``exp`` or ``status``, a holder proof replayed to another verifier,
a sealed key moved to another agency's row, and machine endpoints answering errors as
HTML instead of the JSON their OpenAPI promises.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.agencies.keys import signing_key_for
from darwaza.agencies.models import SigningKeyRecord
from darwaza.app import create_app
from darwaza.audit.actors import Actor
from darwaza.audit.models import AuditEvent
from darwaza.catalogue import load_catalogue
from darwaza.cli import main
from darwaza.clock import numeric_date, utcnow
from darwaza.crypto.jws import compact_json, sign_compact_jws
from darwaza.crypto.keys import SigningKey, b64url_encode, generate_signing_key, public_jwk
from darwaza.documents.formats.sd_jwt import (
    disclosure_digest,
    issue_sd_jwt,
    parse_sd_jwt,
    present_sd_jwt,
)
from darwaza.documents.models import Document
from darwaza.documents.service import change_document_status
from darwaza.settings import Settings
from tests.factories import create_document
from tests.journeys import forget_settings

DEGREE_CLAIMS = {
    "full_name": "Hina Baloch",
    "degree_title": "MSc",
    "university": "University of Balochistan",
    "programme": "Geology",
    "year_of_completion": 2019,
}


def _degree(db: Session, settings: Settings, cnic: str = "5440012345671") -> Document:
    return create_document(
        db,
        settings,
        holder_cnic=cnic,
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )


def _with_disclosure(document: Document, key: SigningKey, name: str, value: Any) -> str:
    """The issuer-signed part re-signed with one more digest, of a disclosure named ``name``."""
    parsed = parse_sd_jwt(document.sd_jwt)
    disclosure = b64url_encode(compact_json([b64url_encode(secrets.token_bytes(16)), name, value]))
    payload = dict(parsed.payload)
    if name == "status":  # the plain reference gives way to the disclosed one
        del payload["status"]
    payload["_sd"] = sorted([*payload["_sd"], disclosure_digest(disclosure)])
    jws = sign_compact_jws(parsed.header, payload, key)
    return "~".join([jws, *(d.encoded for d in parsed.disclosures), disclosure, ""])


def test_a_disclosure_posing_as_exp_or_status_is_refused(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    revoked = _degree(db, settings)
    valid = _degree(db, settings, cnic="5440012345672")
    change_document_status(
        db,
        settings=settings,
        catalogue=load_catalogue(settings.catalogue_dir),
        document=revoked,
        action="revoke",
        reason="Forged degree",
        actor=Actor.operator(),
    )
    db.commit()
    hec = signing_key_for(db, settings=settings, agency_id="hec").private_key
    db.commit()
    forged_status = {
        "status_list": {"idx": valid.status_index, "uri": _status_uri(settings, valid)}
    }
    far_future = numeric_date(utcnow() + timedelta(days=3650))
    for name, value in (("status", forged_status), ("exp", far_future), ("iss", "x"), ("vct", "x")):
        text = _with_disclosure(revoked, hec, name, value)
        answer = app_client.post("/api/v1/verify", json={"credential": text}).json()
        assert answer["verdict"] == "malformed", (name, answer)
        assert answer["reasons"] == ["A disclosure uses a reserved claim name."]
    answer = app_client.post("/api/v1/verify", json={"credential": revoked.sd_jwt}).json()
    assert answer["verdict"] == "revoked"


def _status_uri(settings: Settings, document: Document) -> str:
    return f"{settings.base_url}/status-lists/{document.status_list_id}"


def test_a_holder_proof_replayed_to_the_platform_is_refused(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    document = _degree(db, settings)
    hec = signing_key_for(db, settings=settings, agency_id="hec")
    db.commit()
    holder = generate_signing_key()
    vct = load_catalogue(settings.catalogue_dir).document_type("hec-degree-attestation").vct
    bound = issue_sd_jwt(
        private_key=hec.private_key,
        kid=hec.kid,
        issuer=f"{settings.base_url}/agencies/hec",
        vct=vct,
        claims={"full_name": "Hina Baloch", "university": "University of Balochistan"},
        disclosable=["full_name"],
        status_uri=_status_uri(settings, document),
        status_index=document.status_index,
        issued_at=utcnow(),
        expires_at=None,
        holder_jwk=public_jwk(holder.public_key(), "holder"),
    )
    # A presentation the holder made for an employer, seen and replayed by someone else.
    replayed = present_sd_jwt(
        bound,
        ["full_name"],
        holder_private_key=holder,
        nonce="employer-nonce",
        audience="https://employer.example.pk",
    )
    answer = app_client.post("/api/v1/verify", json={"credential": replayed}).json()
    assert answer["verdict"] == "malformed"
    assert "fresh proof" in answer["reasons"][0]
    assert answer["claims"] == {}


def _legacy_blob(private_key: SigningKey, sealing_secret: str) -> bytes:
    """A key sealed as the first version did (``DZK1``: the prefix alone as associated data)."""
    salt, nonce = os.urandom(16), os.urandom(12)
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"darwaza signing key sealing v1"
    ).derive(sealing_secret.encode())
    der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return b"DZK1" + salt + nonce + AESGCM(key).encrypt(nonce, der, b"DZK1")


def _row(db: Session, agency_id: str) -> SigningKeyRecord:
    return db.scalars(select(SigningKeyRecord).where(SigningKeyRecord.agency_id == agency_id)).one()


def test_a_sealed_key_moved_to_another_agency_does_not_open(
    settings: Settings, db: Session
) -> None:
    client = TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", raise_server_exceptions=False
    )
    with client:
        for agency in ("hec", "nadra"):
            assert client.get(f"/.well-known/jwt-vc-issuer/agencies/{agency}").status_code == 200
        hec, nadra = _row(db, "hec"), _row(db, "nadra")
        assert hec.sealed_private_key.startswith(b"DZK2")
        hec_private_key = signing_key_for(db, settings=settings, agency_id="hec").private_key
        # Someone with write access to the table copies HEC's sealed key into NADRA's row,
        # hoping NADRA's documents get signed with a key they know or can swap later.
        nadra.sealed_private_key = hec.sealed_private_key
        db.commit()
        assert client.get("/.well-known/jwt-vc-issuer/agencies/nadra").status_code == 500
        # A key sealed before the binding existed still opens, in its own row only.
        hec.sealed_private_key = _legacy_blob(hec_private_key, settings.key_sealing_secret)
        nadra.sealed_private_key = hec.sealed_private_key
        db.commit()
        assert client.get("/.well-known/jwt-vc-issuer/agencies/hec").status_code == 200
        assert client.get("/.well-known/jwt-vc-issuer/agencies/nadra").status_code == 500
        document = _degree(db, settings)
        answer = client.post("/api/v1/verify", json={"credential": document.qr_text}).json()
        assert answer["verdict"] == "valid"


def test_keys_sealed_the_old_way_are_resealed_bound_to_their_row(
    app_client: TestClient, settings: Settings, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app_client.get("/.well-known/jwt-vc-issuer/agencies/hec").status_code == 200
    hec = _row(db, "hec")
    private_key = signing_key_for(db, settings=settings, agency_id="hec").private_key
    hec.sealed_private_key = _legacy_blob(private_key, settings.key_sealing_secret)
    db.commit()
    for name, value in (
        ("DATABASE_URL", settings.resolved_database_url),
        ("DATA_DIR", str(settings.data_dir)),
        ("BASE_URL", settings.base_url),
        ("SECRET_KEY", settings.secret_key),
        ("KEY_SEALING_SECRET", settings.key_sealing_secret),
    ):
        monkeypatch.setenv(f"DARWAZA_{name}", value)
    forget_settings()
    try:
        resealed = CliRunner().invoke(main, ["keys", "reseal"])
        again = CliRunner().invoke(main, ["keys", "reseal"])
    finally:
        forget_settings()
    assert resealed.exit_code == 0, resealed.output
    assert resealed.output.startswith("Resealed 1 keys")
    assert again.output.startswith("Resealed 0 keys")
    db.expire_all()
    assert _row(db, "hec").sealed_private_key.startswith(b"DZK2")
    opened = signing_key_for(db, settings=settings, agency_id="hec").private_key
    assert opened.private_numbers() == private_key.private_numbers()
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "key.resealed")).all()
    assert [event.object_id for event in events] == [hec.kid]


@pytest.mark.parametrize(
    "path",
    [
        "/status-lists/no-such-list",
        "/agencies/no-such-agency/jwks.json",
        "/.well-known/jwt-vc-issuer/agencies/no-such-agency",
        "/.well-known/no-such-thing",
    ],
)
def test_machine_endpoints_answer_a_missing_resource_with_json(
    app_client: TestClient, path: str
) -> None:
    answer = app_client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "not_found"


def test_the_openapi_promises_json_errors_for_the_files_verifiers_fetch(
    app_client: TestClient,
) -> None:
    paths = app_client.get("/openapi.json").json()["paths"]
    for path in (
        "/status-lists/{status_list_id}",
        "/agencies/{agency_id}/jwks.json",
        "/.well-known/jwt-vc-issuer/agencies/{agency_id}",
    ):
        assert "application/json" in paths[path]["get"]["responses"]["404"]["content"]
