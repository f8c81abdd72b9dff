"""Signed documents: the degree-attestation journey, revocation everywhere, and the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from darwaza.cli import main
from darwaza.crypto.keys import public_key_from_jwk
from darwaza.documents.formats.status_list import verify_status_list_token
from darwaza.settings import Settings
from darwaza.wallet.models import Share
from tests.journeys import (
    GOOD_ANSWERS,
    PDF_BYTES,
    ClientFactory,
    approved_degree,
    create_officer,
    csrf_of,
    forget_settings,
    latest_code,
    post_form,
    sign_in_officer,
    sign_up,
    start_degree_application,
)


def test_degree_attestation_from_approval_to_revocation(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen, officer, document = approved_degree(
        make_client, settings, db, "35202-3141592-6", "0312 3141592"
    )
    assert document.claims["university"] == "University of the Punjab, Lahore"

    wallet = citizen.get("/wallet")
    assert "Degree Attestation" in wallet.text and "Valid" in wallet.text
    page = citizen.get(f"/wallet/{document.id}")
    assert "<svg" in page.text and "Bachelor of Science (Honours)" in page.text
    assert citizen.get(f"/wallet/{document.id}/qr.png").content[:4] == b"\x89PNG"
    # Downloads carry names a person understands, and the PDF downloads.
    pdf = citizen.get(f"/wallet/{document.id}/document.pdf")
    assert re.fullmatch(
        r'attachment; filename="degree-attestation-\d{4}-\d{2}-\d{2}-[0-9a-f-]{6}\.pdf"',
        pdf.headers["content-disposition"],
    )

    # Share only name, degree and university, for a day.
    token = csrf_of(page)
    shared = citizen.post(
        f"/wallet/{document.id}/shares",
        data={
            "claims": ["full_name", "degree_title", "university"],
            "lifetime": "1d",
            "recipient": "Employer Ltd",
            "csrf_token": token,
        },
    )
    assert shared.status_code == 200
    link = re.search(r'value="(http://[^"]+/s/[^"]+)"', shared.text)
    assert link, shared.text
    share_path = link.group(1).replace("http://127.0.0.1:8000", "")

    employer = make_client()
    seen = employer.get(share_path)
    assert seen.status_code == 200
    assert "Valid" in seen.text and "Higher Education Commission" in seen.text
    assert "Fatima Khan" in seen.text and "Bachelor of Science (Honours)" in seen.text
    assert "14 March 1997" not in seen.text  # date of birth was not shared
    assert "3141592" not in seen.text  # nor the CNIC
    assert "Times opened: 1" in citizen.get(f"/wallet/{document.id}").text

    # HEC revokes it: the same link, the QR text and a photo of the QR now say Revoked.
    case = f"/console/documents/{document.id}"
    revoked = post_form(
        officer, f"{case}/revoke", {"reason": "Degree found to be forged"}, page=case
    )
    assert revoked.status_code == 303
    assert "Revoked" in employer.get(share_path).text
    answer = employer.post("/api/v1/verify", json={"credential": document.qr_text}).json()
    assert answer["verdict"] == "revoked"
    picture = citizen.get(f"/wallet/{document.id}/qr.png").content
    token = csrf_of(employer.get("/verify"))
    from_photo = employer.post(
        "/verify", data={"csrf_token": token}, files={"image": ("qr.png", picture, "image/png")}
    )
    assert from_photo.status_code == 200 and "Revoked" in from_photo.text
    full = employer.post("/api/v1/verify", json={"credential": document.sd_jwt}).json()
    assert full["verdict"] == "revoked"


def test_an_ended_share_is_gone_at_once(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen, _officer, document = approved_degree(
        make_client, settings, db, "35202-2718281-8", "0313 2718281"
    )
    page = citizen.get(f"/wallet/{document.id}")
    shared = citizen.post(
        f"/wallet/{document.id}/shares",
        data={"claims": ["full_name"], "lifetime": "1h", "csrf_token": csrf_of(page)},
    )
    share_path = re.search(r'value="http://[^"]+(/s/[^"]+)"', shared.text).group(1)  # type: ignore[union-attr]
    assert make_client().get(share_path).status_code == 200
    db.commit()  # a fresh snapshot: see what the application wrote
    share = db.scalar(select(Share).where(Share.document_id == document.id))
    assert share is not None
    ended = post_form(citizen, f"/wallet/shares/{share.id}/end", {}, page=f"/wallet/{document.id}")
    assert ended.status_code == 303
    assert make_client().get(share_path).status_code == 404
    nothing_chosen = citizen.post(
        f"/wallet/{document.id}/shares", data={"lifetime": "1d", "csrf_token": csrf_of(page)}
    )
    assert nothing_chosen.status_code == 422
    assert "Choose at least one thing to share." in nothing_chosen.text


def test_another_citizen_cannot_open_a_wallet_document(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    _citizen, _officer, document = approved_degree(
        make_client, settings, db, "35202-1618033-9", "0314 1618033"
    )
    stranger = make_client()
    sign_up(
        stranger, settings, cnic="35202-1414213-5", full_name="Someone Else", mobile="0315 1414213"
    )
    for suffix in ("", "/qr.png", "/document.sd-jwt"):
        assert stranger.get(f"/wallet/{document.id}{suffix}").status_code == 404


def test_issuer_metadata_and_status_lists_are_published(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    _citizen, _officer, document = approved_degree(
        make_client, settings, db, "35202-5772156-6", "0316 5772156"
    )
    public = make_client()
    metadata = public.get("/.well-known/jwt-vc-issuer/agencies/hec").json()
    assert metadata["issuer"] == "http://127.0.0.1:8000/agencies/hec"
    keys = metadata["jwks"]["keys"]
    assert [k["kid"] for k in keys] == [document.kid]
    uri = f"http://127.0.0.1:8000/status-lists/{document.status_list_id}"
    response = public.get(f"/status-lists/{document.status_list_id}")
    assert response.headers["content-type"].startswith("application/statuslist+jwt")
    assert "max-age" in response.headers["cache-control"]
    keys_by_kid = {k["kid"]: public_key_from_jwk(k) for k in keys}
    from darwaza.clock import utcnow

    verified = verify_status_list_token(
        response.text, expected_uri=uri, public_key_for_kid=keys_by_kid.get, now=utcnow()
    )
    assert verified.status_at(document.status_index) == 0
    assert public.get("/trust-bundle").headers["content-type"].startswith("application/jwt")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI pointed at the test database and data directory."""
    monkeypatch.setenv("DARWAZA_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DARWAZA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DARWAZA_BASE_URL", settings.base_url)
    monkeypatch.setenv("DARWAZA_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("DARWAZA_KEY_SEALING_SECRET", settings.key_sealing_secret)
    forget_settings()
    yield CliRunner()
    forget_settings()


def test_cli_issues_checks_offline_rotates_and_revokes(
    cli_env: CliRunner, app_client: TestClient, tmp_path: Path
) -> None:
    claims = json.dumps(
        {
            "full_name": "Kamran Iqbal",
            "degree_title": "BSc",
            "university": "NUST",
            "programme": "Electrical Engineering",
            "year_of_completion": 2020,
        }
    )
    issued = cli_env.invoke(
        main,
        [
            "documents",
            "issue",
            "--agency",
            "hec",
            "--type",
            "hec-degree-attestation",
            "--cnic",
            "61101-2345678-1",
            "--claims",
            claims,
            "--json",
        ],
    )
    assert issued.exit_code == 0, issued.output
    document = json.loads(issued.output)
    assert {"id", "sd_jwt", "qr"} <= set(document)
    assert document["qr"].startswith("DZ1:")

    bundle = tmp_path / "trust.json"
    saved = cli_env.invoke(main, ["trust-bundle", "save", str(bundle)])
    assert saved.exit_code == 0, saved.output
    root = saved.output.split("DARWAZA_TRUST_ROOT): ")[1].strip()
    assert json.loads(bundle.read_text())["root_thumbprint"] == root
    offline = ["verify", "--json", "--offline", "--trust-bundle", str(bundle)]
    pinned = cli_env.invoke(main, [*offline, "--root-key", root, document["qr"]])
    assert pinned.exit_code == 0 and json.loads(pinned.output)["verdict"] == "valid"
    wrong_root = cli_env.invoke(main, [*offline, "--root-key", "A" * 43, document["qr"]])
    assert wrong_root.exit_code == 1
    assert json.loads(wrong_root.output)["verdict"] == "unknown_issuer"
    not_a_thumbprint = cli_env.invoke(main, [*offline, "--root-key", "3kq0Jd8x2Rk", document["qr"]])
    assert not_a_thumbprint.exit_code == 2
    for credential in (document["qr"], document["sd_jwt"]):
        checked = cli_env.invoke(main, [*offline, "--root-key", root, credential])
        assert checked.exit_code == 0, checked.output
        verdict = json.loads(checked.output)
        assert verdict["verdict"] == "valid"
        assert verdict["issuer_name"] == "Higher Education Commission"
    offline.extend(["--root-key", root])

    rotated = cli_env.invoke(main, ["keys", "rotate", "--agency", "hec"])
    assert rotated.exit_code == 0, rotated.output
    jwks = app_client.get("/agencies/hec/jwks.json").json()["keys"]
    assert len(jwks) == 2  # the retired key stays published while its document lives
    after_rotation = app_client.post("/api/v1/verify", json={"credential": document["qr"]})
    assert after_rotation.json()["verdict"] == "valid"

    revoked = cli_env.invoke(main, ["documents", "revoke", document["id"], "--reason", "Error"])
    assert revoked.exit_code == 0, revoked.output
    # The old bundle still says valid (a checkpoint sees revocation after its next sync) ...
    stale = cli_env.invoke(main, [*offline, document["qr"]])
    assert json.loads(stale.output)["verdict"] == "valid"
    # ... and after syncing again it says revoked.
    cli_env.invoke(main, ["trust-bundle", "save", str(bundle)])
    fresh = cli_env.invoke(main, [*offline, document["qr"]])
    assert fresh.exit_code == 1 and json.loads(fresh.output)["verdict"] == "revoked"
    forged = document["qr"][:-3] + ("A" if document["qr"][-3] != "A" else "B") + document["qr"][-2:]
    checked = cli_env.invoke(main, [*offline, forged])
    assert json.loads(checked.output)["verdict"] != "valid"


def qr_text_on_pdf(pdf: bytes) -> str:
    """Print the PDF (render its page) and read the QR code off the picture."""
    import pypdfium2
    import zxingcpp

    document = pypdfium2.PdfDocument(pdf)
    try:
        picture = document[0].render(scale=2).to_pil()
    finally:
        document.close()
    found = zxingcpp.read_barcodes(picture)
    assert found, "no QR code on the printed page"
    return str(found[0].text)


def test_printed_pdf_in_both_languages_carries_a_qr_that_follows_revocation(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    citizen, officer, document = approved_degree(
        make_client, settings, db, "35202-6931471-8", "0317 6931471"
    )
    english = citizen.get(f"/wallet/{document.id}/document.pdf")
    assert english.status_code == 200 and english.content.startswith(b"%PDF")
    post_form(citizen, "/language", {"language": "ur", "next": "/"}, page="/")
    urdu = citizen.get(f"/wallet/{document.id}/document.pdf")
    assert urdu.content.startswith(b"%PDF") and urdu.content != english.content
    assert b"NotoNastaliqUrdu" in urdu.content  # the Urdu page is set in Nastaliq

    printed = qr_text_on_pdf(urdu.content)
    assert printed == document.qr_text
    verifier = make_client()
    assert verifier.post("/api/v1/verify", json={"credential": printed}).json()["verdict"] == (
        "valid"
    )
    case = f"/console/documents/{document.id}"
    post_form(officer, f"{case}/suspend", {"reason": "Under investigation"}, page=case)
    assert verifier.post("/api/v1/verify", json={"credential": printed}).json()["verdict"] == (
        "suspended"
    )
    post_form(officer, f"{case}/revoke", {"reason": "Confirmed forged"}, page=case)
    assert verifier.post("/api/v1/verify", json={"credential": printed}).json()["verdict"] == (
        "revoked"
    )


def test_the_wallet_and_sharing_work_through_the_api(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    _citizen, _officer, document = approved_degree(
        make_client, settings, db, "35202-8642097-5", "0318 8642097"
    )
    api = make_client()
    challenge = api.post("/api/v1/auth/sign-in", json={"cnic": "35202-8642097-5"}).json()

    session = api.post(
        "/api/v1/auth/confirm",
        json={
            "challenge_token": challenge["challenge_token"],
            "code": latest_code(settings, "+923188642097"),
        },
    ).json()
    bearer = {"Authorization": f"Bearer {session['session_token']}"}
    held = api.get("/api/v1/wallet/documents", headers=bearer).json()
    # The degree and the e-receipt for its fee.
    assert document.id in [d["id"] for d in held]
    assert sorted(d["document_type"] for d in held) == [
        "darwaza-payment-receipt",
        "hec-degree-attestation",
    ]
    created = api.post(
        f"/api/v1/wallet/documents/{document.id}/shares",
        headers=bearer,
        json={"claims": ["full_name", "university"], "lifetime": "7d"},
    )
    assert created.status_code == 201
    url = created.json()["url"]
    token = url.rsplit("/s/", 1)[1]
    presentation = make_client().get(f"/api/v1/shares/{token}").json()["presentation"]
    checked = make_client().post("/api/v1/verify", json={"credential": presentation}).json()
    assert checked["verdict"] == "valid"
    # The chosen personal claims, plus what the issuer never made personal; nothing else.
    assert {"full_name", "university"} <= set(checked["claims"])
    assert not {"cnic", "degree_title", "programme"} & set(checked["claims"])
    shares = api.get(f"/api/v1/wallet/documents/{document.id}/shares", headers=bearer).json()
    assert len(shares[0]["openings"]) == 1
    ended = api.post(f"/api/v1/wallet/shares/{shares[0]['id']}/end", headers=bearer)
    assert ended.status_code == 204
    assert make_client().get(f"/api/v1/shares/{token}").status_code == 404
    bad = api.post(
        f"/api/v1/wallet/documents/{document.id}/shares",
        headers=bearer,
        json={"claims": ["full_name"], "lifetime": "90d"},
    )
    assert bad.status_code == 422 and "lifetime" in bad.json()["error"]["fields"]


def test_the_identity_card_in_the_wallet_is_attached_without_an_upload(
    make_client: ClientFactory, settings: Settings, db: Session
) -> None:
    from darwaza.audit.actors import Actor
    from darwaza.catalogue import load_catalogue
    from darwaza.documents.service import issue_document

    citizen = make_client()
    sign_up(citizen, settings, cnic="35202-1928374-6", full_name="Once Only", mobile="0319 1928374")
    db.commit()
    card = issue_document(
        db,
        settings=settings,
        catalogue=load_catalogue(settings.catalogue_dir),
        agency_id="nadra",
        document_type_id="nadra-identity-card",
        holder_cnic="3520219283746",
        given_claims={"father_name": "Akbar", "gender": "F", "date_of_birth": "1990-01-01"},
        actor=Actor.operator(),
    )
    db.commit()
    application_id = start_degree_application(citizen)
    page = f"/applications/{application_id}"
    draft = citizen.get(page)
    assert f'value="{card.id}"' in draft.text  # offered from the wallet

    response = citizen.post(
        page,
        data={
            **GOOD_ANSWERS,
            "wallet:identity_card": card.id,
            "action": "submit",
            "csrf_token": csrf_of(draft),
        },
        files={
            "file:degree": ("degree.pdf", PDF_BYTES, "application/pdf"),
            "file:transcript": ("t.pdf", PDF_BYTES, "application/pdf"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "From your wallet:" in citizen.get(page).text
    officer_row = create_officer(db, username="hec.wallet", agency_id="hec", mobile="03009990066")
    officer = make_client()
    sign_in_officer(officer, settings, officer_row, "officer-pass-123")
    case = officer.get(f"/console/applications/{application_id}").text
    assert "From the applicant&#39;s wallet:" in case and "Valid" in case
