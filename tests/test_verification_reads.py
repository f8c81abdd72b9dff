"""A document checked as text takes no write lock: checks never queue behind a writer."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from darwaza.settings import Settings
from tests.factories import create_document

DEGREE_CLAIMS = {
    "full_name": "Sana Mir",
    "degree_title": "BSc",
    "university": "NUST",
    "programme": "Civil Engineering",
    "year_of_completion": 2021,
}


def test_a_qr_is_checked_while_another_transaction_holds_the_write_lock(
    app_client: TestClient, settings: Settings, db: Session
) -> None:
    url = settings.resolved_database_url
    if not url.startswith("sqlite:///"):
        pytest.skip("the write lock is SQLite's")
    document = create_document(
        db,
        settings,
        holder_cnic="3520255555551",
        agency_id="hec",
        document_type="hec-degree-attestation",
        claims=DEGREE_CLAIMS,
    )
    # Warm the key cache and the first request's work outside the lock.
    assert (
        app_client.post("/api/v1/verify", json={"credential": document.qr_text}).json()["verdict"]
        == "valid"
    )
    writer = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=1, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        answer = app_client.post("/api/v1/verify", json={"credential": document.qr_text})
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert answer.status_code == 200
    assert answer.json()["verdict"] == "valid"
    assert answer.json()["status_checked"] is True
