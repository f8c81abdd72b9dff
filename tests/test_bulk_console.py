"""Bulk issuance through the officer console and the API: upload, report, four eyes,
progress with and without JavaScript, the CSV report, and status changes by batch."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from darwaza.audit.actors import Actor
from darwaza.background_work import job_registry
from darwaza.documents.models import Document, DocumentStatus
from darwaza.identity.tokens import create_api_token
from darwaza.jobs.worker import run_due_jobs
from darwaza.settings import Settings
from tests.bulk import graduate, graduates_csv, register_csv
from tests.journeys import ClientFactory, csrf_of, staff_browser


def _run_worker(settings: Settings) -> None:
    registry = job_registry(settings)
    while run_due_jobs(settings, registry, limit=50):
        pass


def test_an_officer_uploads_another_approves_and_the_page_follows_progress(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    uploader = staff_browser(
        make_client, settings, db, username="hec.uploader", role="officer", agency_id="hec"
    )
    approver = staff_browser(
        make_client, settings, db, username="hec.approver", role="agency_admin", agency_id="hec"
    )
    page = uploader.get("/console/batches")
    assert page.status_code == 200
    rows = [graduate(n) for n in range(1, 4)] + [["1234", "X", "BS", "CS", "PU", "2024"]]
    response = uploader.post(
        "/console/batches",
        data={"document_type": "hec-degree-attestation", "csrf_token": csrf_of(page)},
        files={"register": ("graduates.csv", register_csv(rows), "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    batch_url = response.headers["location"]
    batch_id = batch_url.rsplit("/", 1)[1]

    # The worker checks the register; until then the page says so and asks again.
    checking = uploader.get(batch_url)
    assert "Uploaded, being checked" in checking.text
    assert f'hx-get="{batch_url}/progress?shown=uploaded"' in checking.text
    assert '<noscript><meta http-equiv="refresh"' in checking.text
    assert f"{batch_url}/approve" not in checking.text
    still = uploader.get(f"{batch_url}/progress?shown=uploaded")
    assert still.status_code == 200 and "HX-Refresh" not in still.headers
    _run_worker(settings)
    ended = uploader.get(f"{batch_url}/progress?shown=uploaded")
    assert ended.headers.get("HX-Refresh") == "true", "the page is drawn again with the report"

    own = uploader.get(batch_url)
    assert "another officer of the agency must approve it" in own.text
    assert "Graduate 1" in own.text and "Enter a valid CNIC" in own.text
    assert f"{batch_url}/approve" not in own.text
    refused = uploader.post(
        f"{batch_url}/approve", data={"csrf_token": csrf_of(own)}, follow_redirects=False
    )
    assert refused.status_code == 403
    report = uploader.get(f"{batch_url}/report.csv")
    assert report.status_code == 200 and report.text.startswith("row,column,message_en,message_ur")

    page = approver.get(batch_url)
    approved = approver.post(
        f"{batch_url}/approve", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert approved.status_code == 303
    running = approver.get(batch_url)
    assert 'hx-get="/console/batches/' in running.text  # htmx polls the progress
    assert '<noscript><meta http-equiv="refresh"' in running.text  # and without JavaScript
    _run_worker(settings)
    fragment = approver.get(f"{batch_url}/progress")
    assert 'id="count-issued">3<' in fragment.text
    assert "hx-get" not in fragment.text, "polling stops when the batch is done"
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Document)) == 3

    page = approver.get(batch_url)
    revoked = approver.post(
        f"{batch_url}/documents/revoke",
        data={"csrf_token": csrf_of(page), "reason": "Register withdrawn by the university"},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    db.rollback()
    assert set(db.scalars(select(Document.status))) == {DocumentStatus.REVOKED}

    # Another agency's officer sees nothing of it.
    db.commit()  # end the read snapshot before this session writes
    nadra = staff_browser(
        make_client, settings, db, username="nadra.looker", role="officer", agency_id="nadra"
    )
    assert nadra.get(batch_url).status_code == 404
    assert nadra.get(f"/api/v1/batches/{batch_id}").status_code == 404


def test_an_agency_system_uploads_by_api_and_reads_progress(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    token = create_api_token(
        db,
        agency_id="hec",
        name="University registry",
        scopes=["documents:issue"],
        lifetime=timedelta(days=1),
        actor=Actor.operator(),
    )
    db.commit()
    client = make_client()
    headers = {"Authorization": f"Bearer {token.secret}"}
    response = client.post(
        "/api/v1/batches",
        headers=headers,
        data={"document_type": "hec-degree-attestation", "mapping": '{"Student": "full_name"}'},
        files={
            "register": (
                "g.csv",
                graduates_csv(2).replace(b"full_name", b"Student"),
                "text/csv",
            )
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "uploaded"  # the worker checks it
    _run_worker(settings)
    body = client.get(f"/api/v1/batches/{body['id']}", headers=headers).json()
    assert body["state"] == "checked" and body["progress"]["valid"] == 2
    again = client.post(
        "/api/v1/batches",
        headers=headers,
        data={"document_type": "hec-degree-attestation", "mapping": '{"Student": "full_name"}'},
        files={
            "register": ("g.csv", graduates_csv(2).replace(b"full_name", b"Student"), "text/csv")
        },
    )
    assert again.json()["id"] == body["id"], "the same file is recognised"
    refused = client.post(f"/api/v1/batches/{body['id']}/approve", headers=headers)
    assert refused.status_code == 403
    read = client.get(f"/api/v1/batches/{body['id']}", headers=headers)
    assert read.status_code == 200 and read.json()["progress"]["left"] == 2

    officer = staff_browser(
        make_client, settings, db, username="hec.api.approver", role="officer", agency_id="hec"
    )
    token_match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', officer.get("/").text)
    assert token_match
    approved = officer.post(
        f"/api/v1/batches/{body['id']}/approve", headers={"X-CSRF-Token": token_match.group(1)}
    )
    assert approved.status_code == 200, approved.text
    _run_worker(settings)
    done = client.get(f"/api/v1/batches/{body['id']}", headers=headers).json()
    assert done["state"] == "done" and done["progress"]["issued"] == 2
    assert done["merkle_root"]

    not_a_register = client.post(
        "/api/v1/batches",
        headers=headers,
        data={"document_type": "hec-degree-attestation"},
        files={"register": ("x.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")},
    )
    assert not_a_register.status_code == 422
    assert not_a_register.json()["error"]["code"] == "register_refused"
