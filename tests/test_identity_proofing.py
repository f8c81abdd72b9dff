"""A stranger who signs up with someone else's CNIC gets none of their documents.

Every SIM in Pakistan is registered to a CNIC: an account is proven when its number is
registered to its CNIC, or when an officer checks the person in person.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from darwaza.cli import main
from darwaza.settings import Settings
from tests.factories import create_document
from tests.journeys import (
    ClientFactory,
    forget_settings,
    latest_code,
    post_form,
    register_sim,
    sign_up,
    sms_messages,
)

VICTIM_CNIC = "35202-4445556-7"
VICTIM_MOBILE = "03214445556"
STRANGER_MOBILE = "03459998887"
CARD = {
    "full_name": "Nasreen Bibi",
    "father_name": "Karim Bux",
    "gender": "Female",
    "date_of_birth": "1985-05-05",
}


def wallet_ids(browser: TestClient) -> list[str]:
    return [d["id"] for d in browser.get("/api/v1/wallet/documents").json()]


def test_a_stranger_signing_up_with_someone_elses_cnic_sees_none_of_their_documents(
    make_client: ClientFactory, settings: Settings, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued_before = create_document(db, settings, holder_cnic=VICTIM_CNIC, claims=CARD)
    register_sim(settings, cnic=VICTIM_CNIC, mobile=VICTIM_MOBILE)  # the real holder's SIM

    stranger = make_client()
    signed_up = sign_up(
        stranger,
        settings,
        cnic=VICTIM_CNIC,
        full_name="Someone Else",
        mobile=STRANGER_MOBILE,
        sim_registered=False,
    )
    assert signed_up.status_code == 303  # an account, but not a proven one
    issued_after = create_document(db, settings, holder_cnic=VICTIM_CNIC, claims=CARD)

    wallet = stranger.get("/wallet")
    assert issued_before.id not in wallet.text and issued_after.id not in wallet.text
    assert "visit a NADRA Registration Centre" in wallet.text
    assert wallet_ids(stranger) == []
    assert stranger.get(f"/wallet/{issued_before.id}").status_code == 404
    assert stranger.get("/api/v1/auth/me").json()["identity_proven"] is False

    # The real holder cannot open a second account for the CNIC, not even with their own SIM.
    holder = make_client()
    asked = post_form(
        holder,
        "/sign-up",
        {"cnic": VICTIM_CNIC, "full_name": "Real Holder", "mobile": VICTIM_MOBILE},
    )
    assert asked.status_code == 303  # the same answer as ever, but no code is sent
    assert not [m for m in sms_messages(settings) if m["to"] == "+92" + VICTIM_MOBILE[1:]]
    assert post_form(holder, "/sign-in/code", {"code": "123456"}).status_code == 400

    # At a NADRA centre an officer checks the holder and records it; the stranger is out.
    monkeypatch.setenv("DARWAZA_ENV", "test")
    monkeypatch.setenv("DARWAZA_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DARWAZA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DARWAZA_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("DARWAZA_KEY_SEALING_SECRET", settings.key_sealing_secret)
    forget_settings()
    try:
        proved = CliRunner().invoke(
            main,
            [
                "identity",
                "prove",
                "--cnic",
                VICTIM_CNIC,
                "--mobile",
                VICTIM_MOBILE,
                "--confirm-identity-checked",
            ],
        )
    finally:
        forget_settings()
    assert proved.exit_code == 0, proved.output
    assert stranger.get("/api/v1/wallet/documents").status_code == 401

    holder = make_client()
    assert post_form(holder, "/sign-in", {"cnic": VICTIM_CNIC}).status_code == 303
    code = latest_code(settings, "+92" + VICTIM_MOBILE[1:])
    assert post_form(holder, "/sign-in/code", {"code": code}).status_code == 303
    assert sorted(wallet_ids(holder)) == sorted([issued_before.id, issued_after.id])
